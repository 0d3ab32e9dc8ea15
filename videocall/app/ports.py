"""The interfaces the application services need, as small Protocols, and the plain rows they
exchange with them. Adapters implement them: ``videocall/adapters/sql_sessions.py`` and
``sql_outcomes.py`` (SQL), ``signaling/notifier.py`` (Socket.IO), ``signaling/media.py`` (the
media hub), ``signaling/cluster.py`` (placement)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from videocall.accounts import Account
from videocall.outcomes import Decision, Evidence, Result


@dataclass(frozen=True, slots=True)
class CallSessionRow:
    id: str
    record_id: str
    officer_id: str
    state: str
    node: str | None
    random_code: str | None
    created_at: datetime
    connected_at: datetime | None
    ended_at: datetime | None
    end_reason: str | None
    recording: dict[str, Any] | None
    quality_summary: dict[str, Any] | None
    quality_series: list[Any] | None
    snapshots: list[dict[str, Any]] | None

    def public(self) -> dict[str, Any]:
        def iso(v: datetime | None) -> str | None:
            return v.isoformat() if v else None

        return {
            "id": self.id,
            "record_id": self.record_id,
            "officer_id": self.officer_id,
            "state": self.state,
            "created_at": iso(self.created_at),
            "connected_at": iso(self.connected_at),
            "ended_at": iso(self.ended_at),
            "end_reason": self.end_reason,
        }


@dataclass(frozen=True, slots=True)
class UndecidedRow:
    """A call that ended after media flowed and still has no decision."""

    session_id: str
    record_id: str
    officer_id: str
    full_name: str | None
    connected_at: datetime | None
    ended_at: datetime
    officer_name: str | None = None


@dataclass(frozen=True, slots=True)
class StoredDecision:
    session_id: str
    record_id: str
    officer_id: str
    result: Result
    reasons: list[str]
    checklist: dict[str, bool]
    notes: str
    evidence: dict[str, Any]
    decided_at: datetime

    def public(self) -> dict[str, Any]:
        return {
            "session_id": self.session_id,
            "record_id": self.record_id,
            "officer_id": self.officer_id,
            "result": self.result.value,
            "reasons": self.reasons,
            "checklist": self.checklist,
            "notes": self.notes,
            "evidence": self.evidence,
            "decided_at": self.decided_at.isoformat(),
        }


class CallSessions(Protocol):
    """The durable record of every call (SQL): what survives any process."""

    async def start(
        self,
        *,
        record_id: str,
        officer_id: str,
        officer_actor: str,
        now: datetime,
        node: str | None = None,
        session_id: str | None = None,
    ) -> CallSessionRow:
        """Create the session and move the record to ``in_call`` atomically."""

    async def get(self, session_id: str) -> CallSessionRow: ...

    async def open_sessions(self) -> list[CallSessionRow]: ...

    async def open_on_node(self, node: str) -> list[CallSessionRow]: ...

    async def undecided(
        self, officer_id: str | None = None, record_id: str | None = None
    ) -> list[UndecidedRow]: ...

    async def await_decision(self, session_id: str, *, reason: str, now: datetime) -> bool: ...

    async def end_interrupted(
        self, session_id: str, *, reason: str, actor: str, now: datetime
    ) -> CallSessionRow: ...

    async def release(
        self, session_id: str, *, reason: str, actor: str, now: datetime
    ) -> CallSessionRow: ...

    async def mark_connected(self, session_id: str, now: datetime) -> None: ...

    async def update_media(self, session_id: str, **values: Any) -> None: ...


# Runs inside the decision's transaction on the locked session (and whether it was decided
# already): raises to refuse, or returns the evidence the decision rests on.
DecisionCheck = Callable[[CallSessionRow, bool], Evidence]


class OutcomeStore(Protocol):
    async def decide(
        self,
        session_id: str,
        officer: Account,
        decision: Decision,
        now: datetime,
        check: DecisionCheck,
    ) -> StoredDecision:
        """Store the decision, the session's end and the record's transition in one
        transaction, after ``check(session, already_decided)`` passed on the locked row."""

    async def decision_for_session(self, session_id: str) -> StoredDecision: ...


class MediaPort(Protocol):
    """The media engine, wherever a call's media is hosted."""

    async def ticket(self, call_id: str, side: str, node_id: str | None) -> dict[str, Any] | None:
        """What a side needs to connect its media (None when this deployment has no media)."""

    async def close(self, call_id: str, *, wait: bool = False) -> None:
        """Close the call's media: here, or by asking the process that hosts it. With ``wait``,
        return only once the recording is stored (bounded): a decision rests on it."""

    def hosted_here(self) -> frozenset[str]:
        """The calls whose media this process holds open."""


class Notifier(Protocol):
    """Pushes to people's open pages (every tab, on any process)."""

    async def to_participant(self, record_id: str, event: str, body: dict[str, Any]) -> None: ...

    async def to_officer(self, officer_id: str, event: str, body: dict[str, Any]) -> None: ...

    async def to_officers(self, event: str, body: dict[str, Any]) -> None: ...


class Placement(Protocol):
    @property
    def node_id(self) -> str: ...

    async def place(self) -> str | None:
        """The node that will host a new call's media."""

    async def node_url(self, node_id: str | None) -> str:
        """That node's public URL ("" for this process)."""


class Journal(Protocol):
    async def note(
        self, record_id: str, action: str, *, actor: str, detail: dict[str, Any] | None = None
    ) -> None:
        """Append an audit entry to the record's history."""


class Watching(Protocol):
    """The media engine's side of live supervision (``signaling/media_watch.py``)."""

    async def watch_ticket(
        self, call_id: str, watcher: Account, node_id: str | None
    ) -> dict[str, Any]:
        """A ticket for a receive-only connection to the call's media, on the node hosting it."""


class RecordingRecovery(Protocol):
    async def recover(self, session_id: str) -> dict[str, Any] | None:
        """The recording a dead process left on disk for a call, as the session's
        ``recording`` column (segments with SHA-256), or None when there is none."""
