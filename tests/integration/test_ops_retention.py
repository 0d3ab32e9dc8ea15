"""The retention job on SQLite and PostgreSQL: deletes photos, snapshots and recordings of final
records when due, writes one audit entry each, and is safe with two processes at once."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path

from aiohttp import web
from aiohttp.test_utils import TestClient

from tests.conftest import Participant
from tests.support import SettableClock, make_nik
from videocall.accounts import Role
from videocall.records import RecordState
from videocall.retention import PURGED_ACTION, RETENTION_ACTOR
from web import keys
from web.housekeeping import RETENTION

Client = TestClient[web.Request, web.Application]
AppFactory = Callable[..., Awaitable[Client]]
DAY = 86400.0
SETTINGS = {"retention_rejected_days": 30, "retention_active_days": 365}


async def decided(
    client: Client, clock: SettableClock, result: RecordState
) -> tuple[str, list[Path]]:
    """A record through a call to ``result``, with a recording segment and a snapshot on disk."""
    app = client.app
    person = Participant(client, make_nik(female=True))
    await person.to_ready()
    officer = await app[keys.ACCOUNTS].create(
        username=f"o{person.record_id[:8]}",
        password="kopi-tubruk-panas-42",
        role=Role.OFFICER,
        display_name="Officer",
        now=clock.now(),
    )
    session = await app[keys.SESSIONS].start(
        record_id=person.record_id,
        officer_id=officer.id,
        officer_actor=officer.actor,
        now=clock.now(),
    )
    settings = app[keys.SETTINGS]
    files = [
        settings.recordings_dir / f"{session.id}-000.webm",
        settings.snapshots_dir / f"{session.id}-001-face.jpg",
    ]
    for path in files:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"media")
    async with app[keys.RECORDS].edit(person.record_id) as record:
        if result is RecordState.ACTIVE:
            record.start_review(due_at=clock.now(), actor=officer.actor, now=clock.now())
        record.transition(result, actor=officer.actor, now=clock.now())
    return person.record_id, files


async def photo_paths(client: Client, record_id: str) -> list[Path]:
    docs = await client.app[keys.RECORDS].documents(record_id)
    return [client.app[keys.BLOBS].path_for(d.sha256) for d in docs]


async def purge_entries(client: Client, record_id: str) -> list[dict]:
    history = await client.app[keys.RECORDS].history(record_id)
    return [h.as_dict() for h in history if h.action == PURGED_ACTION]


async def test_files_deleted_when_due_and_audited(
    app_factory: AppFactory, clock: SettableClock
) -> None:
    client = await app_factory(**SETTINGS)
    job = client.app[RETENTION]
    rejected, rejected_files = await decided(client, clock, RecordState.REJECTED)
    active, active_files = await decided(client, clock, RecordState.ACTIVE)
    waiting = Participant(client, make_nik(female=True))
    await waiting.to_ready()
    photos = await photo_paths(client, rejected)
    assert all(p.exists() for p in photos + rejected_files + active_files)

    clock.advance(29 * DAY)
    assert await job.run_once() == []

    clock.advance(1 * DAY)
    assert await job.run_once() == [rejected]
    assert not any(p.exists() for p in rejected_files)
    assert all(p.exists() for p in active_files)
    # The same test photos are used by every participant: a shared file stays while in use.
    assert all(p.exists() for p in photos)
    assert await client.app[keys.RECORDS].documents(rejected) == []
    [entry] = await purge_entries(client, rejected)
    assert entry["actor"] == RETENTION_ACTOR
    assert entry["detail"] == {
        "documents": ["face", "ktp", "selfie_with_ktp"],
        "files": {"photo": 3, "recording": 1, "snapshot": 1},
        "days": 30.0,
    }
    assert (await client.app[keys.RECORDS].get(rejected)).state is RecordState.REJECTED
    assert await job.run_once() == []  # done is done

    clock.advance(335 * DAY)
    assert await job.run_once() == [active]
    assert not any(p.exists() for p in active_files)
    assert (await client.app[keys.RECORDS].documents(waiting.record_id)) != []
    assert all(p.exists() for p in await photo_paths(client, waiting.record_id))


async def test_two_processes_purge_once(app_factory: AppFactory, clock: SettableClock) -> None:
    first = await app_factory(**SETTINGS)
    second = await app_factory(**SETTINGS)  # same database and DATA_DIR: another process
    ids = [(await decided(first, clock, RecordState.REJECTED))[0] for _ in range(3)]
    clock.advance(31 * DAY)
    results = await asyncio.gather(
        first.app[RETENTION].run_once(), second.app[RETENTION].run_once()
    )
    assert sorted(results[0] + results[1]) == sorted(ids)
    for record_id in ids:
        assert len(await purge_entries(first, record_id)) == 1


async def test_the_loop_runs_and_stops_with_the_app(
    app_factory: AppFactory, clock: SettableClock
) -> None:
    client = await app_factory(**SETTINGS, retention_interval_seconds=0.05)
    record_id, files = await decided(client, clock, RecordState.REJECTED)
    clock.advance(31 * DAY + timedelta(minutes=1).total_seconds())
    for _ in range(100):
        if await purge_entries(client, record_id):
            break
        await asyncio.sleep(0.05)
    assert len(await purge_entries(client, record_id)) == 1
    assert not any(p.exists() for p in files)
