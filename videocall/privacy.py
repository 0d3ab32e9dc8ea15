"""Personal-data rights (UU PDP 27/2022): deletion requests and what a deletion leaves behind.

A request comes from the participant or the upstream system, a supervisor approves (the deletion
is carried out at once) or refuses it with a reason, within ``DELETION_PERIOD`` of the request.
Deleted: photos, call recordings, snapshots, assist readings (KTP text, face scores), contact
details. Kept, because the verification's outcome must be provable: the record's identity (NIK,
name, birth date), its states and history, the decisions and reviews. Pure: time passed in.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from videocall.errors import Conflict, ValidationError
from videocall.records import DomainEvent, Record

# UU PDP art. 43 asks for deletion without delay; 3 x 24 hours, as for access requests.
DELETION_PERIOD = timedelta(hours=72)
DELETED_ACTION = "personal_data_deleted"
REQUESTED_ACTION = "deletion_requested"
REFUSED_ACTION = "deletion_refused"
EXPORTED_ACTION = "personal_data_exported"
DELETED_EVENT = "record.personal_data_deleted"
MAX_REASON = 200


class DeletionStatus(StrEnum):
    PENDING = "pending"
    REFUSED = "refused"
    DONE = "done"


def due_at(requested_at: datetime) -> datetime:
    return requested_at + DELETION_PERIOD


def is_overdue(status: DeletionStatus, requested_at: datetime, now: datetime) -> bool:
    return status is DeletionStatus.PENDING and now > due_at(requested_at)


def clean_reason(reason: Any, *, required: bool) -> str | None:
    """A free-text reason, trimmed; required for a refusal."""
    text = reason.strip() if isinstance(reason, str) else ""
    if len(text) > MAX_REASON:
        raise ValidationError("the reason is too long", code="reason_too_long", field="reason")
    if required and not text:
        raise ValidationError(
            "say why the request is refused", code="deletion_reason_required", field="reason"
        )
    return text or None


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
