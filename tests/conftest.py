"""Shared fixtures: the real app over real HTTP, on SQLite and on PostgreSQL."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from server import create_app
from tests.support import POSTGRES_ADMIN_URL, SettableClock, make_nik, photo_bytes
from videocall.adapters.migrate import upgrade
from videocall.settings import Settings

DB_BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@pytest.fixture(autouse=True)
async def _no_leaked_tasks() -> AsyncIterator[None]:
    """Fail a test that leaves asyncio tasks running behind it."""
    before = asyncio.all_tasks()
    yield

    def running() -> list[asyncio.Task[object]]:
        current = asyncio.current_task()
        return [
            t
            for t in asyncio.all_tasks() - before
            if not t.done() and t is not current and not _library_timer(t)
        ]

    # Libraries cancel their own tasks on close; give them a moment to unwind before judging.
    for _ in range(150):  # up to 3 s: a loaded CI machine unwinds slowly
        if not running():
            break
        await asyncio.sleep(0.02)
    leaked = running()
    for task in leaked:
        task.cancel()
    assert not leaked, f"tasks left running: {leaked}"


def _library_timer(task: asyncio.Task[object]) -> bool:
    """engine.io's per-socket ping timer sleeps out its interval after the socket has closed:
    harmless, and not ours to cancel."""
    return getattr(task.get_coro(), "__qualname__", "") == "AsyncSocket._send_ping"


async def _create_pg_database() -> str:
    name = f"vc_test_{uuid.uuid4().hex[:12]}"
    conn = await asyncpg.connect(POSTGRES_ADMIN_URL)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return name


async def _drop_pg_database(name: str) -> None:
    conn = await asyncpg.connect(POSTGRES_ADMIN_URL)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


@asynccontextmanager
async def migrated_postgres() -> AsyncIterator[str]:
    """A fresh, migrated PostgreSQL database, dropped afterwards."""
    name = await _create_pg_database()
    base = POSTGRES_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://")
    url = f"{base}/{name}"
    try:
        await asyncio.to_thread(upgrade, url)
        yield url
    finally:
        await _drop_pg_database(name)


@pytest.fixture(params=DB_BACKENDS)
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """A freshly migrated database of each kind."""
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'test.db'}"
        await asyncio.to_thread(upgrade, url)
        yield url
        return
    async with migrated_postgres() as url:
        yield url


@pytest.fixture
def clock() -> SettableClock:
    return SettableClock()


@pytest.fixture
def settings_factory(tmp_path: Path, database_url: str) -> Callable[..., Settings]:
    def make(**overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "data_dir": tmp_path / "data",
            "database_url": database_url,
            "secret_key": "test-signing-key",
            "upstream_api_keys": ["insurer:test-api-key"],
            "service_hours": "always",
            "public_holidays": ["2026-12-25"],
        }
        values.update(overrides)
        return Settings(**values)

    return make


@pytest.fixture
async def app_factory(
    settings_factory: Callable[..., Settings], clock: SettableClock
) -> AsyncIterator[Callable[..., Awaitable[TestClient[web.Request, web.Application]]]]:
    clients: list[TestClient[web.Request, web.Application]] = []

    async def make(**overrides: Any) -> TestClient[web.Request, web.Application]:
        app = create_app(settings_factory(**overrides), clock=clock)
        client = TestClient(TestServer(app, host="127.0.0.1"))
        await client.start_server()
        clients.append(client)
        return client

    yield make
    for c in clients:
        await c.close()


@pytest.fixture
async def client(
    app_factory: Callable[..., Awaitable[TestClient[web.Request, web.Application]]],
) -> TestClient[web.Request, web.Application]:
    return await app_factory()


class Participant:
    """A participant driving the journey over HTTP."""

    def __init__(self, client: TestClient[web.Request, web.Application], nik: str) -> None:
        self.client = client
        self.nik = nik
        self.token = ""
        self.record_id = ""

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    async def register(self) -> dict[str, Any]:
        resp = await self.client.post(
            "/api/participants",
            json={"nik": self.nik, "mobile": "0812-3456-7890", "email": "siti@example.co.id"},
        )
        assert resp.status == 201, await resp.text()
        body = await resp.json()
        self.token, self.record_id = body["token"], body["record"]["id"]
        return body

    async def profile(self, **overrides: Any) -> Any:
        body = {"full_name": "Siti Aminah", "birth_date": "1990-01-01", "sex": "female"}
        body.update(overrides)
        return await self.client.put("/api/me/profile", json=body, headers=self.auth)

    async def upload(self, kind: str, data: bytes | None = None, **headers: str) -> Any:
        return await self.client.put(
            f"/api/me/documents/{kind}",
            data=data if data is not None else photo_bytes(),
            headers={**self.auth, "Content-Type": "image/jpeg", **headers},
        )

    async def to_ready(self) -> None:
        await self.register()
        assert (await self.profile()).status == 200
        for i, kind in enumerate(("ktp", "selfie_with_ktp", "face")):
            resp = await self.upload(kind, photo_bytes(seed=i))
            assert resp.status == 200, await resp.text()
        resp = await self.client.post("/api/me/consent", headers=self.auth)
        assert resp.status == 200, await resp.text()


@pytest.fixture
def participant_factory(
    client: TestClient[web.Request, web.Application],
) -> Iterator[Callable[..., Participant]]:
    from datetime import date

    def make(female: bool = True, birth: date = date(1990, 1, 1)) -> Participant:
        return Participant(client, make_nik(birth, female=female))

    yield make
