"""Shared fixtures: the real app over real HTTP, on SQLite and on PostgreSQL."""

from __future__ import annotations

import asyncio
import fcntl
import os
import shutil
import sqlite3
import tempfile
import threading
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
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

# -- parallel runs (`make test`: pytest-xdist, --dist loadgroup) -------------------------------
# Each test file is one unit of work: its tests run on one worker, in order, so module-scoped
# fixtures are set up once. Families of files that would get in each other's way run one after
# another on a single worker, beside the light tests of the other workers: the browser tests
# (one Chromium, one shared server, screenshots and logs under fixed names) and the tests that
# start several server processes, drive real media or wait out heartbeat TTLs. The families are
# started first (they are the longest chains), then the other integration files; the unit
# tests fill in at the end. (xdist's own xdist_group marks rename node ids, which pytest 9 no
# longer allows: the grouping is done by the scheduler below instead.)
SERIAL_GROUPS: dict[str, tuple[str, ...]] = {
    "e2e": ("tests/e2e/",),
    "heavy": (
        "tests/integration/test_fault_matrix.py",
        "tests/integration/test_cluster.py",
        "tests/integration/test_outcomes_restart.py",
        "tests/integration/test_network_",
        "tests/integration/test_media_quality.py",
        "tests/integration/test_media_call.py",
        "tests/integration/test_media_recording.py",
        "tests/integration/test_uploads_live_call.py",
        "tests/integration/test_node_registry.py",
        "tests/integration/test_node_incarnation.py",
    ),
}


def work_unit(nodeid: str) -> str:
    """The unit of work a test belongs to: its family in SERIAL_GROUPS, else its file."""
    path = nodeid.split("::", 1)[0]
    for group, prefixes in SERIAL_GROUPS.items():
        if path.startswith(prefixes):
            return group
    return path


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    if config.getvalue("dist") != "loadgroup":
        return None  # xdist's own scheduler for any other --dist
    # Here, not at the top: the plain runs work without pytest-xdist installed.
    from xdist.scheduler import LoadScopeScheduling

    class UnitScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return work_unit(nodeid)

    return UnitScheduling(config, log)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not os.environ.get("PYTEST_XDIST_WORKER"):
        return  # a plain run keeps the collection order
    order = [*SERIAL_GROUPS, "tests/integration/", "tests/"]

    def rank(item: pytest.Item) -> int:
        unit = work_unit(item.nodeid)
        return next(i for i, prefix in enumerate(order) if unit.startswith(prefix))

    # The workers report this order to the scheduler (with --no-loadscope-reorder it hands
    # out the units in it). Stable: files keep their order within a rank.
    items.sort(key=rank)


# Tests that judge real-time media quality (no warning in a live call, a hint within 3 s) run
# alone: while one runs, no other worker runs a test (it waits for the tests in progress to
# end, and the others wait for it). Everything else shares the machine.
ALONE: tuple[str, ...] = (
    "tests/e2e/test_call_quality.py",
    "tests/integration/test_uploads_live_call.py",
    "tests/integration/test_media_quality.py",
)


class RunLock:
    """A readers-writer lock over the workers of one xdist run (flock on two files): tests
    share it, a test that runs alone takes it exclusively. The gate keeps new readers out
    while a writer waits, so the writer is not starved."""

    def __init__(self, path: Path) -> None:
        self._gate = path.with_suffix(".gate").open("a+b")
        self._rw = path.open("a+b")

    @contextmanager
    def shared(self) -> Iterator[None]:
        fcntl.flock(self._gate, fcntl.LOCK_EX)
        fcntl.flock(self._rw, fcntl.LOCK_SH)
        fcntl.flock(self._gate, fcntl.LOCK_UN)
        try:
            yield
        finally:
            fcntl.flock(self._rw, fcntl.LOCK_UN)

    @contextmanager
    def exclusive(self) -> Iterator[None]:
        fcntl.flock(self._gate, fcntl.LOCK_EX)
        try:
            fcntl.flock(self._rw, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(self._rw, fcntl.LOCK_UN)
        finally:
            fcntl.flock(self._gate, fcntl.LOCK_UN)


_run_lock: list[RunLock] = []


def _lock_of_this_run() -> RunLock | None:
    run = os.environ.get("PYTEST_XDIST_TESTRUNUID")
    if not run:
        return None  # one process: nothing beside it
    if not _run_lock:
        _run_lock.append(RunLock(Path(tempfile.gettempdir()) / f"vc-tests-{run}.lock"))
    return _run_lock[0]


# tryfirst: outside pytest-timeout's wrapper, so the wait for the lock is not the test's time.
@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Any:
    lock = _lock_of_this_run()
    if lock is None:
        return (yield)
    alone = item.nodeid.split("::", 1)[0].startswith(ALONE)
    with lock.exclusive() if alone else lock.shared():
        return (yield)


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


# -- databases --------------------------------------------------------------------------------
# Migrating costs ~0.3 s on SQLite and ~1 s on PostgreSQL, and several hundred tests want a fresh
# database: each process (each xdist worker) migrates one template of each kind once, and every
# test gets a copy of it (a file copy; CREATE DATABASE ... TEMPLATE). The copies are the migrated
# schema byte for byte, alembic_version included.

_templates: dict[str, str] = {}
_templates_lock = threading.Lock()


def _worker() -> str:
    return os.environ.get("PYTEST_XDIST_WORKER", "main")


def _pg_url(name: str) -> str:
    base = POSTGRES_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://")
    return f"{base}/{name}"


async def _admin(sql: str) -> None:
    conn = await asyncpg.connect(POSTGRES_ADMIN_URL)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def _ensure_pg_template() -> str:
    """Blocking (call from a thread): this process's migrated PostgreSQL template."""
    with _templates_lock:
        if "postgres" not in _templates:
            name = f"vc_tpl_{_worker()}_{uuid.uuid4().hex[:8]}"
            asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
            try:
                upgrade(_pg_url(name))
            except BaseException:
                asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
                raise
            _templates["postgres"] = name
        return _templates["postgres"]


def _ensure_sqlite_template(base: Path) -> Path:
    """Blocking (call from a thread): this process's migrated SQLite file, checkpointed."""
    with _templates_lock:
        if "sqlite" not in _templates:
            path = base / "template.db"
            upgrade(f"sqlite+aiosqlite:///{path}")
            conn = sqlite3.connect(path)
            try:  # everything in the main file: the copy needs no -wal beside it
                conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            finally:
                conn.close()
            _templates["sqlite"] = str(path)
        return Path(_templates["sqlite"])


def _drop_templates() -> None:
    name = _templates.pop("postgres", None)
    if name is not None:
        asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def pytest_sessionfinish(session: pytest.Session) -> None:
    # In a thread of its own: no event loop may be running on this one.
    dropper = threading.Thread(target=_drop_templates)
    dropper.start()
    dropper.join()


@asynccontextmanager
async def migrated_postgres() -> AsyncIterator[str]:
    """A fresh, migrated PostgreSQL database, dropped afterwards."""
    template = await asyncio.to_thread(_ensure_pg_template)
    name = f"vc_test_{uuid.uuid4().hex[:12]}"
    await _admin(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    try:
        yield _pg_url(name)
    finally:
        await _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=DB_BACKENDS)
async def database_url(
    request: pytest.FixtureRequest, tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[str]:
    """A freshly migrated database of each kind."""
    if request.param == "sqlite":
        base = tmp_path_factory.getbasetemp()
        template = await asyncio.to_thread(_ensure_sqlite_template, base)
        path = tmp_path / "test.db"
        shutil.copyfile(template, path)
        yield f"sqlite+aiosqlite:///{path}"
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
