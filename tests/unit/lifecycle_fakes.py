"""In-memory fakes of the application layer's interfaces (``videocall.app.ports``), for testing
the lifecycle services without a server. Integration tests use the real adapters."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from videocall.accounts import Account
from videocall.app.ports import CallSessionRow, DecisionCheck, StoredDecision, UndecidedRow
from videocall.errors import Conflict, NotFound
from videocall.outcomes import Decision


class FakeSessions:
    """``CallSessions``: rows, and each record's state as the SQL adapter would move it."""

    def __init__(self) -> None:
        self.rows: dict[str, CallSessionRow] = {}
        self.record_state: dict[str, str] = {}
        self.history: list[tuple[str, str, str]] = []  # (record, to_state, reason)

    def _set(self, session_id: str, **changes: Any) -> CallSessionRow:
        row = dataclasses.replace(self.rows[session_id], **changes)
        self.rows[session_id] = row
        return row

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
        if self.record_state.get(record_id, "ready_for_call") != "ready_for_call":
            raise Conflict("not ready", code="invalid_transition")
        assert session_id is not None
        self.record_state[record_id] = "in_call"
        row = CallSessionRow(
            session_id, record_id, officer_id, "active", node, "123456", now,
            None, None, None, None, None, None, None,
        )  # fmt: skip
        self.rows[session_id] = row
        return row

    async def get(self, session_id: str) -> CallSessionRow:
        if session_id not in self.rows:
            raise NotFound("no such call session", code="session_not_found")
        return self.rows[session_id]

    async def open_sessions(self) -> list[CallSessionRow]:
        return [r for r in self.rows.values() if r.state == "active"]

    async def open_on_node(self, node: str) -> list[CallSessionRow]:
        return [r for r in await self.open_sessions() if r.node == node]

    async def undecided(
        self, officer_id: str | None = None, record_id: str | None = None
    ) -> list[UndecidedRow]:
        return [
            UndecidedRow(r.id, r.record_id, r.officer_id, "Siti", r.connected_at, r.ended_at)
            for r in self.rows.values()
            if r.state == "awaiting_decision"
            and r.ended_at is not None
            and officer_id in (None, r.officer_id)
            and record_id in (None, r.record_id)
        ]

    async def await_decision(self, session_id: str, *, reason: str, now: datetime) -> bool:
        if self.rows[session_id].state != "active":
            return False
        self._set(session_id, state="awaiting_decision", ended_at=now, end_reason=reason)
        return True

    async def end_interrupted(
        self, session_id: str, *, reason: str, actor: str, now: datetime
    ) -> CallSessionRow:
        row = self.rows[session_id]
        if row.ended_at is not None:
            raise Conflict("the call has already ended", code="session_ended")
        self._move(row.record_id, "ready_for_call", reason)
        return self._set(session_id, state="interrupted", ended_at=now, end_reason=reason)

    async def release(
        self, session_id: str, *, reason: str, actor: str, now: datetime
    ) -> CallSessionRow:
        row = self.rows[session_id]
        if row.state != "awaiting_decision":
            raise Conflict("the call is not waiting for a decision", code="not_undecided")
        self._move(row.record_id, "ready_for_call", reason)
        return self._set(session_id, state="released")

    def _move(self, record_id: str, state: str, reason: str) -> None:
        self.record_state[record_id] = state
        self.history.append((record_id, state, reason))

    async def mark_connected(self, session_id: str, now: datetime) -> None:
        if self.rows[session_id].connected_at is None:
            self._set(session_id, connected_at=now)

    async def update_media(self, session_id: str, **values: Any) -> None:
        self._set(session_id, **values)


class FakeOutcomes:
    """``OutcomeStore``: runs the service's check on the row, then stores."""

    def __init__(self, sessions: FakeSessions) -> None:
        self.sessions = sessions
        self.decisions: dict[str, StoredDecision] = {}

    async def decide(
        self,
        session_id: str,
        officer: Account,
        decision: Decision,
        now: datetime,
        check: DecisionCheck,
    ) -> StoredDecision:
        row = await self.sessions.get(session_id)
        evidence = check(row, session_id in self.decisions)
        stored = StoredDecision(
            session_id, row.record_id, officer.id, decision.result, list(decision.reasons),
            decision.checklist_dict(), decision.notes, evidence.as_dict(), now,
        )  # fmt: skip
        self.decisions[session_id] = stored
        state = {"approved": "under_review"}.get(decision.result.value, decision.result.value)
        self.sessions.record_state[row.record_id] = state
        self.sessions._set(session_id, state="decided", ended_at=row.ended_at or now)
        return stored

    async def decision_for_session(self, session_id: str) -> StoredDecision:
        return self.decisions[session_id]


@dataclass
class FakeMedia:
    """``MediaPort``: closing a call stores a recording, as the media hub does."""

    sessions: FakeSessions
    hosted: set[str] = field(default_factory=set)
    closed: list[str] = field(default_factory=list)

    async def ticket(self, call_id: str, side: str, node_id: str | None) -> dict[str, Any]:
        return {"token": f"{call_id}:{side}"}

    async def close(self, call_id: str, *, wait: bool = False) -> None:
        if call_id in self.hosted:
            self.hosted.discard(call_id)
            self.closed.append(call_id)
            segment = {"index": 0, "sha256": "a" * 64, "duration_s": 12.0}
            await self.sessions.update_media(call_id, recording={"segments": [segment]})

    def hosted_here(self) -> frozenset[str]:
        return frozenset(self.hosted)


@dataclass
class FakeNotifier:
    sent: list[tuple[str, str, str, dict[str, Any]]] = field(default_factory=list)

    async def to_participant(self, record_id: str, event: str, body: dict[str, Any]) -> None:
        self.sent.append(("participant", record_id, event, body))

    async def to_officer(self, officer_id: str, event: str, body: dict[str, Any]) -> None:
        self.sent.append(("officer", officer_id, event, body))

    async def to_officers(self, event: str, body: dict[str, Any]) -> None:
        self.sent.append(("officers", "*", event, body))

    def events(self, who: str, event: str) -> list[dict[str, Any]]:
        return [b for w, _, e, b in self.sent if w == who and e == event]


@dataclass
class FakePlacement:
    node: str = "node-a"

    @property
    def node_id(self) -> str:
        return self.node

    async def place(self) -> str | None:
        return self.node

    async def node_url(self, node_id: str | None) -> str:
        return ""


@dataclass
class FakeJournal:
    notes: list[tuple[str, str]] = field(default_factory=list)

    async def note(
        self, record_id: str, action: str, *, actor: str, detail: dict[str, Any] | None = None
    ) -> None:
        self.notes.append((record_id, action))


@dataclass
class FakeRecordings:
    found: dict[str, dict[str, Any]] = field(default_factory=dict)

    async def recover(self, session_id: str) -> dict[str, Any] | None:
        return self.found.get(session_id)
