"""Hand-off links over real HTTP, on SQLite and PostgreSQL: the upstream system creates a record and
a link; the link's page opens, the code is exchanged once for the participant's token; a second
use, an expired link and an unknown one are refused with clear codes and a clear page, never a
500; neither the token nor the code reaches the logs."""

from __future__ import annotations

import asyncio
import io
import json
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient

from tests.conftest import Participant
from tests.integration.test_ops_log_scan import captured_logs
from tests.support import SettableClock, make_nik, photo_bytes
from videocall.handoff import Prefill, hash_code
from web.handoff_links import links

Client = TestClient[web.Request, web.Application]
API_KEY = {"X-API-Key": "test-api-key"}
_ = captured_logs  # a fixture


async def upstream_create(client: Client, nik: str | None = None) -> dict[str, Any]:
    body = {"nik": nik or make_nik(female=True), "mobile": "0812-3456-7890", "email": "a@b.id"}
    resp = await client.post("/api/upstream/records", json=body, headers=API_KEY)
    assert resp.status == 201, await resp.text()
    out: dict[str, Any] = await resp.json()
    return out


async def new_link(client: Client, record_id: str, body: Any = None) -> dict[str, Any]:
    resp = await client.post(
        f"/api/upstream/records/{record_id}/handoff", json=body or {}, headers=API_KEY
    )
    assert resp.status == 201, await resp.text()
    out: dict[str, Any] = await resp.json()
    return out


def code_of(link: dict[str, Any]) -> str:
    url: str = link["url"]
    assert "/r/" in url
    return url.rsplit("/r/", 1)[1]


async def exchange(client: Client, code: str) -> tuple[int, dict[str, Any]]:
    resp = await client.post("/api/handoff/exchange", json={"code": code})
    assert resp.headers["Content-Type"].startswith("application/json")
    return resp.status, await resp.json()


async def test_upstream_creates_a_record_and_a_link_that_exchanges_once(client: Client) -> None:
    created = await upstream_create(client)
    link = created["handoff"]
    assert link["expires_in"] == 600
    code = code_of(link)
    assert created["token"] not in link["url"]

    page = await client.get(f"/r/{code}")
    assert page.status == 200
    assert 'id="step-profile"' in await page.text()
    assert page.headers["Referrer-Policy"] == "no-referrer"
    assert page.headers["Cache-Control"] == "no-store"

    status, out = await exchange(client, code)
    assert status == 200, out
    assert out["record"]["id"] == created["record"]["id"]
    assert out["record"]["reference"] == created["record"]["reference"]
    assert out["step"] == "profile"
    assert out["prefill"] == {"full_name": None, "birth_date": None, "sex": None}
    me = await client.get("/api/me", headers={"Authorization": f"Bearer {out['token']}"})
    assert me.status == 200
    assert (await me.json())["history"][-1]["action"] == "handoff_opened"

    status, again = await exchange(client, code)
    assert (status, again["error"]["code"]) == (410, "handoff_used")
    page = await client.get(f"/r/{code}")
    assert page.status == 410
    text = await page.text()
    assert "sudah pernah dibuka" in text and "Buka lagi dari aplikasi" in text


async def test_an_expired_link_is_refused_and_a_new_one_works(
    client: Client, clock: SettableClock
) -> None:
    created = await upstream_create(client)
    code = code_of(created["handoff"])
    clock.advance(600)
    status, out = await exchange(client, code)
    assert (status, out["error"]["code"]) == (410, "handoff_expired")
    page = await client.get(f"/r/{code}")
    assert page.status == 410
    assert "kedaluwarsa" in await page.text()
    english = await client.get(f"/r/{code}", headers={"Accept-Language": "en-US,en;q=0.8"})
    assert "Open it again from the app" in await english.text()

    fresh = code_of(await new_link(client, created["record"]["id"]))
    clock.advance(599)
    status, out = await exchange(client, fresh)
    assert status == 200, out


async def test_unknown_and_malformed_codes_get_a_clear_answer(client: Client) -> None:
    for code in ("A" * 32, "short", "x" * 129, "../../etc/passwd"):
        resp = await client.post("/api/handoff/exchange", json={"code": code})
        assert resp.status in (404, 422), await resp.text()
        body = await resp.json()
        assert body["error"]["code"] in ("handoff_invalid", "invalid_field")
    page = await client.get("/r/" + "A" * 32)
    assert page.status == 404
    assert "tidak dikenal" in await page.text()
    assert (await client.get("/r/bad%20code")).status == 404


async def test_a_code_is_used_once_even_when_two_tabs_race(client: Client) -> None:
    created = await upstream_create(client)
    code = code_of(created["handoff"])
    results = await asyncio.gather(*(exchange(client, code) for _ in range(4)))
    statuses = sorted(status for status, _ in results)
    assert statuses == [200, 410, 410, 410]
    assert {body["error"]["code"] for status, body in results if status == 410} == {"handoff_used"}


async def test_the_link_opens_at_the_records_step_with_the_apps_profile_fields(
    client: Client,
) -> None:
    created = await upstream_create(client, make_nik(female=True))
    record_id, token = created["record"]["id"], created["token"]
    profile = {"full_name": "Siti Aminah", "birth_date": "1990-01-01", "sex": "female"}
    link = await new_link(client, record_id, {"profile": profile})
    status, out = await exchange(client, code_of(link))
    assert status == 200, out
    assert (out["step"], out["prefill"]) == ("profile", profile)
    # Personal data is not kept with a used link.
    used = await links(client.app).get(hash_code(code_of(link)))
    assert used is not None and used.used_at is not None and used.prefill == Prefill()

    # The person went on (profile and photos), then came back from the app: consent is next.
    auth = {"Authorization": f"Bearer {token}"}
    assert (await client.put("/api/me/profile", json=profile, headers=auth)).status == 200
    for i, kind in enumerate(("ktp", "selfie_with_ktp", "face")):
        resp = await client.put(
            f"/api/me/documents/{kind}",
            data=photo_bytes(seed=i),
            headers={**auth, "Content-Type": "image/jpeg"},
        )
        assert resp.status == 200, await resp.text()
    status, out = await exchange(client, code_of(await new_link(client, record_id)))
    assert (status, out["step"]) == (200, "consent")
    assert out["record"]["state"] == "documents_uploaded"
    # The upstream events API carries the short reference and the state the app shows.
    events = await client.get(f"/api/upstream/records/{record_id}/events", headers=API_KEY)
    body = await events.json()
    assert (body["reference"], body["state"]) == (
        created["record"]["reference"],
        out["record"]["state"],
    )


async def test_who_may_ask_for_a_link(client: Client, participant_factory: Any) -> None:
    own: Participant = participant_factory()
    await own.register()
    resp = await client.post(f"/api/upstream/records/{own.record_id}/handoff", headers=API_KEY)
    assert resp.status == 403
    assert (await resp.json())["error"]["code"] == "handoff_not_creator"
    created = await upstream_create(client)
    record_id = created["record"]["id"]
    assert (await client.post(f"/api/upstream/records/{record_id}/handoff")).status == 401
    unknown = await client.post("/api/upstream/records/nope/handoff", headers=API_KEY)
    assert unknown.status == 404
    bad = await client.post(
        f"/api/upstream/records/{record_id}/handoff",
        json={"profile": {"sex": "x"}},
        headers=API_KEY,
    )
    assert bad.status == 422
    # No body at all is fine: a link without prefill.
    plain = await client.post(f"/api/upstream/records/{record_id}/handoff", headers=API_KEY)
    assert plain.status == 201, await plain.text()


async def test_the_return_url_setting_reaches_the_page(
    app_factory: Callable[..., Awaitable[Client]],
) -> None:
    client = await app_factory(app_return_url="jkn://verifikasi/selesai", handoff_ttl_seconds=120)
    created = await upstream_create(client)
    assert created["handoff"]["expires_in"] == 120
    code = code_of(created["handoff"])
    status, out = await exchange(client, code)
    assert (status, out["return_url"]) == (200, "jkn://verifikasi/selesai")
    page = await (await client.get(f"/r/{code}")).text()
    assert 'href="jkn://verifikasi/selesai"' in page


async def test_no_token_nor_code_in_the_logs(client: Client, captured_logs: io.StringIO) -> None:
    created = await upstream_create(client)
    first = code_of(created["handoff"])
    await client.get(f"/r/{first}")
    status, out = await exchange(client, first)
    assert status == 200
    await exchange(client, first)  # refused: logged as such
    second = code_of(await new_link(client, created["record"]["id"]))
    status, again = await exchange(client, second)
    assert status == 200
    lines = captured_logs.getvalue().splitlines()
    assert any("hand-off link used" in json.loads(line)["message"] for line in lines)
    assert any("handoff_used" in line for line in lines)
    needles = {
        "upstream token": created["token"],
        "exchanged token": out["token"],
        "second token": again["token"],
        "first code": first,
        "second code": second,
        "api key": "test-api-key",
    }
    leaks = [(what, line[:300]) for line in lines for what, v in needles.items() if v in line]
    assert not leaks, leaks
