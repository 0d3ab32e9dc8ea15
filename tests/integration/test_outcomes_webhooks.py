"""Webhooks to a REAL receiver on loopback, on SQLite and PostgreSQL: down, 500s and a timeout,
then recovery; every event arrives, signed with every secret, in order per record, duplicates
carrying the same id; max age parks a delivery as failed and a supervisor redelivers it."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import date
from typing import Any

import pytest
import sqlalchemy as sa
from outcomes_support import (
    APPROVE,
    Receiver,
    Staff,
    app_database,
    app_of,
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
from videocall.adapters.webhook_worker import WebhookStore, WebhookWorker
from videocall.clock import SystemClock
from videocall.nik import parse_nik
from videocall.records import new_record
from videocall.webhooks import Backoff, parse_endpoints
from web import keys

FAST = {
    "webhook_backoff_base_seconds": 0.05,
    "webhook_backoff_max_seconds": 0.3,
    "webhook_timeout_seconds": 0.5,
    "webhook_poll_seconds": 0.05,
}


@pytest.fixture
def clock() -> SystemClock:  # real time: the retries wait for it
    return SystemClock()


async def statuses(client: Any) -> dict[str, int]:
    async with app_database(client).connect() as conn:
        rows = await conn.execute(
            sa.select(db.webhook_deliveries.c.status, sa.func.count()).group_by(
                db.webhook_deliveries.c.status
            )
        )
        return {s: int(n) for s, n in rows}


async def test_every_event_arrives_signed_and_in_order_through_outages(app_factory) -> None:
    receiver = Receiver(free_port(), fail_first=3, hang_next=1)
    client = await app_factory(webhook_endpoints=receiver.endpoints(), **FAST)
    app, database = app_of(client), app_database(client)
    now = SystemClock().now()
    officer = await Staff.open(
        client, database, await make_account(database, Role.OFFICER, now), now
    )
    supervisor = await Staff.open(
        client, database, await make_account(database, Role.SUPERVISOR, now), now
    )
    try:
        records = []
        for _ in range(2):  # receiver still down: connection refused meanwhile
            p = Participant(client, make_nik(female=True))
            await p.to_ready()
            sid = await start_call(app[keys.SESSIONS], p.record_id, officer.account, now)
            assert (await officer.post(f"/api/sessions/{sid}/decision", APPROVE))[0] == 201
            records.append(p.record_id)
        review = {"action": "overturn", "result": "rejected", "reason": "suspected_fraud"}
        assert (await supervisor.post(f"/api/reviews/{records[0]}", {"action": "confirm"}))[
            0
        ] == 200
        assert (await supervisor.post(f"/api/reviews/{records[1]}", review))[0] == 200
        async with database.connect() as conn:
            errors = (await conn.execute(sa.select(db.webhook_deliveries.c.last_error))).scalars()
            assert any(e and "Connect" in e for e in errors)
        await receiver.start()
        events = await outbox(database)
        assert len(events) == 14  # 7 per record: registered ... active / rejected
        await wait_for(
            lambda: receiver.delivered_ids() >= {e["id"] for e in events}, 20, "all events"
        )
    finally:
        await receiver.stop()
    statuses_ = [r.status for r in receiver.log]
    assert statuses_[:3] == [500, 500, 500] and 0 in statuses_  # 0: hung past the timeout
    assert all(all(r.valid.values()) for r in receiver.log)  # old and new secret both verify
    check_order(receiver, events)
    check_duplicates_identical(receiver)
    counts = Counter(r.msg_id for r in receiver.log)
    assert max(counts.values()) >= 2  # retried events came again with the same id
    assert Counter(r.msg_id for r in receiver.delivered()) == Counter({e["id"]: 1 for e in events})
    assert [r.event["type"] for r in receiver.delivered()][-1] in (
        "record.active",
        "record.rejected",
    )
    assert await statuses(client) == {"delivered": 14}


async def test_max_age_parks_failed_and_a_supervisor_redelivers(app_factory) -> None:
    receiver = Receiver(free_port(), always_fail=True)
    await receiver.start()
    client = await app_factory(
        webhook_endpoints=receiver.endpoints(), **FAST, webhook_max_age_seconds=1
    )
    database = app_database(client)
    now = SystemClock().now()
    supervisor = await Staff.open(
        client, database, await make_account(database, Role.SUPERVISOR, now), now
    )
    officer = await Staff.open(
        client, database, await make_account(database, Role.OFFICER, now), now
    )
    try:
        p = Participant(client, make_nik(female=True))
        await p.to_ready()
        failed: list[Any] = []

        async def poll_failed() -> None:
            status, body = await supervisor.get("/api/webhooks/failed")
            assert status == 200
            failed[:] = body["items"]

        for _ in range(100):
            await poll_failed()
            if failed:
                break
            await asyncio.sleep(0.1)
        [item] = failed  # only the head of the record's line was tried; the rest wait behind it
        assert item["type"] == "record.registered" and item["record_id"] == p.record_id
        assert item["last_error"] == "HTTP 500" and item["attempts"] >= 3
        assert (await officer.get("/api/webhooks/failed"))[0] == 403
        assert receiver.delivered_ids() == set()

        receiver.always_fail = False
        status, body = await supervisor.post(f"/api/webhooks/{item['id']}/redeliver")
        assert (status, body) == (200, {"id": item["id"], "status": "pending"})
        events = await outbox(database, p.record_id)
        await wait_for(
            lambda: receiver.delivered_ids() >= {e["id"] for e in events}, 10, "redelivery"
        )
        status, body = await supervisor.post(f"/api/webhooks/{item['id']}/redeliver")
        assert (status, body["error"]["code"]) == (409, "delivery_not_failed")
        status, body = await supervisor.post("/api/webhooks/999999/redeliver")
        assert (status, body["error"]["code"]) == (404, "delivery_not_found")
        assert (await supervisor.get("/api/webhooks/failed"))[1]["items"] == []
    finally:
        await receiver.stop()
    check_order(receiver, events)
    check_duplicates_identical(receiver)


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
async def test_two_processes_share_the_work_without_sending_twice(database_url: str) -> None:
    """Two workers with their own engines (as two server processes would have) on one
    PostgreSQL database: SKIP LOCKED claims, so each event is sent exactly once, in order."""
    receiver = Receiver(free_port())
    await receiver.start()
    databases = [Database.from_url(database_url) for _ in range(2)]
    repo = SqlRecordRepository(databases[0])
    clock = SystemClock()
    for _ in range(12):
        record = new_record(
            nik=parse_nik(make_nik(), today=date(2026, 11, 24)),
            mobile="+6281234567890",
            email="a@example.co.id",
            actor="test",
            now=clock.now(),
        )
        await repo.add(record)
        async with repo.edit(record.id) as r:
            r.set_profile(
                full_name="Budi",
                birth_date=r.nik_birth_date,
                sex=r.nik_sex,
                actor="t",
                now=clock.now(),
            )
    workers = [
        WebhookWorker(
            WebhookStore(d),
            parse_endpoints(receiver.endpoints()),
            Backoff(0.05),
            clock,
            timeout_seconds=2,
            poll_seconds=0.02,
        )
        for d in databases
    ]
    try:
        events = await outbox(databases[0])
        assert len(events) == 24
        for w in workers:
            w.start()
        await wait_for(
            lambda: receiver.delivered_ids() >= {e["id"] for e in events}, 15, "all events"
        )
    finally:
        for w in workers:
            await w.close()
        await receiver.stop()
        for d in databases:
            await d.close()
    assert Counter(r.msg_id for r in receiver.log) == Counter({e["id"]: 1 for e in events})
    check_order(receiver, events)
