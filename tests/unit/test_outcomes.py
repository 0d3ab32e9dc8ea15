"""Decision validation and review rules (pure)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from videocall.errors import NotAllowed, ValidationError
from videocall.outcomes import (
    REASONS,
    ChecklistItem,
    Decision,
    Evidence,
    Result,
    ReviewAction,
    check_reviewer,
    evidence_from_media,
    is_overdue,
    needs_media,
    parse_checklist,
    review_result,
    state_after_decision,
    state_after_review,
    validate_decision,
)
from videocall.records import RecordState
from videocall.workdays import WorkCalendar

SHA = "a" * 64
ALL_OK = {item: True for item in ChecklistItem}
FULL = Evidence(frozenset({"face", "ktp"}), (SHA,))
NONE = Evidence(frozenset(), ())


def refused(decision: Decision, evidence: Evidence = FULL) -> str:
    with pytest.raises(ValidationError) as info:
        validate_decision(decision, evidence)
    return info.value.code


def test_a_clean_approval_passes() -> None:
    validate_decision(Decision(Result.APPROVED, checklist=ALL_OK), FULL)


@pytest.mark.parametrize("item", list(ChecklistItem))
def test_approval_with_any_failed_item_is_refused(item: ChecklistItem) -> None:
    checklist = {**ALL_OK, item: False}
    assert refused(Decision(Result.APPROVED, checklist=checklist)) == "checklist_failed"


def test_approval_with_an_unanswered_item_is_refused() -> None:
    checklist = {k: v for k, v in ALL_OK.items() if k is not ChecklistItem.RANDOM_CODE_READ}
    assert refused(Decision(Result.APPROVED, checklist=checklist)) == "checklist_incomplete"


@pytest.mark.parametrize("result", [Result.REJECTED, Result.RETRY_REQUIRED])
def test_rejection_or_retry_without_a_reason_is_refused(result: Result) -> None:
    assert refused(Decision(result)) == "reason_required"


@pytest.mark.parametrize(
    ("decision", "code"),
    [
        (Decision(Result.APPROVED, ("face_mismatch_ktp",), ALL_OK), "reason_not_for_result"),
        (Decision(Result.REJECTED, ("poor_lighting",)), "reason_not_for_result"),
        (Decision(Result.RETRY_REQUIRED, ("suspected_fraud",)), "reason_not_for_result"),
        (Decision(Result.REJECTED, ("because",)), "unknown_reason"),
        (Decision(Result.REJECTED, ("suspected_fraud", "suspected_fraud")), "duplicate_reason"),
        (Decision(Result.REJECTED, ("other",)), "notes_required"),
        (Decision(Result.REJECTED, ("other",), notes="x" * 2001), "notes_too_long"),
    ],
)
def test_contradictions_are_refused(decision: Decision, code: str) -> None:
    assert refused(decision) == code


@pytest.mark.parametrize(
    ("evidence", "code"),
    [
        (NONE, "evidence_missing_snapshots"),
        (Evidence(frozenset({"face"}), (SHA,)), "evidence_missing_snapshots"),
        (Evidence(frozenset({"ktp"}), (SHA,)), "evidence_missing_snapshots"),
        (Evidence(frozenset({"face", "ktp"}), ()), "evidence_missing_recording"),
    ],
)
@pytest.mark.parametrize(
    "decision",
    [
        Decision(Result.APPROVED, checklist=ALL_OK),
        Decision(Result.REJECTED, ("face_mismatch_ktp",)),
    ],
)
def test_final_decisions_need_evidence(decision: Decision, evidence: Evidence, code: str) -> None:
    assert refused(decision, evidence) == code


@pytest.mark.parametrize(
    "decision",
    [
        Decision(Result.RETRY_REQUIRED, ("poor_lighting",)),
        Decision(Result.REJECTED, ("participant_absent",)),
        Decision(Result.RETRY_REQUIRED, ("poor_connection", "participant_withdrew")),
    ],
)
def test_no_media_needed_when_nobody_was_on_camera_or_not_final(decision: Decision) -> None:
    assert not needs_media(decision)
    validate_decision(decision, NONE)


def test_mixed_reasons_still_need_media() -> None:
    decision = Decision(Result.REJECTED, ("participant_absent", "suspected_fraud"))
    assert needs_media(decision)
    assert refused(decision, NONE) == "evidence_missing_snapshots"


def test_every_reason_is_documented_and_fits_a_non_approval() -> None:
    for reason in REASONS.values():
        assert reason.description and reason.results
        assert Result.APPROVED not in reason.results


def test_evidence_from_media_ignores_bad_snapshots_and_unhashed_segments() -> None:
    snapshots = [
        {"kind": "face", "path": "f.jpg", "bad": False},
        {"kind": "ktp", "path": "k.jpg", "bad": True},
        {"kind": "ktp", "path": "k2.jpg"},
        {"path": "nokind.jpg"},
    ]
    recording = {"segments": [{"path": "a.webm", "sha256": SHA}, {"path": "b.webm"}]}
    evidence = evidence_from_media(recording, snapshots)
    assert evidence.snapshot_kinds == {"face", "ktp"}
    assert evidence.recording_sha256 == (SHA,)
    assert evidence_from_media(None, None) == NONE
    assert evidence_from_media({"segments": [{"sha256": "short"}]}, []).has_recording is False


def test_checklist_parsing_refuses_unknown_items() -> None:
    assert parse_checklist({"face_matches_ktp": True}) == {ChecklistItem.FACE_MATCHES_KTP: True}
    with pytest.raises(ValidationError) as info:
        parse_checklist({"looks_honest": True})
    assert info.value.code == "unknown_checklist_item"


def test_states_after_decision_and_review() -> None:
    assert state_after_decision(Result.APPROVED) is RecordState.UNDER_REVIEW
    assert state_after_decision(Result.REJECTED) is RecordState.REJECTED
    assert state_after_decision(Result.RETRY_REQUIRED) is RecordState.RETRY_REQUIRED
    confirm = review_result(ReviewAction.CONFIRM, None, None)
    assert state_after_review(confirm) is RecordState.ACTIVE
    overturn = review_result(ReviewAction.OVERTURN, Result.REJECTED, "suspected_fraud")
    assert state_after_review(overturn) is RecordState.REJECTED


# -- review rules ------------------------------------------------------------------------------


def test_own_call_cannot_be_reviewed() -> None:
    with pytest.raises(NotAllowed) as info:
        check_reviewer("acc-1", "acc-1")
    assert info.value.code == "own_call"
    check_reviewer("acc-2", "acc-1")


@pytest.mark.parametrize(
    ("result", "reason", "code"),
    [
        (Result.REJECTED, None, "overturn_reason_required"),
        (Result.REJECTED, "", "overturn_reason_required"),
        (Result.REJECTED, "poor_lighting", "overturn_reason_required"),  # not a rejection reason
        (Result.REJECTED, "made_up", "overturn_reason_required"),
        (Result.APPROVED, "other", "overturn_result_required"),
        (None, "suspected_fraud", "overturn_result_required"),
    ],
)
def test_overturn_needs_a_new_result_and_a_fitting_reason(
    result: Result | None, reason: str | None, code: str
) -> None:
    with pytest.raises(ValidationError) as info:
        review_result(ReviewAction.OVERTURN, result, reason)
    assert info.value.code == code


def test_confirm_cannot_change_the_result() -> None:
    with pytest.raises(ValidationError) as info:
        review_result(ReviewAction.CONFIRM, Result.REJECTED, None)
    assert info.value.code == "confirm_changes_result"
    assert review_result(ReviewAction.CONFIRM, Result.APPROVED, None).result is Result.APPROVED


def test_overdue_across_a_weekend_and_a_holiday() -> None:
    # Friday 2026-12-18 afternoon in Jakarta; Monday 21 is a (made-up) holiday, so three working
    # days are Tue 22, Wed 23, Thu 24: due at the end of Thursday, local time.
    calendar = WorkCalendar([date(2026, 12, 21)], "Asia/Jakarta")
    decided = datetime(2026, 12, 18, 8, 0, tzinfo=UTC)  # 15:00 WIB
    due = calendar.due_at(decided, 3)
    assert due.date() == date(2026, 12, 24)
    sunday = datetime(2026, 12, 20, 12, 0, tzinfo=UTC)
    thursday_evening = datetime(2026, 12, 24, 16, 0, tzinfo=UTC)  # 23:00 WIB
    friday_morning = datetime(2026, 12, 24, 17, 30, tzinfo=UTC)  # 00:30 WIB Friday
    assert not is_overdue(due, sunday)
    assert not is_overdue(due, thursday_evening)
    assert is_overdue(due, friday_morning)
    assert not is_overdue(None, friday_morning)
