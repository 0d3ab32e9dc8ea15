"""One suite for both queue stores (in-process and Redis): same behaviour, same guarantees.

Redis tests use the real server (TEST_REDIS_URL), each with its own key prefix, deleted after.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from redis.asyncio import Redis

from tests.support import REDIS_URL
from videocall import sessions
from videocall.adapters.memory_queue import MemoryQueueStore
from videocall.adapters.redis_queue import RedisQueueStore, connect
from videocall.errors import Conflict, NotFound, ValidationError
from videocall.presence import Presence
from videocall.queue import (
    DEFAULT_CONFIG,
    Lane,
    Pairing,
    ParticipantCard,
    QueueConfig,
    QueueEmpty,
    QueueStore,
)
from videocall.sessions import Disconnected, Hangup, MediaConnected, Phase, Side, Tick

T0 = datetime(2026, 11, 24, 3, 0, tzinfo=UTC)
BACKENDS = ["memory", pytest.param("redis", marks=pytest.mark.redis)]


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def card(n: int | str) -> ParticipantCard:
    return ParticipantCard.of(f"rec-{n}", f"Peserta {n}", "3201234101900001", ["ktp", "face"])


class Backend:
    """Opens stores of one kind. ``open()`` twice gives two handles on the same queue: for
    Redis two clients (two nodes, or before and after a restart), for memory the same object."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.prefix = f"test-queue-{uuid.uuid4().hex[:12]}"
        self.clients: list[Redis] = []
        self._memory: MemoryQueueStore | None = None

    def open(self, config: QueueConfig = DEFAULT_CONFIG) -> QueueStore:
        if self.kind == "memory":
            if self._memory is None:
                self._memory = MemoryQueueStore(config)
            return self._memory
        client = connect(REDIS_URL)
        self.clients.append(client)
        return RedisQueueStore(client, prefix=self.prefix, config=config)

    async def close(self) -> None:
        if self.clients:
            cleaner = RedisQueueStore(self.clients[0], prefix=self.prefix)
            await cleaner.clear()
            assert not [k async for k in self.clients[0].scan_iter(match=f"{{{self.prefix}}}*")]
        for client in self.clients:
            await client.aclose()


@pytest.fixture(params=BACKENDS)
async def backend(request: pytest.FixtureRequest) -> AsyncIterator[Backend]:
    b = Backend(request.param)
    yield b
    await b.close()


@pytest.fixture
def store(backend: Backend) -> QueueStore:
    return backend.open()


async def fill(store: QueueStore, n: int, start: int = 0) -> None:
    for i in range(start, start + n):
        await store.join(card(i), at(i))


async def order(store: QueueStore) -> list[str]:
    return [e.record_id for e in (await store.snapshot()).entries]


async def pair(store: QueueStore, officer: str, call_id: str, now: datetime = T0) -> Pairing:
    result = await store.accept_next(officer, call_id, now)
    assert isinstance(result, Pairing), result
    return result


async def end_call(store: QueueStore, call_id: str, *steps: tuple[float, sessions.Event]) -> None:
    """Drive the call's session through ``steps`` and save each change, as signalling will."""
    session = await store.get_call(call_id)
    assert session is not None
    for seconds, event in steps:
        after, _ = sessions.transition(session, event, at(seconds))
        if after is not session:
            assert await store.save_call(after, session.version)
        session = after
    assert session.phase is Phase.ENDED


# -- joining and leaving ------------------------------------------------------------------


async def test_first_come_first_served(store: QueueStore) -> None:
    await fill(store, 3)
    snap = await store.snapshot()
    assert [e.record_id for e in snap.entries] == ["rec-0", "rec-1", "rec-2"]
    assert [e.seq for e in snap.entries] == [1, 2, 3]
    assert {e.lane for e in snap.entries} == {Lane.NORMAL}
    assert snap.entries[1].joined_at == at(1)
    assert snap.entries[0].card == card(0)


async def test_joining_twice_keeps_the_place(store: QueueStore) -> None:
    await fill(store, 2)
    again = await store.join(card(0), at(50))
    assert (again.seq, again.joined_at) == (1, at(0))
    assert await order(store) == ["rec-0", "rec-1"]


async def test_joining_the_priority_lane(store: QueueStore) -> None:
    """A booked participant joins ahead of the walk-ins; someone already waiting in the normal
    lane moves to the priority lane's tail (joined_at kept); nobody is ever moved down."""
    await fill(store, 3)
    booked = await store.join(card("b1"), at(10), lane=Lane.PRIORITY)
    assert (booked.lane, booked.joined_at, booked.connected) == (Lane.PRIORITY, at(10), True)
    assert await order(store) == ["rec-b1", "rec-0", "rec-1", "rec-2"]
    promoted = await store.join(card(2), at(20), lane=Lane.PRIORITY)
    assert (promoted.lane, promoted.joined_at) == (Lane.PRIORITY, at(2))
    assert await order(store) == ["rec-b1", "rec-2", "rec-0", "rec-1"]
    again = await store.join(card("b1"), at(30))  # a reconnect in the normal lane: kept
    assert (again.lane, again.seq) == (Lane.PRIORITY, booked.seq)
    assert await store.join(card(2), at(31), lane=Lane.PRIORITY) == promoted
    await store.mark_disconnected("rec-0", at(32))
    rejoined = await store.join(card(0), at(33), lane=Lane.PRIORITY)
    assert (rejoined.lane, rejoined.connected) == (Lane.PRIORITY, True)
    assert await order(store) == ["rec-b1", "rec-2", "rec-0", "rec-1"]
    assert (await pair(store, "off-1", "call-1")).entry.lane is Lane.PRIORITY


async def test_leaving_removes_at_once(store: QueueStore) -> None:
    await fill(store, 3)
    assert await store.leave("rec-1")
    assert not await store.leave("rec-1")
    assert not await store.leave("nobody")
    assert await order(store) == ["rec-0", "rec-2"]
    assert await store.entry("rec-1") is None


# -- disconnect grace ---------------------------------------------------------------------


async def test_a_disconnected_participant_keeps_their_place(store: QueueStore) -> None:
    await fill(store, 3)
    gone = await store.mark_disconnected("rec-0", at(10))
    assert gone is not None and gone.disconnected_until == at(70)
    again = await store.mark_disconnected("rec-0", at(40))  # the first deadline stands
    assert again is not None and again.disconnected_until == at(70)
    assert await order(store) == ["rec-0", "rec-1", "rec-2"]
    assert await store.expire_disconnected(at(69)) == ()
    back = await store.mark_reconnected("rec-0")
    assert back is not None and back.connected
    assert await store.expire_disconnected(at(500)) == ()
    assert await order(store) == ["rec-0", "rec-1", "rec-2"]


async def test_rejoining_within_grace_reconnects(store: QueueStore) -> None:
    await fill(store, 2)
    await store.mark_disconnected("rec-0", at(10))
    entry = await store.join(card(0), at(20))
    assert entry.connected and entry.seq == 1


async def test_grace_runs_out(store: QueueStore) -> None:
    await fill(store, 4)
    await store.mark_disconnected("rec-1", at(10))
    await store.mark_disconnected("rec-3", at(30))
    assert set(await store.expire_disconnected(at(70))) == {"rec-1"}
    assert await order(store) == ["rec-0", "rec-2", "rec-3"]
    assert await store.mark_reconnected("rec-1") is None
    assert set(await store.expire_disconnected(at(90))) == {"rec-3"}


async def test_grace_window_is_configurable(backend: Backend) -> None:
    store = backend.open(QueueConfig(disconnect_grace_seconds=5))
    await fill(store, 1)
    entry = await store.mark_disconnected("rec-0", at(10))
    assert entry is not None and entry.disconnected_until == at(15)


async def test_unknown_participants(store: QueueStore) -> None:
    assert await store.mark_disconnected("nobody", T0) is None
    assert await store.mark_reconnected("nobody") is None
    assert await store.entry("nobody") is None


# -- officers -----------------------------------------------------------------------------


async def test_presence(store: QueueStore) -> None:
    assert await store.officer_presence("off-1") is Presence.AWAY  # never seen
    await store.set_presence("off-1", Presence.AVAILABLE)
    await store.set_presence("off-2", Presence.AVAILABLE)
    await store.set_presence("off-3", Presence.AWAY)
    assert await store.officer_presence("off-1") is Presence.AVAILABLE
    with pytest.raises(ValidationError):
        await store.set_presence("off-1", Presence.BUSY)
    await fill(store, 1)
    await pair(store, "off-1", "call-1")
    assert await store.officer_presence("off-1") is Presence.BUSY
    with pytest.raises(Conflict) as caught:
        await store.set_presence("off-1", Presence.AWAY)
    assert caught.value.code == "officer_busy"
    snap = await store.snapshot()
    assert (snap.officers_available, snap.officers_busy) == (1, 1)


# -- taking calls -------------------------------------------------------------------------


async def test_accept_takes_the_head(store: QueueStore) -> None:
    await fill(store, 3)
    pairing = await pair(store, "off-1", "call-1", at(100))
    assert (pairing.call_id, pairing.officer_id, pairing.paired_at) == ("call-1", "off-1", at(100))
    assert pairing.entry.card == card(0) and pairing.entry.seq == 1
    assert await order(store) == ["rec-1", "rec-2"]
    assert await store.call_of_officer("off-1") == "call-1"
    assert await store.call_of_participant("rec-0") == "call-1"
    assert await store.pairing("call-1") == pairing
    assert await store.live_calls() == ("call-1",)


async def test_accept_while_busy_is_refused(store: QueueStore) -> None:
    await fill(store, 3)
    await pair(store, "off-1", "call-1")
    with pytest.raises(Conflict) as caught:
        await store.accept_next("off-1", "call-2", T0)
    assert caught.value.code == "officer_busy"
    assert await order(store) == ["rec-1", "rec-2"]


async def test_accept_on_an_empty_queue(store: QueueStore) -> None:
    result = await store.accept_next("off-1", "call-1", T0)
    assert result == QueueEmpty()
    assert await store.call_of_officer("off-1") is None


async def test_accept_skips_the_reconnecting(store: QueueStore) -> None:
    await fill(store, 2)
    await store.mark_disconnected("rec-0", at(5))
    assert (await pair(store, "off-1", "call-1")).record_id == "rec-1"
    assert await store.accept_next("off-2", "call-2", T0) == QueueEmpty(disconnected=1)
    assert await order(store) == ["rec-0"]


async def test_accept_is_idempotent_per_call_id(store: QueueStore) -> None:
    await fill(store, 2)
    first = await pair(store, "off-1", "call-1")
    assert await store.accept_next("off-1", "call-1", at(9)) == first  # a retried command
    assert await order(store) == ["rec-1"]
    with pytest.raises(Conflict) as caught:
        await store.accept_next("off-2", "call-1", T0)
    assert caught.value.code == "call_id_taken"


async def test_joining_during_a_call_is_refused(store: QueueStore) -> None:
    await fill(store, 1)
    await pair(store, "off-1", "call-1")
    with pytest.raises(Conflict) as caught:
        await store.join(card(0), at(5))
    assert caught.value.code == "already_in_call"


async def test_supervisor_assigns(store: QueueStore) -> None:
    await fill(store, 3)
    await store.set_presence("off-1", Presence.AVAILABLE)
    pairing = await store.assign("rec-2", "off-1", "call-1", at(5))
    assert (pairing.record_id, pairing.officer_id) == ("rec-2", "off-1")
    assert await order(store) == ["rec-0", "rec-1"]
    assert await store.officer_presence("off-1") is Presence.BUSY


@pytest.mark.parametrize(
    ("record_id", "officer", "error", "code"),
    [
        ("nobody", "off-free", NotFound, "not_waiting"),
        ("rec-1", "off-free", Conflict, "participant_disconnected"),
        ("rec-0", "off-busy", Conflict, "officer_busy"),
        ("rec-0", "off-away", Conflict, "officer_unavailable"),
        ("rec-0", "off-unknown", Conflict, "officer_unavailable"),
    ],
)
async def test_supervisor_assign_refusals(
    store: QueueStore, record_id: str, officer: str, error: type[Exception], code: str
) -> None:
    await fill(store, 3)
    await store.mark_disconnected("rec-1", T0)
    for name, presence in (("free", Presence.AVAILABLE), ("busy", Presence.AVAILABLE)):
        await store.set_presence(f"off-{name}", presence)
    await store.set_presence("off-away", Presence.AWAY)
    await store.assign("rec-2", "off-busy", "call-0", T0)
    with pytest.raises(error) as caught:
        await store.assign(record_id, officer, "call-1", T0)
    assert caught.value.code == code  # type: ignore[attr-defined]
    assert await order(store) == ["rec-0", "rec-1"]


# -- call sessions ------------------------------------------------------------------------


async def test_a_new_call_starts_paired(store: QueueStore) -> None:
    await fill(store, 1)
    await pair(store, "off-1", "call-1", at(3))
    assert await store.get_call("call-1") == sessions.start("call-1", "rec-0", "off-1", at(3))
    assert await store.get_call("nope") is None


async def test_saving_is_compare_and_set(store: QueueStore) -> None:
    await fill(store, 1)
    await pair(store, "off-1", "call-1")
    session = await store.get_call("call-1")
    assert session is not None
    active, _ = sessions.transition(session, MediaConnected(), at(5))
    assert await store.save_call(active, expected_version=0)
    assert await store.save_call(active, expected_version=0)  # the same save again: fine
    other, _ = sessions.transition(session, Disconnected(Side.OFFICER), at(6))
    assert not await store.save_call(other, expected_version=0)  # lost the race
    assert await store.get_call("call-1") == active


async def test_deadlines_are_indexed(store: QueueStore) -> None:
    await fill(store, 2)
    await pair(store, "off-1", "call-1")
    await pair(store, "off-2", "call-2")
    for call_id, side, when in (("call-1", Side.OFFICER, 10), ("call-2", Side.PARTICIPANT, 5)):
        session = await store.get_call(call_id)
        assert session is not None
        away, _ = sessions.transition(session, Disconnected(side), at(when))
        assert await store.save_call(away, session.version)
    assert await store.due_calls(at(29)) == ()
    assert await store.due_calls(at(30)) == ("call-1",)
    assert set(await store.due_calls(at(65))) == {"call-1", "call-2"}


async def test_a_completed_call_frees_the_officer_and_feeds_the_estimate(
    store: QueueStore,
) -> None:
    await fill(store, 2)
    await store.set_presence("off-1", Presence.AVAILABLE)
    await pair(store, "off-1", "call-1")
    await end_call(store, "call-1", (1, MediaConnected()), (241, Hangup(Side.OFFICER)))
    assert await store.get_call("call-1") is None
    assert await store.live_calls() == ()
    assert await store.call_of_officer("off-1") is None
    assert await store.call_of_participant("rec-0") is None
    assert await store.officer_presence("off-1") is Presence.AVAILABLE
    snap = await store.snapshot()
    assert snap.recent_call_seconds == (240.0,)
    assert (snap.officers_available, snap.officers_busy) == (1, 0)
    assert [e.record_id for e in snap.entries] == ["rec-1"]  # not requeued


async def test_officer_lost_puts_the_participant_back_at_the_head(store: QueueStore) -> None:
    await fill(store, 3)
    await pair(store, "off-1", "call-1")
    await end_call(
        store, "call-1", (1, MediaConnected()), (10, Disconnected(Side.OFFICER)), (31, Tick())
    )
    snap = await store.snapshot()
    head = snap.entries[0]
    assert [e.record_id for e in snap.entries] == ["rec-0", "rec-1", "rec-2"]
    assert (head.lane, head.joined_at, head.card, head.connected) == (
        Lane.PRIORITY,
        at(30),
        card(0),
        True,
    )
    assert await store.officer_presence("off-1") is Presence.AWAY
    assert snap.recent_call_seconds == ()
    # The next officer gets them first.
    assert (await pair(store, "off-2", "call-2")).record_id == "rec-0"


async def test_requeued_while_away_keeps_the_rest_of_the_grace(store: QueueStore) -> None:
    await fill(store, 2)
    await pair(store, "off-1", "call-1")
    await end_call(
        store,
        "call-1",
        (1, MediaConnected()),
        (5, Disconnected(Side.PARTICIPANT)),
        (10, Disconnected(Side.OFFICER)),
        (30, Tick()),
    )
    entry = await store.entry("rec-0")
    assert entry is not None and entry.lane is Lane.PRIORITY
    assert entry.disconnected_until == at(65)
    assert (await pair(store, "off-2", "call-2")).record_id == "rec-1"  # skipped while away


async def test_a_call_that_never_connects_is_due_and_requeues(store: QueueStore) -> None:
    await fill(store, 2)
    await store.set_presence("off-1", Presence.AVAILABLE)
    await pair(store, "off-1", "call-1")
    session = await store.get_call("call-1")
    assert session is not None
    opened, _ = sessions.transition(session, sessions.Started(), at(1))
    assert await store.save_call(opened, session.version)
    assert await store.get_call("call-1") == opened
    assert await store.due_calls(at(89)) == ()
    assert await store.due_calls(at(90)) == ("call-1",)
    await end_call(store, "call-1", (5, sessions.Connecting()), (91, Tick()))
    head = (await store.snapshot()).entries[0]
    assert (head.record_id, head.lane, head.joined_at) == ("rec-0", Lane.PRIORITY, at(90))
    assert await store.officer_presence("off-1") is Presence.AVAILABLE
    assert await store.due_calls(at(200)) == ()


async def test_participant_gone_does_not_requeue(store: QueueStore) -> None:
    await fill(store, 2)
    await pair(store, "off-1", "call-1")
    await end_call(store, "call-1", (5, Disconnected(Side.PARTICIPANT)), (65, Tick()))
    assert await order(store) == ["rec-1"]
    assert await store.officer_presence("off-1") is Presence.AVAILABLE
    await store.join(card(0), at(70))  # they may queue again, at the tail
    assert await order(store) == ["rec-1", "rec-0"]


async def test_connections_are_counted_per_person(store: QueueStore) -> None:
    assert await store.add_connection("participant:rec-0", "sid-1", "node-a") == 1
    assert await store.add_connection("participant:rec-0", "sid-2", "node-b") == 2
    assert await store.add_connection("participant:rec-0", "sid-2", "node-b") == 2  # retried
    assert await store.add_connection("officer:off-1", "sid-3", "node-a") == 1
    assert await store.remove_connection("participant:rec-0", "sid-1") == 1
    assert await store.remove_connection("participant:rec-0", "sid-1") == 1  # retried
    assert await store.remove_connection("participant:rec-0", "sid-2") == 0
    assert await store.remove_connection("participant:rec-0", "sid-2") == 0
    assert await store.remove_connection("officer:off-1", "sid-3") == 0


async def test_a_lost_node_takes_its_connections(backend: Backend) -> None:
    store, other_node = backend.open(), backend.open()
    await store.add_connection("participant:rec-0", "sid-1", "node-a")
    await store.add_connection("participant:rec-0", "sid-2", "node-a")  # two tabs, one node
    await store.add_connection("participant:rec-1", "sid-3", "node-a")
    await store.add_connection("participant:rec-1", "sid-4", "node-b")  # still has one
    await store.add_connection("officer:off-1", "sid-5", "node-a")
    await store.add_connection("officer:off-2", "sid-6", "node-b")
    lost = await other_node.drop_node_connections("node-a")
    assert lost == ("officer:off-1", "participant:rec-0")
    assert await store.drop_node_connections("node-a") == ()
    assert await store.remove_connection("participant:rec-0", "sid-1") == 0  # late disconnect
    assert await store.add_connection("participant:rec-1", "sid-7", "node-c") == 2
    assert await store.remove_connection("participant:rec-1", "sid-4") == 1


async def test_call_history_is_capped(backend: Backend) -> None:
    store = backend.open(QueueConfig(history_size=3))
    await fill(store, 5)
    for i in range(5):
        await pair(store, "off-1", f"call-{i}")
        await end_call(store, f"call-{i}", (0, MediaConnected()), (10 + i, Hangup(Side.OFFICER)))
    assert (await store.snapshot()).recent_call_seconds == (14.0, 13.0, 12.0)


async def test_saving_an_ended_call_twice_is_harmless(store: QueueStore) -> None:
    await fill(store, 1)
    await pair(store, "off-1", "call-1")
    session = await store.get_call("call-1")
    assert session is not None
    ended, _ = sessions.transition(session, Hangup(Side.OFFICER), at(5))  # requeues
    assert await store.save_call(ended, session.version)
    assert await store.save_call(ended, session.version)  # a retry after a lost reply
    assert await order(store) == ["rec-0"]  # requeued once
    with pytest.raises(NotFound):
        await store.save_call(sessions.start("ghost", "r", "o", T0), 0)


# -- concurrency --------------------------------------------------------------------------


async def test_fifty_officers_accept_at_once(backend: Backend) -> None:
    """No participant paired twice, nobody lost, no officer with two calls, no lost accept."""
    nodes = [backend.open() for _ in range(2)]  # two nodes for Redis: separate clients
    await fill(nodes[0], 200)
    officers = [f"off-{i}" for i in range(50)]
    paired: dict[str, str] = {}  # record id -> officer
    round_no = 0
    while True:
        results = await asyncio.gather(
            *(
                nodes[i % 2].accept_next(officer, f"call-{round_no}-{i}", at(round_no))
                for i, officer in enumerate(officers)
            )
        )
        pairings = [r for r in results if isinstance(r, Pairing)]
        empties = [r for r in results if isinstance(r, QueueEmpty)]
        assert len(pairings) + len(empties) == len(officers)  # every accept has an answer
        for p in pairings:
            assert p.record_id not in paired, f"{p.record_id} paired twice"
            paired[p.record_id] = p.officer_id
        assert len({p.officer_id for p in pairings}) == len(pairings)
        snap = await nodes[1].snapshot()
        assert snap.officers_busy == len(pairings)
        assert len(snap.entries) == 200 - len(paired)  # nobody lost
        if not pairings:
            break
        await asyncio.gather(
            *(end_call(nodes[1], p.call_id, (0, Hangup(Side.PARTICIPANT))) for p in pairings)
        )
        round_no += 1
    assert sorted(paired) == sorted(f"rec-{i}" for i in range(200))
    assert round_no == 4 and (await nodes[0].snapshot()).entries == ()


async def test_one_officer_accepting_many_times_at_once_gets_one_call(backend: Backend) -> None:
    nodes = [backend.open() for _ in range(2)]
    await fill(nodes[0], 10)
    results = await asyncio.gather(
        *(nodes[i % 2].accept_next("off-1", f"call-{i}", T0) for i in range(8)),
        return_exceptions=True,
    )
    assert sum(isinstance(r, Pairing) for r in results) == 1
    assert all(isinstance(r, Pairing) or getattr(r, "code", "") == "officer_busy" for r in results)
    assert len(await order(nodes[0])) == 9


async def test_joins_and_accepts_interleaved(backend: Backend) -> None:
    nodes = [backend.open() for _ in range(2)]
    joins = [nodes[0].join(card(i), at(i)) for i in range(60)]
    accepts = [nodes[1].accept_next(f"off-{i}", f"call-{i}", at(i)) for i in range(40)]
    results = await asyncio.gather(*joins, *accepts)
    pairings = [r for r in results[60:] if isinstance(r, Pairing)]
    waiting = await order(nodes[0])
    taken = [p.record_id for p in pairings]
    assert len(set(taken)) == len(taken)
    assert sorted(taken + waiting) == sorted(f"rec-{i}" for i in range(60))


# -- restart ------------------------------------------------------------------------------


@pytest.mark.redis
async def test_redis_state_survives_a_restart() -> None:
    backend = Backend("redis")
    try:
        before = backend.open()
        await fill(before, 4)
        await before.set_presence("off-1", Presence.AVAILABLE)
        await before.set_presence("off-2", Presence.AVAILABLE)
        await before.mark_disconnected("rec-3", at(10))
        await pair(before, "off-1", "call-1")
        session = await before.get_call("call-1")
        assert session is not None
        active, _ = sessions.transition(session, MediaConnected(), at(20))
        assert await before.save_call(active, session.version)
        snap = await before.snapshot()
        await backend.clients[0].aclose()  # the server goes down

        after = backend.open()  # a new process on the same prefix
        assert await after.snapshot() == snap
        assert await after.get_call("call-1") == active
        assert await after.officer_presence("off-1") is Presence.BUSY
        assert await after.officer_presence("off-2") is Presence.AVAILABLE
        assert await after.call_of_participant("rec-0") == "call-1"
        assert (await pair(after, "off-2", "call-2")).record_id == "rec-1"
        backend.clients = backend.clients[1:]
    finally:
        await backend.close()


@pytest.mark.redis
async def test_redis_store_needs_decoded_responses() -> None:
    client = Redis.from_url(REDIS_URL)
    try:
        with pytest.raises(ValueError, match="decode_responses"):
            RedisQueueStore(client)
    finally:
        await client.aclose()


# -- the two backends agree on any sequence of operations --------------------------------

Op = tuple[str, int, int]
_EVENTS: list[sessions.Event] = [
    sessions.Connecting(),
    MediaConnected(),
    Tick(),
    Disconnected(Side.PARTICIPANT),
    Disconnected(Side.OFFICER),
    sessions.Reconnected(Side.PARTICIPANT),
    sessions.Reconnected(Side.OFFICER),
    Hangup(Side.PARTICIPANT),
    Hangup(Side.OFFICER),
    sessions.MediaLost(),
    sessions.Started(),
]
# Weighted so that sequences reach calls and their endings, not only empty-queue answers.
_OP_NAMES = (
    ["join"] * 4
    + ["accept", "event"] * 4
    + ["available"] * 2
    + ["leave", "disconnect", "reconnect", "expire", "away", "assign", "wait"]
)
OPS = st.lists(
    st.tuples(st.sampled_from(_OP_NAMES), st.integers(0, 5), st.integers(0, len(_EVENTS) - 1)),
    min_size=10,
    max_size=60,
)


async def _apply(store: QueueStore, op: Op, now: datetime, call_no: int) -> object:
    """One operation; errors become their code so both backends can be compared."""
    name, n, m = op
    officer, call_id = f"off-{n % 3}", f"call-{call_no}"
    try:
        match name:
            case "join":
                return await store.join(card(n), now)
            case "leave":
                return await store.leave(f"rec-{n}")
            case "disconnect":
                return await store.mark_disconnected(f"rec-{n}", now)
            case "reconnect":
                return await store.mark_reconnected(f"rec-{n}")
            case "expire":
                return sorted(await store.expire_disconnected(now))
            case "available" | "away":
                await store.set_presence(officer, Presence(name))
            case "accept":
                return await store.accept_next(officer, call_id, now)
            case "assign":
                return await store.assign(f"rec-{n}", officer, call_id, now)
            case "event":
                return await _session_event(store, officer, _EVENTS[m], now)
    except (Conflict, NotFound) as exc:
        return exc.code
    return None


async def _session_event(
    store: QueueStore, officer: str, event: sessions.Event, now: datetime
) -> object:
    call_id = await store.call_of_officer(officer)
    session = await store.get_call(call_id) if call_id else None
    if session is None:
        return "no_call"
    after, effects = sessions.transition(session, event, now)
    if after is not session:
        assert await store.save_call(after, session.version)
    return effects


async def _state(store: QueueStore) -> object:
    calls = await store.live_calls()
    return (
        await store.snapshot(),
        [await store.officer_presence(f"off-{i}") for i in range(3)],
        [await store.get_call(c) for c in calls],
        [await store.pairing(c) for c in calls],
    )


@pytest.mark.redis
@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops=OPS, gaps=st.lists(st.sampled_from([0, 1, 5, 25]), min_size=60, max_size=60))
async def test_backends_agree(ops: list[Op], gaps: list[int]) -> None:
    """Memory is the reference; Redis must give the same answers and end in the same state."""
    backend = Backend("redis")
    try:
        stores = [MemoryQueueStore(), backend.open()]
        now = T0
        for i, op in enumerate(ops):
            now += timedelta(seconds=gaps[i])
            answers = [await _apply(s, op, now, i) for s in stores]
            assert answers[0] == answers[1], op
        assert await _state(stores[0]) == await _state(stores[1])
    finally:
        await backend.close()
