"""Helpers for the outcome tests: staff logged in over HTTP, a call with realistic evidence, and
a real upstream receiver (an aiohttp server on loopback) that can fail, hang or be down."""

from __future__ import annotations

import asyncio
import base64
import functools
import hashlib
import json
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from aiohttp import web
from aiohttp.test_utils import TestClient
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from videocall.accounts import Account, Role, hash_password
from videocall.adapters import db
from videocall.adapters.sql_accounts import SqlAccounts
from videocall.adapters.sql_records import Database
from videocall.adapters.sql_sessions import SqlCallSessions
from web import keys

PASSWORD = "Petugas-Uji-2026!"
OLD_SECRET = "whsec_" + base64.b64encode(b"outcomes-old-secret-0123456789").decode()
NEW_SECRET = "whsec_" + base64.b64encode(b"outcomes-new-secret-0123456789").decode()


@functools.cache
def _password_hash() -> str:
    return hash_password(PASSWORD)  # argon2 is slow on purpose: once per test process


async def make_account(database: Database, role: Role, now: datetime) -> Account:
    name = f"{role.value}.{uuid.uuid4().hex[:8]}"
    values = {
        "id": str(uuid.uuid4()),
        "username": name,
        "display_name": name,
        "role": role.value,
        "password_hash": _password_hash(),
        "created_at": now,
    }
    async with database.begin() as conn:
        await conn.execute(db.accounts.insert().values(**values))
    account = await SqlAccounts(database).get(values["id"])
    assert account is not None
    return account


class Staff:
    """An officer or supervisor with their own session cookie on a shared HTTP client."""

    def __init__(self, client: Any, account: Account, cookie: str) -> None:
        self.client = client
        self.account = account
        self.headers = {"Cookie": f"vc_session={cookie}"}

    @classmethod
    async def login(cls, client: Any, account: Account) -> Staff:
        resp = await client.post(
            "/api/auth/login", json={"username": account.username, "password": PASSWORD}
        )
        assert resp.status == 200, await resp.text()
        cookie = resp.cookies["vc_session"].value
        jar = getattr(client, "session", client).cookie_jar
        jar.clear()  # each Staff sends its own cookie explicitly
        return cls(client, account, cookie)

    @classmethod
    async def open(cls, client: Any, database: Database, account: Account, now: datetime) -> Staff:
        """Logged in without the (deliberately slow) password check; the accounts tests cover it."""
        cookie = await SqlAccounts(database).open_session(account.id, now, 12 * 3600)
        return cls(client, account, cookie)

    async def get(self, path: str) -> tuple[int, Any]:
        resp = await self.client.get(path, headers=self.headers)
        return resp.status, await resp.json()

    async def post(self, path: str, body: Any = None) -> tuple[int, Any]:
        resp = await self.client.post(path, json=body, headers=self.headers)
        return resp.status, await resp.json()


def media(kinds: tuple[str, ...] = ("face", "ktp"), recording: bool = True) -> dict[str, Any]:
    """What the media layer writes into call_sessions when a call went well."""
    digest = hashlib.sha256(b"recording").hexdigest()
    return {
        "recording": {
            "segments": [
                {
                    "path": "recordings/s-000.webm",
                    "sha256": digest,
                    "duration": 184.2,
                    "started_at": "2026-11-24T03:01:00+00:00",
                }
            ]
            if recording
            else []
        },
        "snapshots": [
            {
                "kind": kind,
                "path": f"snapshots/{kind}.jpg",
                "taken_at": "2026-11-24T03:02:00+00:00",
                "metrics": {"brightness": 131.0, "sharpness": 212.5},
                "bad": False,
            }
            for kind in kinds
        ],
        "quality_summary": {"overall": "good", "video_kbps_p50": 850, "packet_loss_max": 0.01},
    }


async def start_call(
    sessions: SqlCallSessions,
    record_id: str,
    officer: Account,
    now: datetime,
    connected: bool = True,
    **media_kw: Any,
) -> str:
    """A call as the SQL record has it (no live media): paired and, by default, connected."""
    session = await sessions.start(
        record_id=record_id, officer_id=officer.id, officer_actor=officer.actor, now=now
    )
    if connected:
        await sessions.mark_connected(session.id, now)
    await sessions.update_media(session.id, **media(**media_kw))
    return session.id


def app_of(client: TestClient[Any, Any]) -> web.Application:
    return client.server.app  # type: ignore[return-value]


async def outbox(database: Database, record_id: str | None = None) -> list[dict[str, Any]]:
    query = sa.select(db.outbox_events).order_by(db.outbox_events.c.seq)
    if record_id is not None:
        query = query.where(db.outbox_events.c.record_id == record_id)
    async with database.connect() as conn:
        return [dict(r._mapping) for r in await conn.execute(query)]


APPROVE = {
    "result": "approved",
    "checklist": {
        "face_matches_ktp": True,
        "face_matches_selfie": True,
        "ktp_security_features": True,
        "random_code_read": True,
        "details_confirmed": True,
        "consent_confirmed": True,
    },
}


# -- upstream receiver -------------------------------------------------------------------------


@dataclass
class Received:
    msg_id: str
    body: bytes
    headers: dict[str, str]
    status: int
    valid: dict[str, bool]

    @property
    def event(self) -> dict[str, Any]:
        return json.loads(self.body)  # type: ignore[no-any-return]


@dataclass
class Receiver:
    """The insurer's backend: 500 for the first ``fail_first`` requests, then hangs for the next
    ``hang_next`` (longer than the sender's timeout), then 204; verifies every signature."""

    port: int
    secrets: tuple[str, ...] = (OLD_SECRET, NEW_SECRET)
    fail_first: int = 0
    hang_next: int = 0
    always_fail: bool = False
    log: list[Received] = field(default_factory=list)
    hung: asyncio.Event = field(default_factory=asyncio.Event)
    release: asyncio.Event = field(default_factory=asyncio.Event)
    _runner: web.AppRunner | None = None

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        hdrs = dict(request.headers)
        valid = {s: _verifies(s, body, hdrs) for s in self.secrets}
        status = self._status()
        self.log.append(Received(hdrs.get("webhook-id", ""), body, hdrs, status, valid))
        if status == 0:
            self.hung.set()
            await self.release.wait()  # far past the sender's timeout; until stop()
            return web.Response(status=504)
        return web.Response(status=status)

    def _status(self) -> int:
        if self.always_fail:
            return 500
        if self.fail_first > 0:
            self.fail_first -= 1
            return 500
        if self.hang_next > 0:
            self.hang_next -= 1
            return 0
        return 204

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks"

    def endpoints(self, *secrets: str) -> str:
        return json.dumps([{"url": self.url, "secrets": list(secrets or self.secrets)}])

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/hooks", self.handle)
        self._runner = web.AppRunner(app, handle_signals=False, shutdown_timeout=0.1)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()

    async def stop(self) -> None:
        self.release.set()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def delivered(self) -> list[Received]:
        return [r for r in self.log if 200 <= r.status < 300]

    def delivered_ids(self) -> set[str]:
        return {r.msg_id for r in self.delivered()}


def _verifies(secret: str, body: bytes, headers: dict[str, str]) -> bool:
    try:
        Webhook(secret).verify(body, headers)
    except WebhookVerificationError:
        return False
    return True


def check_order(receiver: Receiver, events: list[dict[str, Any]]) -> None:
    """Per record: no event is sent before every earlier one was delivered (2xx)."""
    seq = {e["id"]: i for i, e in enumerate(events)}
    by_record: dict[str, list[dict[str, Any]]] = {}
    for e in events:
        by_record.setdefault(e["record_id"], []).append(e)
    done: set[str] = set()
    for r in receiver.log:
        record_events = by_record[r.event["data"]["record_id"]]
        earlier = [e["id"] for e in record_events if seq[e["id"]] < seq[r.msg_id]]
        assert set(earlier) <= done, f"{r.event['type']} sent before an earlier event"
        if 200 <= r.status < 300:
            done.add(r.msg_id)


def check_duplicates_identical(receiver: Receiver) -> None:
    bodies: dict[str, bytes] = {}
    for r in receiver.log:
        assert bodies.setdefault(r.msg_id, r.body) == r.body
        assert r.event["data"]["event_id"] == r.msg_id


async def wait_for(predicate: Any, seconds: float, what: str) -> None:
    try:
        async with asyncio.timeout(seconds):
            while not predicate():  # noqa: ASYNC110 - the state lives in another process/DB
                await asyncio.sleep(0.05)
    except TimeoutError:
        raise AssertionError(f"timed out waiting for {what}") from None


def app_database(client: TestClient[Any, Any]) -> Database:
    return app_of(client)[keys.DATABASE]
