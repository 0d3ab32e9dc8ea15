"""Socket.IO under random and malformed input, and the per-connection event limit.

Real python-socketio clients on /participant, /officer and /media against the real app. Every
event gets random JSON, near-valid objects and binary; the server must answer each with an
acknowledgement (never ``internal_error``), keep the connection, and keep serving. Raw garbage
on the websocket must not take the server down either.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

import aiohttp
import pytest
import socketio
from aiohttp import web
from aiohttp.test_utils import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from server import MEDIA_HUB
from signaling.install import SIO
from tests.conftest import Participant
from tests.support import SettableClock, make_nik
from videocall.accounts import Role
from web import keys

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)

Client = TestClient[web.Request, web.Application]
AppFactory = Callable[..., Awaitable[Client]]
T = TypeVar("T")
EXAMPLES = 15
FIELDS = ("presence", "session_id", "record_id", "officer_id", "sdp", "type", "kind", "token")

scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=40)
)
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
near_valid = st.fixed_dictionaries(
    {},
    optional={
        f: scalars | st.sampled_from(["available", "away", "offer", "face", "v=0"]) for f in FIELDS
    },
)
payloads = json_values | near_valid | st.binary(max_size=64)


class Conn:
    """One client connection that remembers its ``error`` events."""

    def __init__(self, namespace: str) -> None:
        self.namespace = namespace
        self.sio = socketio.AsyncClient(reconnection=False)
        self.errors: list[Any] = []
        self.sio.on("error", self.errors.append, namespace=namespace)

    async def connect(self, client: Client, **kw: Any) -> Conn:
        await self.sio.connect(
            str(client.make_url("/")), namespaces=[self.namespace], transports=["websocket"], **kw
        )
        return self

    async def call(self, event: str, data: Any) -> Any:
        return await self.sio.call(event, data, namespace=self.namespace, timeout=10)


async def connections(client: Client, clock: SettableClock) -> dict[str, Conn]:
    app = client.app
    person = Participant(client, make_nik(female=True))
    await person.to_ready()
    officer = await app[keys.ACCOUNTS].create(
        username="budi",
        password="Petugas-Rahasia-2026",
        role=Role.SUPERVISOR,
        display_name="Budi",
        now=clock.now(),
    )
    login = await client.post(
        "/api/auth/login", json={"username": "budi", "password": "Petugas-Rahasia-2026"}
    )
    cookie = login.cookies["vc_session"].value
    other = Participant(client, make_nik(female=True))
    await other.to_ready()
    session = await app[keys.SESSIONS].start(
        record_id=other.record_id,
        officer_id=officer.id,
        officer_actor=officer.actor,
        now=clock.now(),
    )
    ticket = await app[MEDIA_HUB].ticket(session.id, "officer", None)
    return {
        "/participant": await Conn("/participant").connect(client, auth={"token": person.token}),
        "/officer": await Conn("/officer").connect(
            client, headers={"Cookie": f"vc_session={cookie}"}
        ),
        "/media": await Conn("/media").connect(client, auth={"token": ticket["token"]}),
    }


def events_of(app: web.Application, namespace: str) -> list[str]:
    handler = app[SIO].namespace_handlers[namespace]
    names = [n[3:] for n in dir(handler) if n.startswith("on_")]
    return sorted(n for n in names if n not in ("connect", "disconnect"))


def check_answer(event: str, answer: Any) -> None:
    assert isinstance(answer, dict) and isinstance(answer.get("ok"), bool), (event, answer)
    if not answer["ok"]:
        error = answer["error"]
        assert isinstance(error["code"], str) and isinstance(error["message"], str)
        assert error["code"] != "internal_error", (event, answer)


def fuzz_event(loop: asyncio.AbstractEventLoop, conn: Conn, event: str) -> None:
    def run(coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, loop).result(30)

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    @given(data=payloads)
    def one(data: Any) -> None:
        check_answer(event, run(conn.call(event, data)))

    one()


async def test_every_event_survives_random_payloads(
    app_factory: AppFactory, clock: SettableClock
) -> None:
    client = await app_factory(rate_limit_socket_events="off")
    conns = await connections(client, clock)
    loop = asyncio.get_running_loop()
    try:
        for namespace, conn in conns.items():
            events = events_of(client.app, namespace)
            assert events, namespace
            for event in events:
                await asyncio.to_thread(fuzz_event, loop, conn, event)
            for name in ("no_such_event", "on_connect", "__init__", ""):
                await conn.sio.emit(name, {"x": 1}, namespace=namespace)  # no handler: ignored
            assert conn.sio.connected, namespace
            errors = [e for e in conn.errors if "internal_error" in repr(e)]
            assert not errors, errors
        # Still serving: a valid request is answered properly.
        check_answer("join_queue", await conns["/participant"].call("join_queue", {}))
        assert (await client.get("/healthz")).status == 200
    finally:
        for conn in conns.values():
            await conn.sio.disconnect()


# Not here: an empty text frame, an unknown packet type ("\x00...") or JSON nested deeper than
# Python's recursion limit ("4" + "[" * 5000) make python-engineio's websocket handler raise
# (500 in the log) and leave its writer task until the ping timeout. A library matter, reported;
# kept out so this test does not leak tasks.
GARBAGE = [
    "4",
    "42",
    "42/participant,",
    "42/participant,[",
    '42/participant,["join_queue"',
    "42/officer,0[]",
    '42/media,99999999999999999999["offer",{}]',
    "40/participant,{bad json",
    "45-/participant,[]",
    '451-["x",{"_placeholder":true,"num":7}]',
    "6",
    "2probe",
    "1",
    "4" + "[" * 500,
]


async def test_raw_garbage_frames_do_not_take_the_server_down(client: Client) -> None:
    url = client.make_url("/socket.io/?EIO=4&transport=websocket")
    async with aiohttp.ClientSession() as http:
        for frame in GARBAGE:
            async with http.ws_connect(url) as ws:
                await ws.receive(timeout=5)  # the engine.io open packet
                await ws.send_str("40/participant,")
                await ws.send_str(frame)
                await ws.send_bytes(frame.encode())
    assert (await client.get("/healthz")).status == 200
    person = Participant(client, make_nik(female=True))
    await person.to_ready()
    conn = await Conn("/participant").connect(client, auth={"token": person.token})
    try:
        check_answer("join_queue", await conn.call("join_queue", {}))
    finally:
        await conn.sio.disconnect()


async def test_events_per_connection_are_limited(
    app_factory: AppFactory, clock: SettableClock
) -> None:
    client = await app_factory(rate_limit_socket_events="3/3s")
    person = Participant(client, make_nik(female=True))
    await person.to_ready()
    first = await Conn("/participant").connect(client, auth={"token": person.token})
    second = await Conn("/participant").connect(client, auth={"token": person.token})
    try:
        answers = [await first.call("join_queue", {}) for _ in range(5)]
        codes = [a.get("error", {}).get("code") for a in answers]
        assert codes[3:] == ["rate_limited", "rate_limited"]
        assert "rate_limited" not in codes[:3]
        assert answers[3]["error"]["retry_after"] == pytest.approx(1.0)
        await asyncio.sleep(0.1)
        assert [e["error"]["code"] for e in first.errors][-2:] == ["rate_limited"] * 2
        # Another connection has its own bucket; time refills the first one.
        assert (await second.call("join_queue", {}))["ok"]
        clock.advance(1.0)
        assert (await first.call("join_queue", {}))["ok"]
    finally:
        await first.sio.disconnect()
        await second.sio.disconnect()
