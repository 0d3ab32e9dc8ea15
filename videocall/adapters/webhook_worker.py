"""Delivers outbox events to the configured webhook endpoints: at least once, in order per record.

All state lives in ``webhook_deliveries`` (one row per endpoint and event), so a restarted or
killed process picks up where it stopped:

1. materialise: every recent outbox event without a row for an endpoint gets one (``pending``);
   a unique (endpoint, event_seq) index makes this safe from several processes at once;
2. claim: due ``pending`` rows whose earlier events (same record, same endpoint) are all
   delivered; the claim pushes ``next_attempt_at`` out by a lease and counts the attempt, in one
   short transaction (``FOR UPDATE SKIP LOCKED`` on PostgreSQL), so no two processes post the
   same row at once and a process killed mid-request is retried once the lease expires;
3. post, signed per Standard Webhooks; 2xx -> ``delivered``; anything else -> retry with
   exponential backoff and jitter until max age after the first attempt, then ``failed``
   (listed for supervisors, who can redeliver).
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import aiohttp
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from videocall.adapters import db
from videocall.adapters.sql_records import Database
from videocall.clock import Clock
from videocall.errors import Conflict, NotFound
from videocall.records import DomainEvent
from videocall.webhooks import Backoff, Endpoint, headers, payload

logger = logging.getLogger(__name__)

D = db.webhook_deliveries
E = db.outbox_events
PENDING, DELIVERED, FAILED = "pending", "delivered", "failed"


@dataclass(frozen=True, slots=True)
class Claimed:
    delivery_id: int
    endpoint: str
    attempts: int
    deadline_at: datetime
    event: DomainEvent


def _claimable(endpoints: Sequence[str], now: datetime) -> sa.Select[Any]:
    earlier = D.alias("earlier")
    blocked = sa.exists().where(
        earlier.c.endpoint == D.c.endpoint,
        earlier.c.record_id == D.c.record_id,
        earlier.c.event_seq < D.c.event_seq,
        earlier.c.status != DELIVERED,
    )
    return sa.select(D.c.id).where(
        D.c.status == PENDING,
        D.c.next_attempt_at <= now,
        D.c.endpoint.in_(list(endpoints)),
        ~blocked,
    )


def _event(row: Any) -> DomainEvent:
    return DomainEvent(row.event_id, row.type, row.record_id, row.occurred_at, row.data)


class WebhookStore:
    """The SQL side of deliveries."""

    def __init__(self, database: Database) -> None:
        self.db = database

    async def materialise(self, endpoints: Sequence[str], since: datetime) -> None:
        """A ``pending`` row per endpoint for each event since ``since`` that has none."""
        async with self.db.begin() as conn:
            for url in endpoints:
                await conn.execute(self._materialise_one(url, since))

    def _materialise_one(self, url: str, since: datetime) -> Any:
        have = sa.exists().where(D.c.endpoint == url, D.c.event_seq == E.c.seq)
        source = (
            sa.select(
                E.c.seq,
                sa.literal(url),
                E.c.record_id,
                sa.literal(PENDING),
                sa.literal(0),
                E.c.occurred_at,
                E.c.occurred_at,
            )
            .where(E.c.occurred_at >= since, ~have)
            .order_by(E.c.seq)
        )
        dialect = postgresql if self.db.dialect == "postgresql" else sqlite
        columns = ["event_seq", "endpoint", "record_id", "status", "attempts"]
        return (
            dialect.insert(D)
            .from_select([*columns, "next_attempt_at", "created_at"], source)
            .on_conflict_do_nothing(index_elements=["endpoint", "event_seq"])
        )

    async def claim(
        self,
        endpoints: Sequence[str],
        now: datetime,
        lease: timedelta,
        backoff: Backoff,
        limit: int = 20,
    ) -> list[Claimed]:
        """Take due heads-of-line, count the attempt and lease them, in one transaction."""
        query = _claimable(endpoints, now).order_by(D.c.next_attempt_at, D.c.event_seq)
        query = query.limit(limit)
        if self.db.dialect == "postgresql":
            query = query.with_for_update(skip_locked=True, of=D)
        async with self.db.begin() as conn:
            ids = list((await conn.execute(query)).scalars())
            if not ids:
                return []
            await conn.execute(
                D.update()
                .where(D.c.id.in_(ids))
                .values(
                    attempts=D.c.attempts + 1,
                    next_attempt_at=now + lease,
                    deadline_at=sa.func.coalesce(D.c.deadline_at, backoff.deadline(now)),
                )
            )
            return await self._claimed(conn, ids)

    async def _claimed(self, conn: AsyncConnection, ids: list[int]) -> list[Claimed]:
        rows = await conn.execute(
            sa.select(
                D.c.id,
                D.c.endpoint,
                D.c.attempts,
                D.c.deadline_at,
                E.c.id.label("event_id"),
                E.c.type,
                E.c.record_id,
                E.c.occurred_at,
                E.c.data,
            )
            .join(E, E.c.seq == D.c.event_seq)
            .where(D.c.id.in_(ids))
            .order_by(D.c.event_seq)
        )
        return [Claimed(r.id, r.endpoint, r.attempts, r.deadline_at, _event(r)) for r in rows]

    async def delivered(self, delivery_id: int, now: datetime) -> None:
        await self._set(delivery_id, status=DELIVERED, delivered_at=now, last_error=None)

    async def retry(self, delivery_id: int, at: datetime, error: str) -> None:
        await self._set(delivery_id, next_attempt_at=at, last_error=error[:500])

    async def failed(self, delivery_id: int, error: str) -> None:
        await self._set(delivery_id, status=FAILED, last_error=error[:500])

    async def _set(self, delivery_id: int, **values: Any) -> None:
        async with self.db.begin() as conn:
            await conn.execute(
                D.update().where(D.c.id == delivery_id, D.c.status == PENDING).values(**values)
            )

    async def list_failed(self, limit: int = 200) -> list[dict[str, Any]]:
        async with self.db.connect() as conn:
            rows = await conn.execute(
                sa.select(
                    D.c.id,
                    D.c.endpoint,
                    D.c.record_id,
                    D.c.attempts,
                    D.c.last_error,
                    D.c.created_at,
                    D.c.deadline_at,
                    E.c.id.label("event_id"),
                    E.c.type,
                    E.c.occurred_at,
                )
                .join(E, E.c.seq == D.c.event_seq)
                .where(D.c.status == FAILED)
                .order_by(D.c.id)
                .limit(limit)
            )
            return [dict(r._mapping) for r in rows]

    async def redeliver(self, delivery_id: int, now: datetime) -> None:
        """Back to ``pending`` with a fresh retry budget; only a ``failed`` delivery."""
        async with self.db.begin() as conn:
            result = await conn.execute(
                D.update()
                .where(D.c.id == delivery_id, D.c.status == FAILED)
                .values(status=PENDING, attempts=0, next_attempt_at=now, deadline_at=None)
            )
            if result.rowcount == 1:
                return
            status = await conn.scalar(sa.select(D.c.status).where(D.c.id == delivery_id))
        if status is None:
            raise NotFound("no such webhook delivery", code="delivery_not_found")
        raise Conflict(f"the delivery is {status}, not failed", code="delivery_not_failed")

    async def status_counts(self) -> dict[str, int]:
        async with self.db.connect() as conn:
            rows = await conn.execute(sa.select(D.c.status, sa.func.count()).group_by(D.c.status))
            return {status: int(n) for status, n in rows}


class WebhookWorker:
    """One per process; ``start`` and ``close`` are safe to call twice."""

    def __init__(
        self,
        store: WebhookStore,
        endpoints: Sequence[Endpoint],
        backoff: Backoff,
        clock: Clock,
        *,
        timeout_seconds: float = 10.0,
        poll_seconds: float = 1.0,
        rng: random.Random | None = None,
        backlog: timedelta = timedelta(days=30),
        on_attempt_failed: Callable[[bool], None] | None = None,
    ) -> None:
        self.store = store
        # Told of every failed attempt; True when it was the last one (parked as failed).
        self.on_attempt_failed = on_attempt_failed
        self.endpoints = {e.url: e for e in endpoints}
        self.backoff = backoff
        self.clock = clock
        self.timeout = aiohttp.ClientTimeout(total=timeout_seconds)
        # A killed process's claims come back after this; longer than any request can take.
        self.lease = timedelta(seconds=timeout_seconds + 5)
        self.poll_seconds = poll_seconds
        self.rng = rng or random.Random()
        # Events older than this when first seen (say, by a newly configured endpoint) are not
        # sent; it is far longer than any outage we expect, so a restart never loses events.
        self.backlog = backlog
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._http: aiohttp.ClientSession | None = None

    def start(self) -> None:
        if self._task is None and self.endpoints:
            self._task = asyncio.create_task(self._run(), name="webhook-worker")

    async def close(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        http, self._http = self._http, None
        if http is not None:
            await http.close()

    def wake(self) -> None:
        """Look for work now (a decision just committed) instead of at the next poll."""
        self._wake.set()

    async def _run(self) -> None:
        while True:
            try:
                busy = await self.run_once()
            except Exception:
                logger.exception("webhook worker pass failed; retrying")
                busy = 0
            if not busy:
                await self._idle()

    async def _idle(self) -> None:
        try:
            await asyncio.wait_for(self._wake.wait(), self.poll_seconds)
        except TimeoutError:
            pass
        self._wake.clear()

    async def run_once(self) -> int:
        """Materialise, claim and attempt one batch; returns how many were attempted."""
        now = self.clock.now()
        urls = list(self.endpoints)
        await self.store.materialise(urls, now - self.backlog)
        claimed = await self.store.claim(urls, now, self.lease, self.backoff)
        if claimed:
            async with asyncio.TaskGroup() as group:
                for item in claimed:
                    group.create_task(self._attempt(item))
        return len(claimed)

    def _session(self) -> aiohttp.ClientSession:
        if self._http is None or self._http.closed:
            self._http = aiohttp.ClientSession(timeout=self.timeout)
        return self._http

    async def _attempt(self, item: Claimed) -> None:
        endpoint = self.endpoints[item.endpoint]
        body = payload(item.event)
        signed = headers(endpoint.secrets, item.event.id, self.clock.now(), body)
        error = await self._post(endpoint.url, body, signed)
        if error is None:
            await self.store.delivered(item.delivery_id, self.clock.now())
            logger.info("webhook %s %s delivered", item.event.type, item.event.id)
            return
        await self._after_failure(item, error)

    async def _post(self, url: str, body: bytes, signed: dict[str, str]) -> str | None:
        """None when the receiver took it (2xx), else what went wrong."""
        try:
            async with self._session().post(
                url, data=body, headers=signed, allow_redirects=False
            ) as resp:
                await resp.read()
                return None if 200 <= resp.status < 300 else f"HTTP {resp.status}"
        except TimeoutError:
            return "timeout"
        except aiohttp.ClientError as exc:
            return f"{type(exc).__name__}: {exc}"

    async def _after_failure(self, item: Claimed, error: str) -> None:
        now = self.clock.now()
        at = self.backoff.next_attempt(item.attempts, item.deadline_at, now, self.rng.random())
        if self.on_attempt_failed is not None:
            self.on_attempt_failed(at is None)
        if at is None:
            await self.store.failed(item.delivery_id, error)
            logger.warning(
                "webhook %s %s failed for good after %d attempts: %s",
                item.event.type,
                item.event.id,
                item.attempts,
                error,
            )
            return
        await self.store.retry(item.delivery_id, at, error)
        logger.info(
            "webhook %s %s attempt %d: %s; next at %s",
            item.event.type,
            item.event.id,
            item.attempts,
            error,
            at.isoformat(),
        )
