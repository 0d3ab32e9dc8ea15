"""Which records' files are due for deletion: photos, call snapshots and recordings.

A record keeps its files while it is in progress. Once it is final the clock starts: a rejected
record's files go after ``rejected`` (the person may register again and has nothing to prove), an
approved (``active``) record's after ``active`` (the evidence behind an approval is kept longer).
The record itself and its history stay; the deletion is written to the history, which is also
what marks it as done. A record under a legal hold (``videocall.privacy.legal_hold``) keeps
everything while the hold lasts; once it is released, its files go if their time has come (the
period still counts from the final state, so a long hold does not restart it). Pure: facts and
``now`` in, decisions out.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from videocall.privacy import legal_hold
from videocall.records import HistoryEntry, RecordState

PURGED_ACTION = "files_deleted_by_retention"
RETENTION_ACTOR = "system:retention"
FINAL_STATES = frozenset({RecordState.REJECTED, RecordState.ACTIVE})


@dataclass(frozen=True, slots=True)
class RetentionPolicy:
    rejected: timedelta
    active: timedelta

    @classmethod
    def from_days(cls, rejected_days: float, active_days: float) -> RetentionPolicy:
        return cls(timedelta(days=rejected_days), timedelta(days=active_days))

    def period(self, state: RecordState) -> timedelta | None:
        """How long files are kept after ``state`` is reached; None: kept (not final)."""
        if state is RecordState.REJECTED:
            return self.rejected
        if state is RecordState.ACTIVE:
            return self.active
        return None

    def cutoffs(self, now: datetime) -> dict[RecordState, datetime]:
        """Records that became final before these times are candidates."""
        return {RecordState.REJECTED: now - self.rejected, RecordState.ACTIVE: now - self.active}


@dataclass(frozen=True, slots=True)
class RecordFacts:
    record_id: str
    state: RecordState
    final_at: datetime | None  # when it entered its final state
    purged: bool  # a retention deletion is in its history already
    held: bool = False  # under a legal hold now: nothing is deleted


@dataclass(frozen=True, slots=True)
class Due:
    record_id: str
    state: RecordState
    due_at: datetime


def due_at(facts: RecordFacts, policy: RetentionPolicy) -> datetime | None:
    """When the record's files are due, or None if not (in progress, held or already done)."""
    period = policy.period(facts.state)
    if period is None or facts.purged or facts.held or facts.final_at is None:
        return None
    return facts.final_at + period


def is_due(facts: RecordFacts, policy: RetentionPolicy, now: datetime) -> bool:
    when = due_at(facts, policy)
    return when is not None and when <= now


def due_for_deletion(
    records: Iterable[RecordFacts], policy: RetentionPolicy, now: datetime
) -> list[Due]:
    """The records whose files are due at ``now``, longest overdue first."""
    due = []
    for facts in records:
        when = due_at(facts, policy)
        if when is not None and when <= now:
            due.append(Due(facts.record_id, facts.state, when))
    return sorted(due, key=lambda d: (d.due_at, d.record_id))


def facts_from_history(
    record_id: str, state: RecordState, history: Sequence[HistoryEntry]
) -> RecordFacts:
    """Facts from a record's history: when it reached ``state``, whether it was purged, whether
    it is under a legal hold now."""
    final_at = None
    for entry in history:
        if entry.action == "state_changed" and entry.to_state is state:
            final_at = entry.at
    purged = any(entry.action == PURGED_ACTION for entry in history)
    held = legal_hold(history) is not None
    return RecordFacts(record_id, state, final_at, purged, held)


def purge_detail(
    state: RecordState, policy: RetentionPolicy, documents: Sequence[str], files: dict[str, int]
) -> dict[str, Any]:
    """What the audit entry says: which documents, how many files of each kind, which period."""
    period = policy.period(state)
    days = period.total_seconds() / 86400 if period is not None else None
    return {"documents": sorted(documents), "files": dict(sorted(files.items())), "days": days}
