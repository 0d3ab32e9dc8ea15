"""The verification record and its lifecycle, as a state machine with an audit history.

    registered -> profile_complete -> documents_uploaded -> ready_for_call (consent given)
      -> in_call -> under_review -> active
    outcomes: rejected, retry_required (-> ready_for_call again)

Every change is appended to the record's history (time, actor, from, to, reason) and, for state
changes, produces an outbox event (``record.<new state>``) that the repository stores in the
same transaction as the change.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from videocall.errors import InvalidTransition, ValidationError
from videocall.nik import NikInfo, Sex
from videocall.reference import new_reference


class RecordState(StrEnum):
    REGISTERED = "registered"
    PROFILE_COMPLETE = "profile_complete"
    DOCUMENTS_UPLOADED = "documents_uploaded"
    READY_FOR_CALL = "ready_for_call"
    IN_CALL = "in_call"
    UNDER_REVIEW = "under_review"
    ACTIVE = "active"
    REJECTED = "rejected"
    RETRY_REQUIRED = "retry_required"


S = RecordState
TRANSITIONS: dict[RecordState, frozenset[RecordState]] = {
    S.REGISTERED: frozenset({S.PROFILE_COMPLETE}),
    S.PROFILE_COMPLETE: frozenset({S.DOCUMENTS_UPLOADED}),
    S.DOCUMENTS_UPLOADED: frozenset({S.READY_FOR_CALL}),
    S.READY_FOR_CALL: frozenset({S.IN_CALL}),
    # in_call -> ready_for_call: the call was interrupted before a decision.
    S.IN_CALL: frozenset({S.UNDER_REVIEW, S.REJECTED, S.RETRY_REQUIRED, S.READY_FOR_CALL}),
    S.UNDER_REVIEW: frozenset({S.ACTIVE, S.REJECTED, S.RETRY_REQUIRED}),
    S.RETRY_REQUIRED: frozenset({S.READY_FOR_CALL}),
    S.ACTIVE: frozenset(),
    S.REJECTED: frozenset(),
}
# A rejected record no longer holds its NIK: the person may register again.
LIVE_STATES = frozenset(s for s in RecordState if s is not S.REJECTED)
# Where a participant may still edit the profile or (re-)upload documents.
PROFILE_EDITABLE = frozenset({S.REGISTERED, S.PROFILE_COMPLETE, S.DOCUMENTS_UPLOADED})
DOCUMENTS_EDITABLE = frozenset({S.PROFILE_COMPLETE, S.DOCUMENTS_UPLOADED, S.RETRY_REQUIRED})


class DocumentKind(StrEnum):
    KTP = "ktp"
    SELFIE_WITH_KTP = "selfie_with_ktp"
    FACE = "face"


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    at: datetime
    actor: str
    action: str
    from_state: RecordState | None
    to_state: RecordState | None
    reason: str | None = None
    detail: dict[str, Any] | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "at": self.at.isoformat(),
            "actor": self.actor,
            "action": self.action,
            "from": self.from_state.value if self.from_state else None,
            "to": self.to_state.value if self.to_state else None,
            "reason": self.reason,
            "detail": self.detail or {},
        }


@dataclass(frozen=True, slots=True)
class DomainEvent:
    """An event for the upstream system, stored in the outbox with the change that made it."""

    id: str
    type: str
    record_id: str
    occurred_at: datetime
    data: dict[str, Any]


@dataclass
class Record:
    id: str
    nik: str
    mobile: str
    email: str
    state: RecordState
    created_at: datetime
    updated_at: datetime
    nik_birth_date: date
    nik_sex: Sex
    full_name: str | None = None
    birth_date: date | None = None
    sex: Sex | None = None
    documents: set[DocumentKind] = field(default_factory=set)
    consent_at: datetime | None = None
    due_at: datetime | None = None
    # Short, readable and unique (videocall.reference); carried by every event.
    reference: str = ""
    version: int = 0
    history: list[HistoryEntry] = field(default_factory=list)
    # Appended by the domain, persisted and cleared by the repository in one transaction.
    pending_history: list[HistoryEntry] = field(default_factory=list)
    pending_events: list[DomainEvent] = field(default_factory=list)

    # -- lifecycle ---------------------------------------------------------------------------

    def transition(
        self,
        to: RecordState,
        *,
        actor: str,
        now: datetime,
        reason: str | None = None,
        detail: dict[str, Any] | None = None,
    ) -> None:
        """Move to ``to`` or raise InvalidTransition; records history and an outbox event."""
        if to not in TRANSITIONS[self.state]:
            raise InvalidTransition(
                f"cannot go from {self.state.value} to {to.value}",
                code="invalid_transition",
            )
        previous = self.state
        self.state = to
        self.updated_at = now
        if to is not S.UNDER_REVIEW:
            self.due_at = None
        self._log(now, actor, "state_changed", previous, to, reason, detail)
        data: dict[str, Any] = {
            "from": previous.value,
            "to": to.value,
            "reason": reason,
            "reference": self.reference,
        }
        if detail:
            data["detail"] = detail
        if self.due_at is not None:
            data["due_at"] = self.due_at.isoformat()
        self.pending_events.append(
            DomainEvent(str(uuid.uuid4()), f"record.{to.value}", self.id, now, data)
        )

    def note(
        self,
        action: str,
        *,
        actor: str,
        now: datetime,
        reason: str | None = None,
        detail: dict[str, Any] | None = None,
    ) -> None:
        """An audit entry that is not a state change (queue joined, NIK revealed, ...)."""
        self._log(now, actor, action, self.state, self.state, reason, detail)

    def _log(
        self,
        now: datetime,
        actor: str,
        action: str,
        from_state: RecordState | None,
        to_state: RecordState | None,
        reason: str | None,
        detail: dict[str, Any] | None,
    ) -> None:
        entry = HistoryEntry(now, actor, action, from_state, to_state, reason, detail)
        self.history.append(entry)
        self.pending_history.append(entry)

    # -- participant steps -------------------------------------------------------------------

    def set_profile(
        self, *, full_name: str, birth_date: date, sex: Sex, actor: str, now: datetime
    ) -> None:
        if self.state not in PROFILE_EDITABLE:
            raise InvalidTransition(
                f"the profile cannot be changed in state {self.state.value}",
                code="profile_locked",
            )
        check_profile_against_nik(birth_date, sex, self.nik_birth_date, self.nik_sex)
        self.full_name, self.birth_date, self.sex = full_name, birth_date, sex
        self.updated_at = now
        self.note("profile_saved", actor=actor, now=now)
        if self.state is S.REGISTERED:
            self.transition(S.PROFILE_COMPLETE, actor=actor, now=now)

    def add_document(self, kind: DocumentKind, *, actor: str, now: datetime, sha256: str) -> None:
        if self.state not in DOCUMENTS_EDITABLE:
            raise InvalidTransition(
                f"documents cannot be uploaded in state {self.state.value}",
                code="documents_locked",
            )
        replaced = kind in self.documents
        self.documents.add(kind)
        self.updated_at = now
        self.note(
            "document_replaced" if replaced else "document_uploaded",
            actor=actor,
            now=now,
            detail={"kind": kind.value, "sha256": sha256},
        )
        if self.state is S.PROFILE_COMPLETE and self.documents >= set(DocumentKind):
            self.transition(S.DOCUMENTS_UPLOADED, actor=actor, now=now)

    def give_consent(self, *, actor: str, now: datetime) -> None:
        """Consent to the call being recorded: the last step before the queue."""
        if self.state is S.RETRY_REQUIRED and self.documents >= set(DocumentKind):
            pass
        elif self.state is not S.DOCUMENTS_UPLOADED:
            raise InvalidTransition(
                "consent comes after the profile and all three documents",
                code="not_ready_for_consent",
            )
        self.consent_at = now
        self.transition(S.READY_FOR_CALL, actor=actor, now=now, reason="consent_to_recording")

    def start_review(self, *, due_at: datetime, actor: str, now: datetime, **kw: Any) -> None:
        self.due_at = due_at
        self.transition(S.UNDER_REVIEW, actor=actor, now=now, **kw)

    def change_reference(self, reference: str) -> None:
        """Before the record is first stored: another record holds the drawn reference."""
        self.reference = reference
        self.pending_events = [
            replace(ev, data={**ev.data, "reference": reference}) for ev in self.pending_events
        ]

    # -- views -------------------------------------------------------------------------------

    @property
    def is_live(self) -> bool:
        return self.state in LIVE_STATES


def check_profile_against_nik(
    birth_date: date, sex: Sex, nik_birth_date: date, nik_sex: Sex
) -> None:
    """The profile must agree with what the NIK encodes; say which field does not."""
    if birth_date != nik_birth_date:
        raise ValidationError(
            "date of birth does not match the NIK", code="birth_date_mismatch", field="birth_date"
        )
    if sex is not nik_sex:
        raise ValidationError("sex does not match the NIK", code="sex_mismatch", field="sex")


def new_record(
    *,
    nik: NikInfo,
    mobile: str,
    email: str,
    actor: str,
    now: datetime,
    record_id: str | None = None,
    reference: str | None = None,
) -> Record:
    record = Record(
        id=record_id or str(uuid.uuid4()),
        nik=nik.nik,
        mobile=mobile,
        email=email,
        state=S.REGISTERED,
        created_at=now,
        updated_at=now,
        nik_birth_date=nik.birth_date,
        nik_sex=nik.sex,
        reference=reference or new_reference(),
    )
    record._log(now, actor, "registered", None, S.REGISTERED, None, None)
    record.pending_events.append(
        DomainEvent(
            str(uuid.uuid4()),
            "record.registered",
            record.id,
            now,
            {
                "from": None,
                "to": S.REGISTERED.value,
                "reason": None,
                "reference": record.reference,
            },
        )
    )
    return record
