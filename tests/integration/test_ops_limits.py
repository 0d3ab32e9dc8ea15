"""Abuse limits over real HTTP: 429 with Retry-After and the JSON error shape, per address."""

from __future__ import annotations

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


async def register(client: Client, **headers: str) -> Any:
    body = {"nik": make_nik(), "mobile": "0812-3456-7890", "email": "a@example.co.id"}
    return await client.post("/api/participants", json=body, headers=headers)


async def assert_429(resp: Any, retry_after: int) -> None:
    assert resp.status == 429
    assert resp.headers["Retry-After"] == str(retry_after)
    body = await resp.json()
    assert body == {"error": {"code": "rate_limited", "message": body["error"]["message"]}}


async def test_registration_limit_per_address(
    app_factory: AppFactory, clock: SettableClock
) -> None:
    client = await app_factory(rate_limit_register="2/60s")
    for _ in range(2):
        assert (await register(client)).status == 201
    await assert_429(await register(client), 30)
    clock.advance(30)
    assert (await register(client)).status == 201


async def test_proxy_hops_limit_each_client_separately(app_factory: AppFactory) -> None:
    client = await app_factory(rate_limit_register="1/hour", trusted_proxy_hops=1)
    # The client may write anything left of what our proxy appended: only the last counts.
    assert (await register(client, **{"X-Forwarded-For": "6.6.6.6, 10.0.0.1"})).status == 201
    assert (await register(client, **{"X-Forwarded-For": "7.7.7.7, 10.0.0.1"})).status == 429
    assert (await register(client, **{"X-Forwarded-For": "10.0.0.2"})).status == 201


async def test_upload_limit(app_factory: AppFactory) -> None:
    client = await app_factory(rate_limit_upload="2/hour")
    person = Participant(client, make_nik(female=True))
    await person.register()
    assert (await person.profile()).status == 200
    assert (await person.upload("ktp")).status == 200
    assert (await person.upload("face")).status == 200
    await assert_429(await person.upload("selfie_with_ktp"), 1800)


async def login(client: Client, username: str, password: str) -> Any:
    return await client.post("/api/auth/login", json={"username": username, "password": password})


async def test_login_limit_counts_failures_only(
    app_factory: AppFactory, clock: SettableClock
) -> None:
    client = await app_factory(rate_limit_login="3/15m")
    accounts = client.app[keys.ACCOUNTS]
    await accounts.create(
        username="budi",
        password="kopi-tubruk-panas-42",
        role=Role.OFFICER,
        display_name="Budi",
        now=clock.now(),
    )
    for _ in range(5):
        assert (await login(client, "budi", "kopi-tubruk-panas-42")).status == 200
    for name in ("x1", "x2", "x3"):  # different accounts: per-account lock-out does not help
        assert (await login(client, name, "guess-guess-guess")).status == 401
    await assert_429(await login(client, "budi", "kopi-tubruk-panas-42"), 300)


async def test_limits_can_be_switched_off(app_factory: AppFactory) -> None:
    client = await app_factory(rate_limit_register="off")
    for _ in range(4):
        assert (await register(client)).status == 201


async def test_openapi_documents_429(client: Client) -> None:
    spec = await (await client.get("/api/openapi.json")).json()
    assert "429" in spec["paths"]["/api/participants"]["post"]["responses"]
    assert "429" in spec["paths"]["/api/me/documents/{kind}"]["put"]["responses"]


@pytest.mark.redis
async def test_limits_shared_between_processes_through_redis(app_factory: AppFactory) -> None:
    import uuid

    from tests.support import REDIS_URL

    prefix = f"test-{uuid.uuid4().hex[:8]}"
    first = await app_factory(
        rate_limit_register="2/hour", redis_url=REDIS_URL, redis_prefix=prefix
    )
    second = await app_factory(
        rate_limit_register="2/hour", redis_url=REDIS_URL, redis_prefix=prefix
    )
    assert (await register(first)).status == 201
    assert (await register(second)).status == 201
    assert (await register(first)).status == 429
    assert (await register(second)).status == 429
