"""The call queue: value types, the pure rules, and the ``QueueStore`` protocol.

Order: a priority lane (participants whose call our side cut off: officer dropped, node lost)
ahead of the normal lane; first come, first served within each lane. The store hands out a
strictly increasing ``seq`` on every join or requeue, so "first" means first seen by the store,
which is immune to clock skew between nodes.

A participant who disconnects keeps their place until ``disconnected_until``; meanwhile they
still count for positions but are skipped when an officer takes the next call (nobody would
answer). Officers cannot pick: ``accept_next`` takes the head; only a supervisor may ``assign``
a given participant to a given officer.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import ClassVar, Protocol

from videocall.nik import mask_nik
from videocall.presence import Presence
from videocall.sessions import CallSession


class Lane(StrEnum):
    PRIORITY = "priority"
    NORMAL = "normal"


LANE_RANK = {Lane.PRIORITY: 0, Lane.NORMAL: 1}
# A queue card never shows more NIK digits than mask_nik leaves (4 + 4).
_MAX_VISIBLE_NIK_DIGITS = 8


@dataclass(frozen=True, slots=True)
class ParticipantCard:
    """What officers may see of a waiting participant: never the full NIK, never photos."""

    record_id: str
    name: str
    nik_masked: str
    documents: tuple[str, ...] = ()  # kinds present, e.g. ("ktp", "selfie_with_ktp", "face")

    def __post_init__(self) -> None:
        if sum(c.isdigit() for c in self.nik_masked) > _MAX_VISIBLE_NIK_DIGITS:
            raise ValueError("a queue card must carry a masked NIK, not the full number")

    @classmethod
    def of(cls, record_id: str, name: str, nik: str, documents: Iterable[str]) -> ParticipantCard:
        """Build a card from record fields, masking the NIK."""
        return cls(record_id, name, mask_nik(nik), tuple(sorted(documents)))


@dataclass(frozen=True, slots=True)
class QueueEntry:
    card: ParticipantCard
    lane: Lane
    seq: int  # order within the lane, handed out by the store
    joined_at: datetime  # when they (re-)entered the queue
    disconnected_until: datetime | None = None  # set while in the disconnect grace window

    @property
    def record_id(self) -> str:
        return self.card.record_id

    @property
    def connected(self) -> bool:
        return self.disconnected_until is None


@dataclass(frozen=True, slots=True)
class Pairing:
    """An officer took a participant; the call ``call_id`` starts in phase ``paired``."""

    call_id: str
    officer_id: str
    paired_at: datetime
    entry: QueueEntry  # as it was in the queue (lane tells whether it was a requeue)

    @property
    def record_id(self) -> str:
        return self.entry.record_id


@dataclass(frozen=True, slots=True)
class QueueEmpty:
    """``accept_next`` found nobody to call. Not an error: the officer simply waits."""

    code: ClassVar[str] = "queue_empty"
    disconnected: int = 0  # waiting but in their grace window, so not callable now

    @property
    def message(self) -> str:
        if self.disconnected:
            return f"queue empty: {self.disconnected} waiting participant(s) are reconnecting"
        return "queue empty: nobody is waiting"


@dataclass(frozen=True, slots=True)
class QueueConfig:
    disconnect_grace_seconds: float = 60.0
    history_size: int = 20  # completed calls averaged for the wait estimate

    @property
    def disconnect_grace(self) -> timedelta:
        return timedelta(seconds=self.disconnect_grace_seconds)


DEFAULT_CONFIG = QueueConfig()


@dataclass(frozen=True, slots=True)
class QueueSnapshot:
    """One consistent read of the queue and the officers, for positions and the officer view."""

    entries: tuple[QueueEntry, ...]  # in queue order
    officers_available: int
    officers_busy: int
    recent_call_seconds: tuple[float, ...]  # newest first, at most history_size


@dataclass(frozen=True, slots=True)
class WaitStatus:
    """What a waiting participant sees."""

    position: int  # 1 = next
    estimated_wait_seconds: int | None  # None: no call history or no officer on duty
    lane: Lane


@dataclass(frozen=True, slots=True)
class WaitingListItem:
    record_id: str
    name: str
    nik_masked: str
    documents: tuple[str, ...]
    lane: Lane
    joined_at: datetime
    wait_seconds: int
    connected: bool


@dataclass(frozen=True, slots=True)
class OfficerQueueView:
    waiting: int
    longest_wait_seconds: int | None
    officers_available: int
    officers_busy: int
    entries: tuple[WaitingListItem, ...]


# -- rules --------------------------------------------------------------------------------


def order_key(entry: QueueEntry) -> tuple[int, int]:
    """Priority lane first, then by ``seq``."""
    return LANE_RANK[entry.lane], entry.seq


def in_order(entries: Iterable[QueueEntry]) -> tuple[QueueEntry, ...]:
    return tuple(sorted(entries, key=order_key))


def next_to_call(ordered: Iterable[QueueEntry]) -> QueueEntry | None:
    """The head of the queue, skipping participants who are reconnecting."""
    return next((e for e in ordered if e.connected), None)


def average_call_seconds(recent: Iterable[float]) -> float | None:
    lengths = list(recent)
    return sum(lengths) / len(lengths) if lengths else None


def estimate_wait(
    position: int, *, available: int, busy: int, average_call: float | None
) -> int | None:
    """Seconds until an officer takes the participant at ``position``; None when unknown.

    The first ``available`` positions are next for an idle officer. Beyond that, every officer
    on duty serves one participant per average call, and a busy officer is on average halfway
    through the current one. Away officers do not count: they are not taking calls.
    """
    if position < 1:
        raise ValueError("positions start at 1")
    on_duty = available + busy
    if average_call is None or on_duty == 0:
        return None
    if position <= available:
        return 0
    rounds = math.ceil((position - available) / on_duty)
    return round((rounds - 0.5) * average_call)


def wait_statuses(snapshot: QueueSnapshot) -> dict[str, WaitStatus]:
    """record id -> position and estimated wait, for everyone waiting."""
    average = average_call_seconds(snapshot.recent_call_seconds)
    statuses: dict[str, WaitStatus] = {}
    for position, entry in enumerate(snapshot.entries, start=1):
        wait = estimate_wait(
            position,
            available=snapshot.officers_available,
            busy=snapshot.officers_busy,
            average_call=average,
        )
        statuses[entry.record_id] = WaitStatus(position, wait, entry.lane)
    return statuses


def changed_statuses(
    previous: Mapping[str, WaitStatus], current: Mapping[str, WaitStatus]
) -> dict[str, WaitStatus]:
    """The statuses to push: new participants and those whose position or estimate moved."""
    return {rid: s for rid, s in current.items() if previous.get(rid) != s}


def _wait_seconds(entry: QueueEntry, now: datetime) -> int:
    return max(0, int((now - entry.joined_at).total_seconds()))


def officer_view(snapshot: QueueSnapshot, now: datetime) -> OfficerQueueView:
    """The officers' waiting list: counts, longest wait and the cards, in queue order."""
    items = tuple(
        WaitingListItem(
            record_id=e.record_id,
            name=e.card.name,
            nik_masked=e.card.nik_masked,
            documents=e.card.documents,
            lane=e.lane,
            joined_at=e.joined_at,
            wait_seconds=_wait_seconds(e, now),
            connected=e.connected,
        )
        for e in snapshot.entries
    )
    return OfficerQueueView(
        waiting=len(items),
        longest_wait_seconds=max((i.wait_seconds for i in items), default=None),
        officers_available=snapshot.officers_available,
        officers_busy=snapshot.officers_busy,
        entries=items,
    )


# -- the store ----------------------------------------------------------------------------


class QueueStore(Protocol):
    """Waiting participants, officer presence and live calls, behind one interface.

    Implementations: ``adapters.memory_queue`` (one process) and ``adapters.redis_queue``
    (shared by all nodes, survives restarts). Every method is atomic on its own.
    """

    async def join(
        self, card: ParticipantCard, now: datetime, lane: Lane = Lane.NORMAL
    ) -> QueueEntry:
        """Enter ``lane`` (normal; priority at a booked time) at its tail. Idempotent: someone
        already waiting keeps their place (and is marked reconnected); joining the priority
        lane from the normal one moves them to its tail, never the other way.
        Conflict(code='already_in_call') during a call."""

    async def leave(self, record_id: str) -> bool:
        """Leave at once (on purpose); False if they were not waiting."""

    async def mark_disconnected(self, record_id: str, now: datetime) -> QueueEntry | None:
        """Start the grace window (kept if already running); None if not waiting."""

    async def mark_reconnected(self, record_id: str) -> QueueEntry | None:
        """End the grace window; None if not waiting (it ran out, or they were never here)."""

    async def expire_disconnected(self, now: datetime) -> tuple[str, ...]:
        """Remove everyone whose grace window ended by ``now``; their record ids."""

    async def entry(self, record_id: str) -> QueueEntry | None: ...

    async def set_presence(self, officer_id: str, presence: Presence) -> None:
        """Available or away; Conflict(code='officer_busy') while in a call,
        ValidationError for busy (it follows calls)."""

    async def officer_presence(self, officer_id: str) -> Presence:
        """Busy while in a call; away when never seen."""

    async def accept_next(
        self, officer_id: str, call_id: str, now: datetime
    ) -> Pairing | QueueEmpty:
        """Atomically pair the officer with the head of the queue. Conflict(code='officer_busy')
        if the officer already has a call. Idempotent for a repeated ``call_id``."""

    async def assign(self, record_id: str, officer_id: str, call_id: str, now: datetime) -> Pairing:
        """Supervisor: pair a given participant with a given available officer. Checked in
        this order: Conflict(code='officer_busy'), NotFound(code='not_waiting'),
        Conflict(code='participant_disconnected' | 'officer_unavailable')."""

    async def pairing(self, call_id: str) -> Pairing | None: ...

    async def call_of_participant(self, record_id: str) -> str | None: ...

    async def call_of_officer(self, officer_id: str) -> str | None: ...

    async def get_call(self, call_id: str) -> CallSession | None:
        """The live session (``sessions.start`` state right after pairing); None once ended."""

    async def save_call(self, session: CallSession, expected_version: int) -> bool:
        """Compare-and-set: False if the stored version is not ``expected_version`` (reload and
        re-apply the event). An ended session is applied atomically: the call is removed, the
        officer released with the outcome's presence, a completed call's length recorded and
        the participant requeued in the priority lane if asked. NotFound if no such call."""

    async def due_calls(self, now: datetime) -> tuple[str, ...]:
        """Calls whose grace deadline passed: send them ``sessions.Tick``."""

    async def live_calls(self) -> tuple[str, ...]: ...

    async def snapshot(self) -> QueueSnapshot: ...

    # Connections: a person (``participant:<record id>``, ``officer:<id>``) may have several
    # sockets (tabs) on several nodes; they count as gone only when the last one closes. The
    # count lives in the store, shared by every node.

    async def add_connection(self, who: str, sid: str, node: str) -> int:
        """Note socket ``sid`` of ``who`` on ``node``; how many sockets ``who`` has now."""

    async def remove_connection(self, who: str, sid: str) -> int:
        """Forget socket ``sid``; how many ``who`` still has (0: their grace window starts)."""

    async def drop_node_connections(self, node: str) -> tuple[str, ...]:
        """Forget every socket on a lost node; who is left with none, sorted."""
