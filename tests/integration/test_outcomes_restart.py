"""A real ``python server.py`` killed with SIGKILL after a decision committed: once while the
delivery waits in retry backoff (receiver down), once with a request in flight. After each
restart every event still arrives, in order, with the same ids. SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import sqlalchemy as sa
from outcomes_support import (
    APPROVE,
    Receiver,
    Staff,
    check_duplicates_identical,
    check_order,
    make_account,
    outbox,
    start_call,
    wait_for,
)

from tests.conftest import Participant
from tests.support import free_port, make_nik
from videocall.accounts import Role
from videocall.adapters import db
from videocall.adapters.sql_records import Database, SqlRecordRepository
from videocall.adapters.sql_sessions import SqlCallSessions

ROOT = Path(__file__).resolve().parents[2]


class Http:
    """Just enough of TestClient's interface for Participant and Staff, against a base URL."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.session = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))

    def get(self, path: str, **kw: Any) -> Any:
        return self.session.get(self.base + path, **kw)

    def post(self, path: str, **kw: Any) -> Any:
        return self.session.post(self.base + path, **kw)

    def put(self, path: str, **kw: Any) -> Any:
        return self.session.put(self.base + path, **kw)


class Server:
    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.env, self.log = env, log
        self.proc: subprocess.Popen[bytes] | None = None

    async def start(self) -> None:
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(  # noqa: ASYNC220 - returns at once, we poll below
                [sys.executable, "server.py"], cwd=ROOT, env=self.env, stdout=out, stderr=out
            )
        url = f"http://127.0.0.1:{self.env['PORT']}/healthz"
        async with aiohttp.ClientSession() as s:
            for _ in range(300):
                assert self.proc.poll() is None, self.log.read_text()[-3000:]
                try:
                    async with s.get(url) as resp:
                        if resp.status == 200:
                            return
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.05)
        raise AssertionError("server did not start")

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)


async def attempts(database: Database) -> int:
    async with database.connect() as conn:
        return int(await conn.scalar(sa.select(sa.func.sum(db.webhook_deliveries.c.attempts))) or 0)


async def test_sigkill_after_commit_then_restart_delivers_everything(
    database_url: str, tmp_path: Path
) -> None:
    receiver = Receiver(free_port(), hang_next=1)
    port = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "PYTHONPATH")},
        "DATA_DIR": str(tmp_path / "data"),
        "DATABASE_URL": database_url,
        "WEBHOOK_ENDPOINTS": receiver.endpoints(),
        "WEBHOOK_BACKOFF_BASE_SECONDS": "0.1",
        "WEBHOOK_BACKOFF_MAX_SECONDS": "0.5",
        "WEBHOOK_TIMEOUT_SECONDS": "0.5",
        "WEBHOOK_POLL_SECONDS": "0.05",
        "SECRET_KEY": "restart-test-key",
        "SERVICE_HOURS": "always",
        "HOST": "127.0.0.1",
        "PORT": str(port),
    }
    server = Server(env, tmp_path / "server.log")
    database = Database.from_url(database_url)
    http = Http(f"http://127.0.0.1:{port}")
    try:
        await server.start()
        now = datetime.now(UTC)
        officer_account = await make_account(database, Role.OFFICER, now)
        officer = await Staff.open(http, database, officer_account, now)
        p = Participant(http, make_nik(female=True))  # type: ignore[arg-type]
        await p.to_ready()
        sessions = SqlCallSessions(database, SqlRecordRepository(database))
        sid = await start_call(sessions, p.record_id, officer_account, now)
        status, body = await officer.post(f"/api/sessions/{sid}/decision", APPROVE)
        assert status == 201, body  # committed; the receiver is down: retries in backoff
        await wait_for_async(lambda: attempts(database), 3, "failed attempts")
        server.kill()

        await receiver.start()  # up, but the first request hangs past the timeout
        await server.start()
        await wait_for(receiver.hung.is_set, 15, "a request in flight")
        server.kill()  # killed mid-request: its claim comes back when the lease expires

        await server.start()
        events = await outbox(database, p.record_id)
        assert events[-1]["type"] == "record.under_review"
        await wait_for(
            lambda: receiver.delivered_ids() >= {e["id"] for e in events}, 30, "all events"
        )
    finally:
        server.stop()
        await http.session.close()
        await receiver.stop()
        await database.close()
    hung = next(r for r in receiver.log if r.status == 0)
    assert sum(r.msg_id == hung.msg_id for r in receiver.log) == 2  # the same id, again
    assert all(all(r.valid.values()) for r in receiver.log)
    check_order(receiver, events)
    check_duplicates_identical(receiver)
    assert [r.event["type"] for r in receiver.delivered()] == [e["type"] for e in events]


async def wait_for_async(count: Any, at_least: int, what: str) -> None:
    try:
        async with asyncio.timeout(15):
            while await count() < at_least:  # noqa: ASYNC110 - the count lives in the database
                await asyncio.sleep(0.05)
    except TimeoutError:
        raise AssertionError(f"timed out waiting for {what}") from None
