"""Outcomes of a verification call: the officer's decision and the supervisor's review.

    officer decision (at the end of a call)
      approved        -> record under_review, due in N working days (a supervisor confirms)
      rejected        -> record rejected (final)
      retry_required  -> record retry_required (the participant may queue again)
    supervisor review (of an approved decision, by someone other than the officer)
      confirm         -> active
      overturn        -> rejected | retry_required, with a reason

Pure rules: the adapters load the call's evidence and the decision, call these functions and
store the result; every refusal is a ``VideoCallError`` with a stable code.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from videocall.errors import Conflict, NotAllowed, ValidationError
from videocall.records import RecordState


class Result(StrEnum):
    APPROVED = "approved"
    REJECTED = "rejected"
    RETRY_REQUIRED = "retry_required"


class ReviewAction(StrEnum):
    CONFIRM = "confirm"
    OVERTURN = "overturn"


class ChecklistItem(StrEnum):
    FACE_MATCHES_KTP = "face_matches_ktp"
    FACE_MATCHES_SELFIE = "face_matches_selfie"
    KTP_SECURITY_FEATURES = "ktp_security_features"
    RANDOM_CODE_READ = "random_code_read"
    DETAILS_CONFIRMED = "details_confirmed"
    CONSENT_CONFIRMED = "consent_confirmed"


R = Result
_BOTH = frozenset({R.REJECTED, R.RETRY_REQUIRED})
_RETRY = frozenset({R.RETRY_REQUIRED})
_REJECT = frozenset({R.REJECTED})


@dataclass(frozen=True, slots=True)
class Reason:
    code: str
    description: str
    results: frozenset[Result]
    # True when the reason can be decided without the call's recording and snapshots
    # (nobody, or nothing usable, was on camera).
    without_media: bool = False


REASONS: dict[str, Reason] = {
    r.code: r
    for r in (
        Reason("face_mismatch_ktp", "The face does not match the KTP photo", _BOTH),
        Reason("face_mismatch_selfie", "The face does not match the selfie with KTP", _BOTH),
        Reason("ktp_unreadable", "The KTP could not be read on camera", _RETRY),
        Reason("ktp_security_features", "KTP security features missing or altered", _BOTH),
        Reason("data_mismatch_nik", "Stated details do not match the NIK data", _BOTH),
        Reason("random_code_wrong", "The random code was not read correctly", _BOTH),
        Reason("suspected_fraud", "Suspected fraud or impersonation", _REJECT),
        Reason("third_party_present", "Someone else answered or prompted the participant", _BOTH),
        Reason("participant_absent", "The participant did not appear", _BOTH, True),
        Reason("poor_lighting", "Too dark or backlit to verify", _RETRY),
        Reason("poor_connection", "The connection was too poor to verify", _RETRY, True),
        Reason("participant_withdrew", "The participant withdrew during the call", _BOTH, True),
        Reason("consent_withdrawn", "The participant withdrew consent to recording", _BOTH, True),
        Reason("documents_replaced_needed", "New KTP or selfie photos are needed", _RETRY),
        Reason("other", "Other (explained in the notes)", _BOTH),
    )
}
# Snapshots an approval or rejection needs: the live face and the KTP held to the camera.
REQUIRED_SNAPSHOTS = frozenset({"face", "ktp"})
MAX_NOTES = 2000
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True, slots=True)
class Evidence:
    """What the media layer stored for a call: usable snapshot kinds and recording hashes."""

    snapshot_kinds: frozenset[str]
    recording_sha256: tuple[str, ...]
    # The machine checks the officer saw (KTP reading, face bands): help, never the decision.
    assist: Mapping[str, Any] | None = None

    @property
    def has_recording(self) -> bool:
        return bool(self.recording_sha256)

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "snapshot_kinds": sorted(self.snapshot_kinds),
            "recording_sha256": list(self.recording_sha256),
        }
        if self.assist is not None:
            out["assist"] = dict(self.assist)
        return out


def evidence_from_media(
    recording: Mapping[str, Any] | None, snapshots: Iterable[Mapping[str, Any]] | None
) -> Evidence:
    """Read the ``call_sessions`` media columns; bad snapshots and unhashed segments don't count."""
    kinds = frozenset(
        str(s.get("kind")) for s in snapshots or () if s.get("kind") and not s.get("bad")
    )
    segments = (recording or {}).get("segments") or []
    hashes = tuple(
        str(seg["sha256"]) for seg in segments if _SHA256.match(str(seg.get("sha256", "")))
    )
    return Evidence(kinds, hashes)


@dataclass(frozen=True, slots=True)
class Decision:
    result: Result
    reasons: tuple[str, ...] = ()
    checklist: Mapping[ChecklistItem, bool] = field(default_factory=dict)
    notes: str = ""

    def checklist_dict(self) -> dict[str, bool]:
        return {item.value: ok for item, ok in sorted(self.checklist.items())}


def validate_decision(decision: Decision, evidence: Evidence) -> None:
    """Refuse contradictions and decisions without evidence, before anything is stored."""
    _check_reasons(decision)
    if decision.result is Result.APPROVED:
        _check_approval_checklist(decision.checklist)
    if needs_media(decision):
        _check_evidence(evidence)


def _check_reasons(decision: Decision) -> None:
    if len(decision.notes) > MAX_NOTES:
        raise ValidationError("the notes are too long", code="notes_too_long", field="notes")
    if len(set(decision.reasons)) != len(decision.reasons):
        raise ValidationError("a reason is repeated", code="duplicate_reason", field="reasons")
    for code in decision.reasons:
        reason = REASONS.get(code)
        if reason is None:
            raise ValidationError(
                f"unknown reason {code!r}", code="unknown_reason", field="reasons"
            )
        if decision.result not in reason.results:
            raise ValidationError(
                f"reason {code!r} does not fit the result {decision.result.value}",
                code="reason_not_for_result",
                field="reasons",
            )
    if decision.result is Result.APPROVED and decision.reasons:
        raise ValidationError(
            "an approval has no reasons", code="reason_on_approval", field="reasons"
        )
    if decision.result is not Result.APPROVED and not decision.reasons:
        raise ValidationError(
            f"a {decision.result.value} decision needs at least one reason",
            code="reason_required",
            field="reasons",
        )
    if "other" in decision.reasons and not decision.notes.strip():
        raise ValidationError(
            "reason 'other' needs an explanation in the notes", code="notes_required", field="notes"
        )


def _check_approval_checklist(checklist: Mapping[ChecklistItem, bool]) -> None:
    missing = [item.value for item in ChecklistItem if item not in checklist]
    if missing:
        raise ValidationError(
            f"an approval needs every checklist item answered; missing: {', '.join(missing)}",
            code="checklist_incomplete",
            field="checklist",
        )
    failed = [item.value for item in ChecklistItem if not checklist[item]]
    if failed:
        raise ValidationError(
            f"cannot approve with failed checklist items: {', '.join(failed)}",
            code="checklist_failed",
            field="checklist",
        )


def needs_media(decision: Decision) -> bool:
    """Approvals and rejections must rest on the recording and snapshots, unless every reason
    says nobody (or nothing usable) was on camera. A retry decision is never final."""
    if decision.result is Result.RETRY_REQUIRED:
        return False
    return not (decision.reasons and all(REASONS[r].without_media for r in decision.reasons))


def _check_evidence(evidence: Evidence) -> None:
    missing = sorted(REQUIRED_SNAPSHOTS - evidence.snapshot_kinds)
    if missing:
        raise ValidationError(
            f"the call has no usable snapshot of: {', '.join(missing)}",
            code="evidence_missing_snapshots",
            field="snapshots",
        )
    if not evidence.has_recording:
        raise ValidationError(
            "the call has no stored recording", code="evidence_missing_recording", field="recording"
        )


@dataclass(frozen=True, slots=True)
class DecidableCall:
    """What the rules need to know about a call before anyone decides it."""

    officer_id: str
    state: str  # active | awaiting_decision | decided | interrupted | released
    connected: bool  # media flowed at some point
    ended_at: datetime | None
    decided: bool


def is_stale(call: DecidableCall, now: datetime, escalate_after: timedelta) -> bool:
    """An undecided call old enough for a supervisor to take it over."""
    return (
        call.state == "awaiting_decision"
        and call.ended_at is not None
        and now - call.ended_at >= escalate_after
    )


def check_decidable(
    call: DecidableCall,
    *,
    account_id: str,
    supervisor: bool,
    now: datetime,
    escalate_after: timedelta,
) -> None:
    """Only the call's officer decides it (or a supervisor, once it is stale); once only; and
    only a call that took place."""
    if call.decided or call.state == "decided":
        raise Conflict("this call has already been decided", code="already_decided")
    if call.state == "interrupted":
        raise Conflict(
            "the call was interrupted; the participant is back in the queue",
            code="session_interrupted",
        )
    if call.state == "released":
        raise Conflict(
            "a supervisor sent the participant back to the queue", code="session_released"
        )
    if not call.connected:
        raise Conflict(
            "the video never connected: end the call instead (the participant keeps their place)",
            code="call_not_connected",
        )
    if call.officer_id != account_id and not (supervisor and is_stale(call, now, escalate_after)):
        raise NotAllowed("only the officer of the call decides it", code="not_your_call")


# Why a supervisor sends the participant of an undecided call back to the queue.
RELEASE_REASONS = frozenset({"officer_unavailable", "evidence_incomplete", "technical_problem"})


def check_release_reason(reason: str) -> None:
    if reason not in RELEASE_REASONS:
        raise ValidationError(
            f"reason must be one of: {', '.join(sorted(RELEASE_REASONS))}",
            code="unknown_release_reason",
            field="reason",
        )


def check_snapshots(decision: Decision, snapshot_kinds: frozenset[str]) -> None:
    """Before a live call is hung up: the snapshots a final decision rests on must exist, so the
    officer can still take them while the participant is on camera."""
    if needs_media(decision):
        _check_evidence(Evidence(snapshot_kinds, ("0" * 64,)))


def state_after_decision(result: Result) -> RecordState:
    return {
        Result.APPROVED: RecordState.UNDER_REVIEW,
        Result.REJECTED: RecordState.REJECTED,
        Result.RETRY_REQUIRED: RecordState.RETRY_REQUIRED,
    }[result]


# -- supervisor review -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Review:
    action: ReviewAction
    result: Result
    reason: str | None = None


def review_result(action: ReviewAction, result: Result | None, reason: str | None) -> Review:
    """Complete a supervisor's input: confirm means approved; overturn needs result and reason."""
    if action is ReviewAction.CONFIRM:
        if result not in (None, Result.APPROVED):
            raise ValidationError(
                "confirm keeps the approval; use overturn to change it",
                code="confirm_changes_result",
                field="result",
            )
        return Review(action, Result.APPROVED, reason)
    if result not in _BOTH:
        raise ValidationError(
            "overturn needs result rejected or retry_required",
            code="overturn_result_required",
            field="result",
        )
    assert result is not None
    if not reason or reason not in REASONS or result not in REASONS[reason].results:
        raise ValidationError(
            "overturning needs a reason that fits the new result",
            code="overturn_reason_required",
            field="reason",
        )
    return Review(action, result, reason)


def check_reviewer(reviewer_id: str, call_officer_id: str) -> None:
    """Four eyes: whoever conducted the call may not review it."""
    if reviewer_id == call_officer_id:
        raise NotAllowed("you cannot review your own call", code="own_call")


def state_after_review(review: Review) -> RecordState:
    if review.result is Result.APPROVED:
        return RecordState.ACTIVE
    return state_after_decision(review.result)


def is_overdue(due_at: datetime | None, now: datetime) -> bool:
    return due_at is not None and now > due_at


def parse_checklist(raw: Mapping[str, bool]) -> dict[ChecklistItem, bool]:
    try:
        return {ChecklistItem(k): bool(v) for k, v in raw.items()}
    except ValueError:
        unknown = sorted(set(raw) - {i.value for i in ChecklistItem})
        raise ValidationError(
            f"unknown checklist items: {', '.join(unknown)}",
            code="unknown_checklist_item",
            field="checklist",
        ) from None
