"""Personal-data rights (UU PDP 27/2022): deletion requests and what a deletion leaves behind.

A request comes from the participant or the upstream system, a supervisor approves (the deletion
is carried out at once) or refuses it with a reason, within ``DELETION_PERIOD`` of the request.
Deleted: photos, call recordings, snapshots, assist readings (KTP text, face scores), contact
details. Kept, because the verification's outcome must be provable: the record's identity (NIK,
name, birth date), its states and history, the decisions and reviews. Pure: time passed in.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from videocall.errors import Conflict, ValidationError
from videocall.records import DomainEvent, HistoryEntry, Record

# UU PDP art. 43 asks for deletion without delay; 3 x 24 hours, as for access requests.
DELETION_PERIOD = timedelta(hours=72)
DELETED_ACTION = "personal_data_deleted"
REQUESTED_ACTION = "deletion_requested"
REFUSED_ACTION = "deletion_refused"
EXPORTED_ACTION = "personal_data_exported"
DELETED_EVENT = "record.personal_data_deleted"
# A legal hold (a claim, a dispute, an investigation) keeps the record's evidence: while it is
# placed, a deletion request cannot be carried out (it waits, or is refused with the hold's reason).
HOLD_PLACED = "legal_hold_placed"
HOLD_RELEASED = "legal_hold_released"
MAX_REASON = 200


class DeletionStatus(StrEnum):
    PENDING = "pending"
    REFUSED = "refused"
    DONE = "done"


def due_at(requested_at: datetime) -> datetime:
    return requested_at + DELETION_PERIOD


def is_overdue(status: DeletionStatus, requested_at: datetime, now: datetime) -> bool:
    return status is DeletionStatus.PENDING and now > due_at(requested_at)


def clean_reason(
    reason: Any, *, required: bool, code: str = "deletion_reason_required"
) -> str | None:
    """A free-text reason, trimmed; required for a refusal or a legal hold (``code``)."""
    text = reason.strip() if isinstance(reason, str) else ""
    if len(text) > MAX_REASON:
        raise ValidationError("the reason is too long", code="reason_too_long", field="reason")
    if required and not text:
        raise ValidationError("a reason is required", code=code, field="reason")
    return text or None


def legal_hold(history: Sequence[HistoryEntry]) -> HistoryEntry | None:
    """The entry that placed the record's current legal hold, or None when there is none."""
    for entry in reversed(history):
        if entry.action == HOLD_PLACED:
            return entry
        if entry.action == HOLD_RELEASED:
            return None
    return None


def change_hold(record: Record, *, place: bool, actor: str, reason: str, now: datetime) -> None:
    """Place or release the record's legal hold (Conflict when it is already so)."""
    held = legal_hold(record.history) is not None
    if place and held:
        raise Conflict("the record is under a legal hold already", code="legal_hold_exists")
    if not place and not held:
        raise Conflict("the record is not under a legal hold", code="legal_hold_none")
    record.note(HOLD_PLACED if place else HOLD_RELEASED, actor=actor, now=now, reason=reason)


def check_not_held(record: Record) -> None:
    if legal_hold(record.history) is not None:
        raise Conflict(
            "the record is under a legal hold: release it or refuse the request",
            code="deletion_legal_hold",
        )


def check_pending(status: DeletionStatus) -> None:
    """Only a pending request may be approved or refused (once)."""
    if status is not DeletionStatus.PENDING:
        raise Conflict(f"the request is {status.value} already", code="deletion_request_closed")


def reduce_record(
    record: Record, *, actor: str, now: datetime, request_id: str, deleted: dict[str, int]
) -> None:
    """Drop the record's contact details and documents; audit it and announce it upstream."""
    record.mobile = ""
    record.email = ""
    record.documents.clear()
    detail = {"request_id": request_id, "deleted": deleted}
    record.note(DELETED_ACTION, actor=actor, now=now, detail=detail)
    record.pending_events.append(
        DomainEvent(
            str(uuid.uuid4()),
            DELETED_EVENT,
            record.id,
            now,
            {"reference": record.reference, "request_id": request_id, "deleted": deleted},
        )
    )
