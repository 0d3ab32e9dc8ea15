"""The HTTP edge as an attacker would probe it: forged cross-origin changes with a staff cookie,
JSON sent as a form would send it, hostile JSON, wrong methods. Real app, real HTTP."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from tests.conftest import Participant
from tests.support import SettableClock, make_nik
from videocall.accounts import Role
from web import keys

Client = TestClient[web.Request, web.Application]
AppFactory = Callable[..., Awaitable[Client]]
OURS = "https://verify.example.id"
PASSWORD = "Pengawas-Rahasia-2026"


async def staff_cookie(client: Client, clock: SettableClock, role: Role) -> dict[str, str]:
    await client.app[keys.ACCOUNTS].create(
        username="sari", password=PASSWORD, role=role, display_name="Sari", now=clock.now()
    )
    resp = await client.post("/api/auth/login", json={"username": "sari", "password": PASSWORD})
    assert resp.status == 200, await resp.text()
    return {"Cookie": f"vc_session={resp.cookies['vc_session'].value}"}


async def error_code(resp: Any) -> str:
    body = await resp.json()
    assert set(body) == {"error"} and isinstance(body["error"]["message"], str), body
    return str(body["error"]["code"])


async def revealed_by(client: Client, record_id: str) -> list[str]:
    record = await client.app[keys.RECORDS].get(record_id)
    return [h.actor for h in record.history if h.action == "nik_revealed"]


FORGED = [
    {"Origin": "https://evil.example"},
    {"Origin": "https://verify.example.id:8443"},  # same site, another port
    {"Origin": "http://verify.example.id"},  # same host, plain http
    {"Origin": "null"},  # sandboxed frame, data: URL
    {"Sec-Fetch-Site": "same-site"},
    {"Sec-Fetch-Site": "cross-site"},
    {"Origin": "https://evil.example", "Sec-Fetch-Site": "same-origin"},
]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_forged_cross_origin_changes_are_refused(
    app_factory: AppFactory, clock: SettableClock
) -> None:
    client = await app_factory(public_origins=[OURS])
    staff = await staff_cookie(client, clock, Role.SUPERVISOR)
    person = Participant(client, make_nik(female=True))
    await person.register()
    reveal = f"/api/records/{person.record_id}/reveal-nik"
    for forged in FORGED:
        # What a plain HTML form on another origin can send: text/plain, the cookie attached.
        headers = {**staff, **forged, "Content-Type": "text/plain"}
        resp = await client.post(reveal, data=b'{"x": 1}', headers=headers)
        assert resp.status == 403, forged
        assert await error_code(resp) == "origin_forbidden"
        resp = await client.post("/api/auth/logout", headers={**staff, **forged})
        assert resp.status == 403, forged
        login = {"username": "sari", "password": PASSWORD}
        resp = await client.post("/api/auth/login", json=login, headers=forged)
        assert resp.status == 403, forged
    assert await revealed_by(client, person.record_id) == []
    assert (await client.get("/api/auth/me", headers=staff)).status == 200  # not logged out
    # Reading is not a change: CORS keeps the answer from a foreign page.
    forged_read = {**staff, "Origin": "https://evil.example"}
    assert (await client.get(f"/api/records/{person.record_id}", headers=forged_read)).status == 200
    # Our own pages, and clients that are no browser, go on.
    for own in ({"Origin": OURS}, {"Sec-Fetch-Site": "same-origin"}, {}):
        resp = await client.post(reveal, headers={**staff, **own})
        assert resp.status == 200, own
    assert await revealed_by(client, person.record_id) == ["supervisor:sari"] * 3


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_json_bodies_must_be_sent_as_json(client: Client) -> None:
    nik = make_nik()
    body = json.dumps({"nik": nik, "mobile": "0812-3456-7890", "email": "a@example.co.id"})
    for content_type in (
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "",
    ):
        headers = {"Content-Type": content_type} if content_type else {}
        resp = await client.post("/api/participants", data=body.encode(), headers=headers)
        assert resp.status == 415, content_type
        assert await error_code(resp) == "unsupported_media_type"
    resp = await client.post(
        "/api/auth/login",
        data=b'{"username":"a","password":"b"}',
        headers={"Content-Type": "text/plain"},
    )
    assert resp.status == 415
    # Nothing was stored: the same NIK registers now, once.
    ok = await client.post(
        "/api/participants", data=body, headers={"Content-Type": "application/json"}
    )
    assert ok.status == 201, await ok.text()


HOSTILE = [
    b"[" * 30_000 + b"]" * 30_000,
    b"[" * 30_000,
    b'{"nik": ' + b"[" * 30_000 + b"]" * 30_000 + b"}",
    b'{"nik": ' + b"{" * 20_000 + b"}",
    b'{"nik": ' + b"9" * 5_000 + b"}",
    b'{"nik": -' + b"9" * 5_000 + b"}",
    b"9" * 5_000,
    b'{"nik": NaN}',
    b'{"nik": -Infinity}',
]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_hostile_json_is_a_client_error(app_factory: AppFactory) -> None:
    """Before the fix: RecursionError and ValueError became 500s, without logging in."""
    client = await app_factory(max_json_bytes=256 * 1024)
    for raw in HOSTILE:
        for path in ("/api/participants", "/api/auth/login"):
            resp = await client.post(path, data=raw, headers={"Content-Type": "application/json"})
            assert resp.status == 422, (path, raw[:20])
            assert await error_code(resp) == "malformed_json"
    assert (await client.get("/healthz")).status == 200
    person = Participant(client, make_nik())
    await person.register()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_wrong_method_says_which_are_allowed(client: Client) -> None:
    for method, path, allowed in [
        ("DELETE", "/api/participants", {"POST"}),
        ("GET", "/api/me/consent", {"POST"}),
        ("POST", "/api/me", {"GET"}),
    ]:
        resp = await client.request(method, path)
        assert resp.status == 405, path
        assert await error_code(resp) == "method_not_allowed"
        assert set(resp.headers["Allow"].split(",")) == allowed, path


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_openapi_documents_403_and_415(client: Client) -> None:
    spec = await (await client.get("/api/openapi.json")).json()
    for path, operations in spec["paths"].items():
        for method, op in operations.items():
            if method in ("post", "put", "patch", "delete"):
                assert "403" in op["responses"], (method, path)
            content = op.get("requestBody", {}).get("content", {})
            if "application/json" in content:
                assert "415" in op["responses"], (method, path)


async def test_unknown_record_is_not_found(app_factory: AppFactory, clock: SettableClock) -> None:
    client = await app_factory()
    staff = await staff_cookie(client, clock, Role.SUPERVISOR)
    unknown = "00000000-0000-4000-8000-000000000000"
    for method, path in [
        ("GET", f"/api/records/{unknown}"),
        ("GET", f"/api/records/{unknown}/documents/ktp"),
        ("POST", f"/api/records/{unknown}/reveal-nik"),
    ]:
        resp = await client.request(method, path, headers=staff)
        assert resp.status == 404, path
        await error_code(resp)
