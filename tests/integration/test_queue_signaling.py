"""The /participant and /officer namespaces end to end: the real app over real HTTP, real
python-socketio clients, SQLite; the queue in process and in Redis."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime
from typing import Any

import pytest
import socketio
from aiohttp import web
from aiohttp.test_utils import TestClient

from server import RECONCILER
from tests.conftest import Participant
from tests.support import REDIS_URL, SettableClock
from videocall.accounts import Account, Role
from videocall.adapters.redis_queue import RedisQueueStore, connect
from videocall.placement import NodeInfo
from web import keys
from web.keys import DESK

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)

Client = TestClient[web.Request, web.Application]
NIK_DIGITS = 16


class Sock:
    """One browser tab's Socket.IO connection, recording every event it receives."""

    def __init__(self, client: Client, namespace: str, **connect_args: Any) -> None:
        self.client = client
        self.namespace = namespace
        self.connect_args = connect_args
        self.sio = socketio.AsyncClient(reconnection=False)
        self.events: list[tuple[str, Any]] = []
        self.sio.on("*", self._record, namespace=namespace)

    async def _record(self, event: str, data: Any = None) -> None:
        self.events.append((event, data))

    async def connect(self) -> Sock:
        await self.sio.connect(
            str(self.client.make_url("/")),
            namespaces=[self.namespace],
            transports=["websocket"],
            **self.connect_args,
        )
        return self

    async def call(self, event: str, data: Any = None) -> Any:
        return await self.sio.call(event, {} if data is None else data, self.namespace, timeout=10)

    async def next(self, event: str, where: Callable[[Any], bool] = lambda _: True) -> Any:
        """Wait for (and consume) the first ``event`` matching ``where``."""
        for _ in range(500):
            for i, (name, data) in enumerate(self.events):
                if name == event and where(data):
                    del self.events[i]
                    return data
            await asyncio.sleep(0.01)
        raise AssertionError(f"no {event} on {self.namespace}; got {self.events}")

    def seen(self, event: str) -> list[Any]:
        return [d for n, d in self.events if n == event]

    async def close(self) -> None:
        await self.sio.disconnect()


QUEUE_BACKENDS = ["memory", pytest.param("redis", marks=pytest.mark.redis)]


@contextlib.asynccontextmanager
async def app_with_queue(
    app_factory: Callable[..., Awaitable[Client]], backend: str, name: str
) -> AsyncIterator[Client]:
    """The app with the queue in process (``memory``), or in Redis (with the Socket.IO Redis
    manager) under a fresh ``test-<name>-`` prefix, cleared afterwards."""
    if backend == "memory":
        yield await app_factory()
        return
    prefix = f"test-{name}-{uuid.uuid4().hex[:12]}"
    client = await app_factory(redis_url=REDIS_URL, redis_prefix=prefix)
    yield client
    await client.close()  # before deleting the keys: no handler may run meanwhile
    redis = connect(REDIS_URL)
    await RedisQueueStore(redis, prefix=prefix).clear()
    await redis.aclose()


@pytest.fixture(params=QUEUE_BACKENDS)
async def desk_client(
    request: pytest.FixtureRequest, app_factory: Callable[..., Awaitable[Client]]
) -> AsyncIterator[Client]:
    """The app with the queue in process, or in Redis (with the Socket.IO Redis manager)."""
    async with app_with_queue(app_factory, request.param, "desk") as client:
        yield client


class World:
    """Participants and officers of one test, and every socket they opened."""

    def __init__(self, client: Client) -> None:
        self.client = client
        self.socks: list[Sock] = []

    @property
    def app(self) -> web.Application:
        return self.client.app

    @property
    def clock(self) -> SettableClock:
        clock = self.app[keys.CLOCK]
        assert isinstance(clock, SettableClock)
        return clock

    async def participant(self) -> tuple[Participant, Sock]:
        from tests.support import make_nik

        person = Participant(self.client, make_nik(female=True))
        await person.to_ready()
        return person, await self.participant_socket(person)

    async def participant_socket(self, person: Participant, token: str | None = None) -> Sock:
        sock = Sock(self.client, "/participant", auth={"token": token or person.token})
        self.socks.append(sock)
        return await sock.connect()

    async def officer(self, name: str, role: Role = Role.OFFICER) -> tuple[Account, Sock]:
        app = self.app
        account = await app[keys.ACCOUNTS].create(
            username=name,
            password="Petugas-Rahasia-2026",
            role=role,
            display_name=name.title(),
            now=self.clock.now(),
        )
        return account, await self.officer_socket(account)

    async def officer_socket(self, account: Account) -> Sock:
        token = await self.app[keys.ACCOUNTS].open_session(account.id, self.clock.now(), 3600)
        sock = Sock(self.client, "/officer", headers={"Cookie": f"vc_session={token}"})
        self.socks.append(sock)
        return await sock.connect()

    async def record_state(self, person: Participant) -> str:
        resp = await self.client.get("/api/me", headers=person.auth)
        return str((await resp.json())["state"])

    async def sweep_after(self, seconds: float) -> None:
        self.clock.advance(seconds)
        await self.app[DESK].sweep()

    async def close(self) -> None:
        for sock in self.socks:
            await sock.close()


@pytest.fixture
async def world(desk_client: Client) -> AsyncIterator[World]:
    w = World(desk_client)
    yield w
    await w.close()


def no_full_nik(data: Any) -> bool:
    text = str(data)
    return not any(text[i : i + NIK_DIGITS].isdigit() for i in range(len(text) - NIK_DIGITS + 1))


# -- joining --------------------------------------------------------------------------------


async def test_join_and_positions(world: World) -> None:
    _, officer = await world.officer("budi")
    _, p1 = await world.participant()
    _, p2 = await world.participant()
    one = await p1.call("join_queue")
    assert one == {
        "ok": True,
        "queue": {
            "closed": False,
            "position": 1,
            "estimated_wait_seconds": None,
            "lane": "normal",
            "booking_offered": False,  # nobody ahead
        },
    }
    two = await p2.call("join_queue")
    assert two["queue"]["position"] == 2
    again = await p1.call("join_queue")  # after a reconnect the page joins again: same place
    assert again["queue"]["position"] == 1
    view = await officer.next("queue_view", lambda v: v["waiting"] == 2)
    assert [e["lane"] for e in view["entries"]] == ["normal", "normal"]
    assert view["entries"][0]["connected"] and view["entries"][0]["wait_seconds"] == 0
    assert view["entries"][0]["nik_masked"].count("*") == 8
    assert view["entries"][0]["documents"] == ["face", "ktp", "selfie_with_ktp"]
    assert no_full_nik(officer.events) and no_full_nik(view)


async def test_leaving_moves_the_others_up(world: World) -> None:
    _, p1 = await world.participant()
    _, p2 = await world.participant()
    await p1.call("join_queue")
    await p2.call("join_queue")
    assert (await p1.call("leave_queue"))["ok"]
    moved = await p2.next("queue_status", lambda s: s["position"] == 1)
    assert moved["lane"] == "normal"


async def test_not_ready_records_cannot_join(world: World) -> None:
    from tests.support import make_nik

    person = Participant(world.client, make_nik())
    await person.register()
    sock = await world.participant_socket(person)
    reply = await sock.call("join_queue")
    assert reply["ok"] is False and reply["error"]["code"] == "not_ready_for_call"
    assert (await sock.next("error"))["event"] == "join_queue"


async def test_bad_token_is_refused_with_a_code(world: World) -> None:
    sock = Sock(world.client, "/participant", auth={"token": "forged"})
    with pytest.raises(socketio.exceptions.ConnectionError):
        await sock.connect()
    await sock.close()


async def test_officer_needs_a_session(world: World) -> None:
    sock = Sock(world.client, "/officer")
    with pytest.raises(socketio.exceptions.ConnectionError):
        await sock.connect()
    await sock.close()


async def test_bad_payloads_are_answered(world: World) -> None:
    _, officer = await world.officer("budi")
    reply = await officer.call("set_presence", {"presence": "busy"})
    assert reply["ok"] is False and reply["error"]["code"] == "invalid_payload"
    reply = await officer.call("accept_next", {"pick": "rec-1"})
    assert reply["error"]["code"] == "invalid_payload"
    reply = await officer.call("assign", {"record_id": "x", "officer_id": "y"})
    assert reply["error"]["code"] == "role_forbidden"


async def test_closed_outside_service_hours(app_factory: Callable[..., Awaitable[Client]]) -> None:
    client = await app_factory(service_hours="mon-fri 08:00-16:00")
    world = World(client)
    try:
        world.clock.current = datetime.fromisoformat("2026-11-28T03:00:00+00:00")  # Saturday
        _, sock = await world.participant()
        reply = await sock.call("join_queue")
        assert reply["ok"] is False
        queue = reply["queue"]
        assert (queue["closed"], queue["code"]) == (True, "outside_service_hours")
        assert queue["opens_at"] == "2026-11-30T08:00:00+07:00"
        assert "Mon 30 Nov 2026 08:00 WIB" in queue["message"]
    finally:
        await world.close()


# -- officers and calls ---------------------------------------------------------------------


async def test_accept_next_pairs_the_head(world: World) -> None:
    account, officer = await world.officer("budi")
    person, p1 = await world.participant()
    _, p2 = await world.participant()
    await p1.call("join_queue")
    await p2.call("join_queue")
    state = await officer.call("set_presence", {"presence": "available"})
    assert state["presence"] == "available" and state["queue"]["waiting"] == 2
    estimate = await p2.next("queue_status", lambda s: s["position"] == 2)
    assert estimate["estimated_wait_seconds"] is None  # no call history yet

    reply = await officer.call("accept_next")
    assert reply["ok"] and reply["record_id"] == person.record_id
    assert reply["participant"]["name"] == "Siti Aminah" and reply["lane"] == "normal"
    assert len(reply["code"]) == 6 and reply["media"]["token"]
    paired = await p1.next("paired")
    assert (paired["session_id"], paired["code"]) == (reply["session_id"], reply["code"])
    assert paired["media"]["token"] != reply["media"]["token"]  # a ticket per side
    assert await world.record_state(person) == "in_call"
    assert (await p2.next("queue_status", lambda s: s["position"] == 1))["lane"] == "normal"
    assert await officer.next("presence", lambda p: p["presence"] == "busy")
    busy = await officer.call("accept_next")
    assert busy["ok"] is False and busy["error"]["code"] == "officer_busy"
    session = await world.app[keys.SESSIONS].get(reply["session_id"])
    assert session.officer_id == account.id


async def test_empty_queue_is_an_answer(world: World) -> None:
    _, officer = await world.officer("budi")
    await officer.call("set_presence", {"presence": "available"})
    reply = await officer.call("accept_next")
    assert reply == {
        "ok": False,
        "error": {"code": "queue_empty", "message": "queue empty: nobody is waiting"},
    }
    assert not officer.seen("error")


async def test_an_away_officer_cannot_accept(world: World) -> None:
    person, p = await world.participant()
    await p.call("join_queue")
    _, officer = await world.officer("budi")
    await officer.call("set_presence", {"presence": "away"})
    reply = await officer.call("accept_next")
    assert reply["ok"] is False and reply["error"]["code"] == "officer_away"
    assert await world.record_state(person) == "ready_for_call"


async def test_participant_hangs_up_before_media(world: World) -> None:
    _, officer = await world.officer("budi")
    person, p1 = await world.participant()
    await p1.call("join_queue")
    await officer.call("set_presence", {"presence": "available"})
    reply = await officer.call("accept_next")
    assert (await p1.call("end_call"))["ok"]
    ended = await officer.next("call_ended")
    assert ended == {
        "session_id": reply["session_id"],
        "reason": "cancelled",
        "ended_by": "participant",
        "requeued": False,
        "awaiting_decision": False,
    }
    await p1.next("call_ended")
    await officer.next("presence", lambda p: p["presence"] == "available")
    assert await world.record_state(person) == "ready_for_call"
    session = await world.app[keys.SESSIONS].get(reply["session_id"])
    assert (session.state, session.end_reason) == ("interrupted", "cancelled_by_participant")


async def test_a_call_whose_media_never_connects_times_out(world: World) -> None:
    _, officer = await world.officer("budi")
    person, p1 = await world.participant()
    _, p2 = await world.participant()
    await p1.call("join_queue")
    await p2.call("join_queue")
    await officer.call("set_presence", {"presence": "available"})
    reply = await officer.call("accept_next")
    await world.sweep_after(89)
    assert not p1.seen("call_ended")
    await world.sweep_after(2)
    ended = await p1.next("call_ended")
    assert ended == {
        "session_id": reply["session_id"],
        "reason": "cancelled",
        "ended_by": None,
        "requeued": True,
        "awaiting_decision": False,
    }
    await officer.next("call_ended")
    await officer.next("presence", lambda p: p["presence"] == "available")
    assert await world.record_state(person) == "ready_for_call"
    assert (await p1.call("join_queue"))["queue"]["lane"] == "priority"
    session = await world.app[keys.SESSIONS].get(reply["session_id"])
    assert session.end_reason == "cancelled_by_timeout"


async def test_officer_lost_puts_the_participant_back_at_the_head(world: World) -> None:
    account, officer = await world.officer("budi")
    person, p1 = await world.participant()
    _, p2 = await world.participant()
    await p1.call("join_queue")
    await p2.call("join_queue")
    await officer.call("set_presence", {"presence": "available"})
    reply = await officer.call("accept_next")
    await officer.close()  # the officer's browser (or server node) is gone
    assert (await p1.next("peer_status"))["status"] == "reconnecting"
    await world.sweep_after(19)
    assert not p1.seen("call_ended")
    await world.sweep_after(2)
    ended = await p1.next("call_ended")
    assert (ended["reason"], ended["requeued"]) == ("interrupted", True)
    assert await world.record_state(person) == "ready_for_call"
    back = await p1.call("join_queue")
    assert back["queue"] == {
        "closed": False,
        "position": 1,
        "estimated_wait_seconds": None,
        "lane": "priority",
        "booking_offered": False,
    }
    session = await world.app[keys.SESSIONS].get(reply["session_id"])
    assert session.end_reason == "officer_lost"
    officer = await world.officer_socket(account)
    state = await officer.call("set_presence", {"presence": "available"})
    assert state["queue"]["entries"][0]["lane"] == "priority"


async def test_officer_back_in_time_continues_the_call(world: World) -> None:
    account, officer = await world.officer("budi")
    _, p1 = await world.participant()
    await p1.call("join_queue")
    await officer.call("set_presence", {"presence": "available"})
    reply = await officer.call("accept_next")
    await officer.close()
    await p1.next("peer_status", lambda s: s["status"] == "reconnecting")
    world.clock.advance(10)
    officer = await world.officer_socket(account)
    assert (await p1.next("peer_status"))["status"] == "resumed"
    state = await officer.call("set_presence", {"presence": "available"})  # what the page sends
    assert state["presence"] == "busy" and state["call"]["session_id"] == reply["session_id"]
    assert (await officer.next("paired"))["session_id"] == reply["session_id"]
    await world.sweep_after(60)
    assert not p1.seen("call_ended")


async def test_participant_lost_mid_call(world: World) -> None:
    _, officer = await world.officer("budi")
    person, p1 = await world.participant()
    await p1.call("join_queue")
    await officer.call("set_presence", {"presence": "available"})
    reply = await officer.call("accept_next")
    await p1.close()
    assert (await officer.next("peer_status"))["status"] == "reconnecting"
    await world.sweep_after(61)
    ended = await officer.next("call_ended")
    assert (ended["reason"], ended["requeued"]) == ("interrupted", False)
    assert await world.record_state(person) == "ready_for_call"
    session = await world.app[keys.SESSIONS].get(reply["session_id"])
    assert session.end_reason == "participant_lost"


async def test_participant_back_in_time_gets_the_call_again(world: World) -> None:
    _, officer = await world.officer("budi")
    person, p1 = await world.participant()
    await p1.call("join_queue")
    await officer.call("set_presence", {"presence": "available"})
    reply = await officer.call("accept_next")
    await p1.close()
    await officer.next("peer_status", lambda s: s["status"] == "reconnecting")
    world.clock.advance(30)
    p1 = await world.participant_socket(person)
    back = await p1.call("join_queue")
    assert back["call"]["session_id"] == reply["session_id"]
    assert (await officer.next("peer_status"))["status"] == "resumed"


async def test_a_disconnected_participant_keeps_their_place(world: World) -> None:
    _, officer = await world.officer("budi")
    person, p1 = await world.participant()
    other, p2 = await world.participant()
    await p1.call("join_queue")
    await p2.call("join_queue")

    def first_away(view: Any) -> bool:
        return bool(view["waiting"] == 2 and not view["entries"][0]["connected"])

    await p1.close()
    await officer.next("queue_view", first_away)
    await world.sweep_after(30)
    p1 = await world.participant_socket(person)
    assert (await p1.call("join_queue"))["queue"]["position"] == 1
    await p1.close()
    await officer.next("queue_view", first_away)  # the server saw the disconnect
    await world.sweep_after(59)
    await world.sweep_after(2)
    await officer.next(
        "queue_view", lambda v: [e["record_id"] for e in v["entries"]] == [other.record_id]
    )
    assert (await p2.next("queue_status", lambda s: s["position"] == 1))["lane"] == "normal"


async def test_a_second_tab_keeps_the_participant_connected(world: World) -> None:
    _, officer = await world.officer("budi")
    person, tab1 = await world.participant()
    await tab1.call("join_queue")
    tab2 = await world.participant_socket(person)
    await tab2.call("join_queue")
    await tab1.close()
    await asyncio.sleep(0.3)  # the server has seen the disconnect
    view = (await officer.call("set_presence", {"presence": "available"}))["queue"]
    assert [(e["record_id"], e["connected"]) for e in view["entries"]] == [(person.record_id, True)]
    await tab2.close()
    await officer.next(
        "queue_view", lambda v: v["waiting"] == 1 and not v["entries"][0]["connected"]
    )


async def test_a_second_tab_keeps_the_officer_in_the_call(world: World) -> None:
    account, tab1 = await world.officer("budi")
    _, p1 = await world.participant()
    await p1.call("join_queue")
    await tab1.call("set_presence", {"presence": "available"})
    await tab1.call("accept_next")
    tab2 = await world.officer_socket(account)
    await tab1.close()
    await asyncio.sleep(0.3)
    await world.sweep_after(21)
    assert not p1.seen("peer_status") and not p1.seen("call_ended")
    await tab2.close()
    assert (await p1.next("peer_status"))["status"] == "reconnecting"


async def test_connections_on_a_lost_node_start_their_grace_window(world: World) -> None:
    account, officer = await world.officer("budi")
    person, p1 = await world.participant()
    await p1.call("join_queue")
    await officer.call("set_presence", {"presence": "available"})
    desk = world.app[DESK]
    # Every socket of this test is on this process: losing its node is losing them all.
    await world.app[RECONCILER].node_lost(NodeInfo(desk.node_id, "", 0, 0.0, False, 0.0))
    assert await desk.store.officer_presence(account.id) == "away"
    entry = await desk.store.entry(person.record_id)
    assert entry is not None and not entry.connected
    await world.sweep_after(61)
    assert await desk.store.entry(person.record_id) is None
    # A late disconnect of a socket forgotten with its node changes nothing.
    await p1.close()
    await officer.close()


async def test_supervisor_assigns_a_participant(world: World) -> None:
    account, officer = await world.officer("budi")
    _, supervisor = await world.officer("sari", Role.SUPERVISOR)
    await officer.call("set_presence", {"presence": "available"})
    _, p1 = await world.participant()
    person, p2 = await world.participant()
    await p1.call("join_queue")
    await p2.call("join_queue")
    reply = await supervisor.call(
        "assign", {"record_id": person.record_id, "officer_id": account.id}
    )
    assert reply["ok"], reply
    paired = await officer.next("paired")
    assert paired["session_id"] == reply["session_id"] and paired["record_id"] == person.record_id
    assert (await p2.next("paired"))["session_id"] == reply["session_id"]
    again = await supervisor.call(
        "assign", {"record_id": person.record_id, "officer_id": account.id}
    )
    assert again["error"]["code"] == "officer_busy"


async def test_a_call_with_media_completes_and_feeds_the_estimate(world: World) -> None:
    _, officer = await world.officer("budi")
    person, p1 = await world.participant()
    _, p2 = await world.participant()
    await p1.call("join_queue")
    await p2.call("join_queue")
    await officer.call("set_presence", {"presence": "available"})
    reply = await officer.call("accept_next")
    # What the /media namespace does when the first offer is answered.
    me = await (await world.client.get("/api/me", headers=person.auth)).json()
    assert me["call_status"] == "live"
    await world.app[keys.CALLS].media_connected(reply["session_id"])
    world.clock.advance(300)
    wrong = await officer.call("end_call", {"session_id": "not-this-one"})
    assert wrong["error"]["code"] == "not_your_call"
    assert (await officer.call("end_call", {"session_id": reply["session_id"]}))["ok"]
    ended = await p1.next("call_ended")
    assert (ended["reason"], ended["ended_by"], ended["requeued"], ended["awaiting_decision"]) == (
        "completed",
        "officer",
        False,
        True,
    )
    assert await world.record_state(person) == "in_call"  # the officer's decision comes next
    session = await world.app[keys.SESSIONS].get(reply["session_id"])
    assert session.state == "awaiting_decision"
    # The undecided call stays on the officer's desk, and comes before the next call.
    presence = await officer.next("presence", lambda p: p["undecided"])
    assert [u["session_id"] for u in presence["undecided"]] == [reply["session_id"]]
    assert (await officer.call("accept_next"))["error"]["code"] == "decision_pending"
    assert (await p1.call("join_queue"))["awaiting_decision"] == {"session_id": reply["session_id"]}
    me = await (await world.client.get("/api/me", headers=person.auth)).json()
    assert me["call_status"] == "awaiting_decision"
    # One call of 300 s and one idle officer: the next participant is next, any moment now.
    status = await p2.next("queue_status", lambda s: s["estimated_wait_seconds"] is not None)
    assert (status["position"], status["estimated_wait_seconds"]) == (1, 0)
    await officer.call("set_presence", {"presence": "away"})
    # Nobody on duty: unknown again.
    await p2.next("queue_status", lambda s: s == {**status, "estimated_wait_seconds": None})


async def test_a_lost_media_node_requeues_at_the_head(world: World) -> None:
    _, officer = await world.officer("budi")
    person, p1 = await world.participant()
    _, p2 = await world.participant()
    await p1.call("join_queue")
    await p2.call("join_queue")
    await officer.call("set_presence", {"presence": "available"})
    reply = await officer.call("accept_next")
    row = await world.app[keys.SESSIONS].get(reply["session_id"])
    assert row.node  # placed on a node of the cluster
    await p2.next("queue_status", lambda s: s["position"] == 1)
    p2.events.clear()
    await world.app[RECONCILER].node_lost(NodeInfo(row.node, "", 0, 0.0, False, 0.0))
    ended = await p1.next("call_ended")
    assert (ended["reason"], ended["requeued"]) == ("interrupted", True)
    await officer.next("presence", lambda p: p["presence"] == "available")
    assert await world.record_state(person) == "ready_for_call"
    assert (await p1.call("join_queue"))["queue"]["lane"] == "priority"
    assert await p2.next("queue_status", lambda s: s["position"] == 2)
