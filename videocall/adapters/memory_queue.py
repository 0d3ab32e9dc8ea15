"""The queue store in process memory: one node, state lost on restart (development, tests).

Safe under asyncio because no method awaits between reading and writing its state: each call
runs to completion before another coroutine can touch the store. Keep it that way.
"""

from __future__ import annotations

from collections import deque
from dataclasses import replace
from datetime import datetime

from videocall.errors import Conflict, NotFound, ValidationError
from videocall.presence import SETTABLE, Presence
from videocall.queue import (
    DEFAULT_CONFIG,
    Lane,
    Pairing,
    ParticipantCard,
    QueueConfig,
    QueueEmpty,
    QueueEntry,
    QueueSnapshot,
    in_order,
    next_to_call,
)
from videocall.sessions import CallOutcome, CallSession, Phase, start

_ENDED_KEPT = 10_000


class MemoryQueueStore:
    def __init__(self, config: QueueConfig = DEFAULT_CONFIG) -> None:
        self.config = config
        self._seq = 0
        self._entries: dict[str, QueueEntry] = {}
        self._presence: dict[str, Presence] = {}  # available / away; busy comes from calls
        self._officer_call: dict[str, str] = {}
        self._participant_call: dict[str, str] = {}
        self._pairings: dict[str, Pairing] = {}
        self._sessions: dict[str, CallSession] = {}
        self._recent: deque[float] = deque(maxlen=config.history_size)  # newest first
        # Finished calls' final versions, so a repeated final save succeeds as in Redis.
        self._ended: dict[str, int] = {}
        self._sockets: dict[str, tuple[str, str]] = {}  # sid -> (who, node)
        self._connections: dict[str, int] = {}  # who -> sockets open

    def _next_seq(self) -> int:
        self._seq += 1
        return self._seq

    # -- participants -------------------------------------------------------------------

    async def join(
        self, card: ParticipantCard, now: datetime, lane: Lane = Lane.NORMAL
    ) -> QueueEntry:
        if card.record_id in self._participant_call:
            raise Conflict("you are already in a call", code="already_in_call")
        existing = self._entries.get(card.record_id)
        if existing is not None and not (lane is Lane.PRIORITY and existing.lane is Lane.NORMAL):
            entry = replace(existing, disconnected_until=None)
        elif existing is not None:  # promoted: the priority lane's tail, joined_at kept
            entry = replace(existing, lane=lane, seq=self._next_seq(), disconnected_until=None)
        else:
            entry = QueueEntry(card, lane, self._next_seq(), now)
        self._entries[card.record_id] = entry
        return entry

    async def leave(self, record_id: str) -> bool:
        return self._entries.pop(record_id, None) is not None

    async def mark_disconnected(self, record_id: str, now: datetime) -> QueueEntry | None:
        entry = self._entries.get(record_id)
        if entry is None or entry.disconnected_until is not None:
            return entry
        entry = replace(entry, disconnected_until=now + self.config.disconnect_grace)
        self._entries[record_id] = entry
        return entry

    async def mark_reconnected(self, record_id: str) -> QueueEntry | None:
        entry = self._entries.get(record_id)
        if entry is not None:
            entry = self._entries[record_id] = replace(entry, disconnected_until=None)
        return entry

    async def expire_disconnected(self, now: datetime) -> tuple[str, ...]:
        gone = [
            e.record_id
            for e in in_order(self._entries.values())
            if e.disconnected_until is not None and e.disconnected_until <= now
        ]
        for record_id in gone:
            del self._entries[record_id]
        return tuple(gone)

    async def entry(self, record_id: str) -> QueueEntry | None:
        return self._entries.get(record_id)

    # -- officers -----------------------------------------------------------------------

    async def set_presence(self, officer_id: str, presence: Presence) -> None:
        if presence not in SETTABLE:
            raise ValidationError("presence must be available or away", code="bad_presence")
        if officer_id in self._officer_call:
            raise Conflict("you are in a call", code="officer_busy")
        self._presence[officer_id] = presence

    async def officer_presence(self, officer_id: str) -> Presence:
        if officer_id in self._officer_call:
            return Presence.BUSY
        return self._presence.get(officer_id, Presence.AWAY)

    # -- pairing ------------------------------------------------------------------------

    async def accept_next(
        self, officer_id: str, call_id: str, now: datetime
    ) -> Pairing | QueueEmpty:
        replay = self._replay(call_id, officer_id)
        if replay is not None:
            return replay
        if officer_id in self._officer_call:
            raise Conflict("finish your current call first", code="officer_busy")
        head = next_to_call(in_order(self._entries.values()))
        if head is None:
            return QueueEmpty(disconnected=len(self._entries))
        return self._pair(head, officer_id, call_id, now)

    async def assign(self, record_id: str, officer_id: str, call_id: str, now: datetime) -> Pairing:
        replay = self._replay(call_id, officer_id)
        if replay is not None:
            return replay
        if officer_id in self._officer_call:
            raise Conflict("that officer is in a call", code="officer_busy")
        entry = self._entries.get(record_id)
        if entry is None:
            raise NotFound("that participant is not waiting", code="not_waiting")
        if not entry.connected:
            raise Conflict("that participant is reconnecting", code="participant_disconnected")
        if self._presence.get(officer_id) is not Presence.AVAILABLE:
            raise Conflict("that officer is not available", code="officer_unavailable")
        return self._pair(entry, officer_id, call_id, now)

    def _replay(self, call_id: str, officer_id: str) -> Pairing | None:
        """A repeated call id returns the pairing it made (retries are safe)."""
        pairing = self._pairings.get(call_id)
        if pairing is None:
            return None
        if pairing.officer_id != officer_id:
            raise Conflict("call id already used", code="call_id_taken")
        return pairing

    def _pair(self, entry: QueueEntry, officer_id: str, call_id: str, now: datetime) -> Pairing:
        del self._entries[entry.record_id]
        pairing = Pairing(call_id, officer_id, now, entry)
        self._pairings[call_id] = pairing
        self._sessions[call_id] = start(call_id, entry.record_id, officer_id, now)
        self._officer_call[officer_id] = call_id
        self._participant_call[entry.record_id] = call_id
        return pairing

    async def pairing(self, call_id: str) -> Pairing | None:
        return self._pairings.get(call_id)

    async def call_of_participant(self, record_id: str) -> str | None:
        return self._participant_call.get(record_id)

    async def call_of_officer(self, officer_id: str) -> str | None:
        return self._officer_call.get(officer_id)

    # -- calls --------------------------------------------------------------------------

    async def get_call(self, call_id: str) -> CallSession | None:
        return self._sessions.get(call_id)

    async def save_call(self, session: CallSession, expected_version: int) -> bool:
        current = self._sessions.get(session.call_id)
        if current is None:
            if self._ended.get(session.call_id) == session.version:
                return True
            raise NotFound("no such call", code="call_not_found")
        if current.version != expected_version:
            return current == session  # the same save again succeeds; anything else lost a race
        if session.phase is Phase.ENDED and session.outcome is not None:
            self._finish(session, session.outcome)
        else:
            self._sessions[session.call_id] = session
        return True

    def _finish(self, session: CallSession, outcome: CallOutcome) -> None:
        pairing = self._pairings.pop(session.call_id)
        del self._sessions[session.call_id]
        self._ended[session.call_id] = session.version
        if len(self._ended) > _ENDED_KEPT:
            del self._ended[next(iter(self._ended))]  # oldest first: dicts keep insertion order
        self._officer_call.pop(session.officer_id, None)
        self._participant_call.pop(session.record_id, None)
        self._presence[session.officer_id] = outcome.officer_presence
        if outcome.call_seconds is not None:
            self._recent.appendleft(outcome.call_seconds)
        if outcome.requeue:
            self._entries[session.record_id] = QueueEntry(
                card=pairing.entry.card,
                lane=Lane.PRIORITY,
                seq=self._next_seq(),
                joined_at=outcome.ended_at,
                disconnected_until=outcome.requeue_away_until,
            )

    async def due_calls(self, now: datetime) -> tuple[str, ...]:
        due = [s for s in self._sessions.values() if s.deadline is not None and s.deadline <= now]
        return tuple(s.call_id for s in sorted(due, key=lambda s: (s.deadline, s.call_id)))

    async def live_calls(self) -> tuple[str, ...]:
        return tuple(sorted(self._sessions))

    async def snapshot(self) -> QueueSnapshot:
        free = [o for o, p in self._presence.items() if p is Presence.AVAILABLE]
        return QueueSnapshot(
            entries=in_order(self._entries.values()),
            officers_available=sum(1 for o in free if o not in self._officer_call),
            officers_busy=len(self._officer_call),
            recent_call_seconds=tuple(self._recent),
        )

    # -- connections --------------------------------------------------------------------

    async def add_connection(self, who: str, sid: str, node: str) -> int:
        if sid not in self._sockets:
            self._sockets[sid] = (who, node)
            self._connections[who] = self._connections.get(who, 0) + 1
        return self._connections.get(who, 0)

    async def remove_connection(self, who: str, sid: str) -> int:
        if sid in self._sockets:
            self._forget(sid)
        return self._connections.get(who, 0)

    async def drop_node_connections(self, node: str) -> tuple[str, ...]:
        lost = [sid for sid, (_, on) in self._sockets.items() if on == node]
        return tuple(sorted({who for who in map(self._forget, lost) if who is not None}))

    def _forget(self, sid: str) -> str | None:
        """Remove a socket; its owner if that was their last one."""
        who, _ = self._sockets.pop(sid)
        left = self._connections[who] - 1
        if left > 0:
            self._connections[who] = left
            return None
        del self._connections[who]
        return who
