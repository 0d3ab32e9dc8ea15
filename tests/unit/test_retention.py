"""Retention rules: what is due for deletion, from record states, times and the two periods."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from videocall.records import HistoryEntry, RecordState
from videocall.retention import (
    PURGED_ACTION,
    Due,
    RecordFacts,
    RetentionPolicy,
    due_at,
    due_for_deletion,
    facts_from_history,
    is_due,
    purge_detail,
)

S = RecordState
NOW = datetime(2027, 6, 1, tzinfo=UTC)
POLICY = RetentionPolicy.from_days(rejected_days=30, active_days=365)


def facts(
    state: RecordState, days_ago: float | None, purged: bool = False, rid: str = "r"
) -> RecordFacts:
    final_at = NOW - timedelta(days=days_ago) if days_ago is not None else None
    return RecordFacts(rid, state, final_at, purged)


@pytest.mark.parametrize(
    ("state", "days_ago", "due"),
    [
        (S.REJECTED, 29.9, False),
        (S.REJECTED, 30, True),  # exactly at the end of the period: due
        (S.REJECTED, 31, True),
        (S.ACTIVE, 31, False),
        (S.ACTIVE, 364, False),
        (S.ACTIVE, 365, True),
        (S.ACTIVE, 2000, True),
    ],
)
def test_separate_periods_for_rejected_and_active(
    state: RecordState, days_ago: float, due: bool
) -> None:
    assert is_due(facts(state, days_ago), POLICY, NOW) is due


@pytest.mark.parametrize("state", [s for s in RecordState if s not in (S.REJECTED, S.ACTIVE)])
def test_records_in_progress_keep_their_files(state: RecordState) -> None:
    assert due_at(facts(state, 10_000), POLICY) is None
    assert not is_due(facts(state, 10_000), POLICY, NOW)


def test_already_purged_or_undated_is_never_due() -> None:
    assert not is_due(facts(S.REJECTED, 100, purged=True), POLICY, NOW)
    assert not is_due(facts(S.REJECTED, None), POLICY, NOW)


def test_due_for_deletion_oldest_first() -> None:
    records = [
        facts(S.ACTIVE, 400, rid="a"),
        facts(S.REJECTED, 31, rid="b"),
        facts(S.REJECTED, 90, rid="c"),
        facts(S.REJECTED, 5, rid="d"),
        facts(S.UNDER_REVIEW, 900, rid="e"),
        facts(S.REJECTED, 90, purged=True, rid="f"),
    ]
    due = due_for_deletion(records, POLICY, NOW)
    assert [d.record_id for d in due] == ["c", "a", "b"]
    assert due[1] == Due("a", S.ACTIVE, NOW - timedelta(days=35))


def test_cutoffs_for_the_query() -> None:
    cut = POLICY.cutoffs(NOW)
    assert cut[S.REJECTED] == NOW - timedelta(days=30)
    assert cut[S.ACTIVE] == NOW - timedelta(days=365)


def entry(at: datetime, action: str, to: RecordState | None) -> HistoryEntry:
    return HistoryEntry(at, "x", action, None, to, None, None)


def test_facts_from_history_uses_the_time_the_final_state_was_reached() -> None:
    t = NOW - timedelta(days=40)
    history = [
        entry(t - timedelta(days=5), "state_changed", S.UNDER_REVIEW),
        entry(t, "state_changed", S.REJECTED),
        entry(t + timedelta(days=3), "document_viewed", S.REJECTED),  # a later note: no reset
    ]
    got = facts_from_history("r", S.REJECTED, history)
    assert got == RecordFacts("r", S.REJECTED, t, False)
    assert is_due(got, POLICY, NOW)
    purged = facts_from_history("r", S.REJECTED, [*history, entry(NOW, PURGED_ACTION, None)])
    assert purged.purged and not is_due(purged, POLICY, NOW)


def test_purge_detail_names_kinds_and_counts_only() -> None:
    detail = purge_detail(S.REJECTED, POLICY, ["face", "ktp"], {"snapshot": 2, "recording": 1})
    assert detail == {
        "documents": ["face", "ktp"],
        "files": {"recording": 1, "snapshot": 2},
        "days": 30.0,
    }
