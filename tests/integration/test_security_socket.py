"""Socket.IO as an attacker would use it: foreign origins, reserved event names, extra
arguments, and reconnecting to escape the event limits.

The real app over real HTTP; real python-socketio clients, and raw Engine.IO/Socket.IO packets
on a websocket where a client library would refuse to send them. The clock is frozen (the test's
``SettableClock``), so limits do not refill while a test runs.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import pytest
import socketio
from aiohttp import web
from aiohttp.test_utils import TestClient

from tests.conftest import Participant
from tests.support import SettableClock, make_nik
from videocall.accounts import Role
from web import keys

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)

Client = TestClient[web.Request, web.Application]
AppFactory = Callable[..., Awaitable[Client]]
OURS = "https://verify.example.id"
PASSWORD = "Petugas-Rahasia-2026"


async def staff_cookie(client: Client, clock: SettableClock, role: Role = Role.OFFICER) -> str:
    await client.app[keys.ACCOUNTS].create(
        username="budi", password=PASSWORD, role=role, display_name="Budi", now=clock.now()
    )
    resp = await client.post("/api/auth/login", json={"username": "budi", "password": PASSWORD})
    assert resp.status == 200, await resp.text()
    return str(resp.cookies["vc_session"].value)


async def connects(client: Client, namespace: str, **kw: Any) -> bool:
    # Our own HTTP session: the library leaves its own open when the handshake is refused.
    async with aiohttp.ClientSession() as http:
        sio = socketio.AsyncClient(reconnection=False, http_session=http)
        try:
            await sio.connect(
                str(client.make_url("/")), namespaces=[namespace], transports=["websocket"], **kw
            )
        except socketio.exceptions.ConnectionError:
            return False
        await sio.disconnect()
        return True


async def test_foreign_origins_cannot_open_any_namespace(
    app_factory: AppFactory, clock: SettableClock
) -> None:
    client = await app_factory(public_origins=[OURS])
    cookie = {"Cookie": f"vc_session={await staff_cookie(client, clock)}"}
    person = Participant(client, make_nik(female=True))
    await person.register()
    token = {"token": person.token}
    for origin in ("https://evil.example", "https://verify.example.id:8443", "null"):
        headers = {**cookie, "Origin": origin}
        assert not await connects(client, "/officer", headers=headers), origin
        assert not await connects(client, "/participant", headers=headers, auth=token), origin
    # The same credentials from our own pages (or from no browser at all) connect.
    assert await connects(client, "/officer", headers={**cookie, "Origin": OURS})
    assert await connects(client, "/participant", headers={"Origin": OURS}, auth=token)
    assert await connects(client, "/officer", headers=cookie)


async def test_foreign_origin_is_refused_at_the_engine_io_handshake(client: Client) -> None:
    """Below any namespace: the websocket upgrade and the long-polling handshake."""
    polling = client.make_url("/socket.io/?EIO=4&transport=polling")
    websocket = client.make_url("/socket.io/?EIO=4&transport=websocket")
    async with aiohttp.ClientSession() as http:
        resp = await http.get(polling, headers={"Origin": "https://evil.example"})
        assert resp.status == 400
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await http.ws_connect(websocket, origin="https://evil.example")
        assert refused.value.status == 400
        # The default public origin is the listening address (HOST:PORT, 127.0.0.1:8080).
        own = "http://127.0.0.1:8080"
        assert (await http.get(polling, headers={"Origin": own})).status == 200
        ws = await http.ws_connect(websocket, origin=own)
        assert (await ws.receive_str(timeout=5)).startswith("0")
        await ws.close()


class RawSocket:
    """A websocket speaking Engine.IO v4 / Socket.IO v5 by hand."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse, namespace: str) -> None:
        self.ws = ws
        self.namespace = namespace
        self.acks: dict[int, Any] = {}
        self.errors: list[Any] = []
        self.next_id = 0

    async def open(self, auth: dict[str, str]) -> None:
        assert (await self.ws.receive_str(timeout=5)).startswith("0")  # Engine.IO open
        await self.ws.send_str(f"40{self.namespace},{json.dumps(auth)}")
        while True:
            packet = await self.ws.receive_str(timeout=5)
            if packet.startswith(f"40{self.namespace},"):
                return
            assert not packet.startswith(f"44{self.namespace}"), packet

    async def send(self, *items: Any, ack: bool = True) -> int | None:
        """One EVENT packet ``[name, *args]``; returns its ack id."""
        ack_id = None
        if ack:
            ack_id, self.next_id = self.next_id, self.next_id + 1
        ident = "" if ack_id is None else str(ack_id)
        await self.ws.send_str(f"42{self.namespace},{ident}{json.dumps(list(items))}")
        return ack_id

    async def wait_acks(self, count: int) -> None:
        while len(self.acks) < count:
            packet = await self.ws.receive_str(timeout=10)
            prefix = f"43{self.namespace},"
            if packet == "2":
                await self.ws.send_str("3")  # Engine.IO ping -> pong
            elif packet.startswith(prefix):
                body = packet[len(prefix) :]
                split = body.index("[")
                self.acks[int(body[:split])] = json.loads(body[split:])[0]
            elif packet.startswith(f"42{self.namespace},"):
                name, data = json.loads(packet[packet.index("[") :])[:2]
                if name == "error":
                    self.errors.append(data)


async def raw_participant(http: aiohttp.ClientSession, client: Client, token: str) -> RawSocket:
    ws = await http.ws_connect(client.make_url("/socket.io/?EIO=4&transport=websocket"))
    raw = RawSocket(ws, "/participant")
    await raw.open({"token": token})
    return raw


def codes(acks: dict[int, Any], ids: list[int | None]) -> list[str]:
    return ["ok" if acks[i]["ok"] else acks[i]["error"]["code"] for i in ids if i is not None]


def handled(answer: Any) -> bool:
    """The event reached its handler (answered, whatever the answer), not the limiter."""
    return bool(answer["ok"] or answer["error"]["code"] != "rate_limited")


async def test_reserved_event_names_reach_no_handler_and_reset_no_limit(
    app_factory: AppFactory,
) -> None:
    """Before the fix, ``["disconnect","x"]`` ran ``on_disconnect`` and the limiter's
    ``forget()``: 300 of 300 join_queue events were handled instead of 40. (40 an hour, so the
    count holds on a slow machine, whichever clock the limiter reads.)"""
    client = await app_factory(rate_limit_socket_events="40/1h")
    person = Participant(client, make_nik(female=True))
    await person.register()  # join_queue answers not_ready: handled all the same
    async with aiohttp.ClientSession() as http:
        raw = await raw_participant(http, client, person.token)
        first = [await raw.send("join_queue", {}) for _ in range(40)]
        await raw.wait_acks(len(first))
        assert all(handled(raw.acks[i]) for i in first), raw.acks
        reserved = [
            await raw.send(name, "x")
            for name in ("disconnect", "connect", "connect_error", "disconnecting")
        ]
        rest = [await raw.send("join_queue", {}) for _ in range(256)]
        await raw.wait_acks(len(first) + len(reserved) + len(rest))
        # Over the limit: every later event is refused, the reserved ones included.
        assert set(codes(raw.acks, reserved + rest)) == {"rate_limited"}
        await raw.ws.close()


async def test_malformed_events_get_an_error_answer_and_the_session_goes_on(
    app_factory: AppFactory,
) -> None:
    client = await app_factory(rate_limit_socket_events="off")
    person = Participant(client, make_nik(female=True))
    await person.to_ready()
    async with aiohttp.ClientSession() as http:
        raw = await raw_participant(http, client, person.token)
        joined = await raw.send("join_queue", {})
        bad = {
            await raw.send("disconnect", "x"): "event_reserved",
            await raw.send("connect", {"token": person.token}): "event_reserved",
            await raw.send("connect_error", {}): "event_reserved",
            await raw.send("join_queue", {}, "extra"): "invalid_payload",
            await raw.send("leave_queue", {}, 1, 2, 3): "invalid_payload",
            await raw.send(5, {}): "invalid_event",
            await raw.send(): "invalid_event",
            await raw.send("x" * 500, {}): "invalid_event",
        }
        again = await raw.send("join_queue", {})
        await raw.wait_acks(len(bad) + 2)
        assert {i: raw.acks[i]["error"]["code"] for i in bad} == bad
        assert len(raw.errors) >= len(bad)  # each refusal is also an ``error`` event
        # The fake "disconnect" did not take the participant out of the queue.
        assert raw.acks[joined]["ok"] and raw.acks[again]["ok"], raw.acks
        assert raw.acks[again]["queue"]["position"] == raw.acks[joined]["queue"]["position"] == 1
        await raw.ws.close()
    assert (await client.get("/healthz")).status == 200


async def test_reconnecting_does_not_reset_the_person_limit(app_factory: AppFactory) -> None:
    """3 events per connection, 6 per person: three connections in a row get 3, 3 and 0."""
    client = await app_factory(rate_limit_socket_events="3/1h")
    person = Participant(client, make_nik(female=True))
    await person.register()
    counts = []
    for _ in range(3):
        sio = socketio.AsyncClient(reconnection=False)
        await sio.connect(
            str(client.make_url("/")),
            namespaces=["/participant"],
            transports=["websocket"],
            auth={"token": person.token},
        )
        answers = [
            await sio.call("join_queue", {}, namespace="/participant", timeout=10) for _ in range(5)
        ]
        counts.append(sum(1 for a in answers if handled(a)))
        await sio.disconnect()
    assert counts == [3, 3, 0]
    # Another person is not affected.
    other = Participant(client, make_nik(female=True))
    await other.register()
    sio = socketio.AsyncClient(reconnection=False)
    await sio.connect(
        str(client.make_url("/")),
        namespaces=["/participant"],
        transports=["websocket"],
        auth={"token": other.token},
    )
    try:
        assert handled(await sio.call("join_queue", {}, namespace="/participant", timeout=10))
    finally:
        await sio.disconnect()
