"""Least privilege on records, per role: an officer opens a record, its photos and its NIK only
for participants of their own calls (paired for real, over Socket.IO); a supervisor opens all;
every read of a photo and every reveal is audited. Real app, real HTTP and Socket.IO."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

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
PASSWORD = "Petugas-Rahasia-2026"


async def log_in(client: Client, clock: SettableClock, name: str, role: Role) -> dict[str, str]:
    await client.app[keys.ACCOUNTS].create(
        username=name, password=PASSWORD, role=role, display_name=name.title(), now=clock.now()
    )
    resp = await client.post("/api/auth/login", json={"username": name, "password": PASSWORD})
    assert resp.status == 200, await resp.text()
    client.session.cookie_jar.clear()  # each request names its staff member explicitly
    return {"Cookie": f"vc_session={resp.cookies['vc_session'].value}"}


async def socket(client: Client, namespace: str, **kw: Any) -> socketio.AsyncClient:
    sio = socketio.AsyncClient(reconnection=False)
    await sio.connect(
        str(client.make_url("/")), namespaces=[namespace], transports=["websocket"], **kw
    )
    return sio


async def pair(client: Client, officer: dict[str, str], person: Participant) -> str:
    """The participant joins the queue and the officer accepts: a real call session."""
    them = await socket(client, "/participant", auth={"token": person.token})
    desk = await socket(client, "/officer", headers=dict(officer))  # the library pops Cookie
    try:
        joined = await them.call("join_queue", {}, namespace="/participant", timeout=10)
        assert joined["ok"], joined
        presence = {"presence": "available"}
        assert (await desk.call("set_presence", presence, namespace="/officer", timeout=10))["ok"]
        paired = await desk.call("accept_next", {}, namespace="/officer", timeout=10)
        assert paired["ok"] and paired["record_id"] == person.record_id, paired
        return str(paired["session_id"])
    finally:
        await desk.disconnect()
        await them.disconnect()


async def statuses(client: Client, staff: dict[str, str], record_id: str) -> list[int]:
    base = f"/api/records/{record_id}"
    return [
        (await client.get(base, headers=staff)).status,
        (await client.get(f"{base}/documents/ktp", headers=staff)).status,
        (await client.post(f"{base}/reveal-nik", headers=staff)).status,
        (await client.get(f"{base}/assist", headers=staff)).status,
    ]


async def audited(client: Client, record_id: str) -> list[tuple[str, str]]:
    record = await client.app[keys.RECORDS].get(record_id)
    watched = ("nik_revealed", "document_viewed")
    return [(h.action, h.actor) for h in record.history if h.action in watched]


async def test_officers_read_only_their_own_participants(
    app_factory: AppFactory, clock: SettableClock
) -> None:
    client = await app_factory()
    mine = Participant(client, make_nik(female=True))
    other = Participant(client, make_nik(female=True))
    await mine.to_ready()
    await other.to_ready()
    budi = await log_in(client, clock, "budi", Role.OFFICER)
    ani = await log_in(client, clock, "ani", Role.OFFICER)
    sari = await log_in(client, clock, "sari", Role.SUPERVISOR)

    # Nobody has called anyone yet: officers see no record, the supervisor every one.
    assert await statuses(client, budi, mine.record_id) == [403, 403, 403, 403]
    assert await statuses(client, sari, other.record_id) == [200, 200, 200, 200]

    await pair(client, budi, mine)
    assert await statuses(client, budi, mine.record_id) == [200, 200, 200, 200]
    refused = await client.post(f"/api/records/{mine.record_id}/reveal-nik", headers=ani)
    assert refused.status == 403
    assert (await refused.json())["error"]["code"] == "not_your_participant"
    assert await statuses(client, ani, mine.record_id) == [403, 403, 403, 403]
    assert await statuses(client, budi, other.record_id) == [403, 403, 403, 403]

    # Only the allowed reads are in the audit trail, each under its reader's name.
    assert await audited(client, mine.record_id) == [
        ("document_viewed", "officer:budi"),
        ("nik_revealed", "officer:budi"),
    ]
    assert await audited(client, other.record_id) == [
        ("document_viewed", "supervisor:sari"),
        ("nik_revealed", "supervisor:sari"),
    ]


async def test_unknown_records_are_not_found_for_every_role(
    app_factory: AppFactory, clock: SettableClock
) -> None:
    client = await app_factory()
    unknown = "00000000-0000-4000-8000-000000000000"
    for name, role in (("budi", Role.OFFICER), ("sari", Role.SUPERVISOR)):
        staff = await log_in(client, clock, name, role)
        assert await statuses(client, staff, unknown) == [404, 404, 404, 404], role
