"""Retention and legal holds, on SQLite and PostgreSQL with real files: a held record keeps
every file past its period (and does not take a place in the job's batch); once the hold is
released the next pass deletes them, audited once."""

from __future__ import annotations

from tests.integration.test_ops_retention import (
    DAY,
    SETTINGS,
    AppFactory,
    decided,
    photo_paths,
    purge_entries,
)
from tests.support import SettableClock
from videocall.privacy import HOLD_PLACED, HOLD_RELEASED
from videocall.records import RecordState
from web import keys
from web.housekeeping import RETENTION
from web.privacy_api import PRIVACY


async def test_a_legal_hold_keeps_files_until_released(
    app_factory: AppFactory, clock: SettableClock
) -> None:
    client = await app_factory(**SETTINGS)
    job, privacy = client.app[RETENTION], client.app[PRIVACY]
    held, held_files = await decided(client, clock, RecordState.REJECTED)
    free, free_files = await decided(client, clock, RecordState.REJECTED)
    held_photos = await photo_paths(client, held)
    hold = {"actor": "supervisor:s1", "reason": "sengketa klaim"}
    # Placed, released and placed again: the last placement counts.
    for place in (True, False, True):
        clock.advance(DAY)
        await privacy.set_hold(held, place=place, now=clock.now(), **hold)

    clock.advance(40 * DAY)
    assert await job.run_once() == [free]
    assert not any(p.exists() for p in free_files)
    assert all(p.exists() for p in held_files + held_photos)
    assert await client.app[keys.RECORDS].documents(held) != []
    assert await purge_entries(client, held) == []
    assert await job.candidates(clock.now()) == []  # not re-examined on every pass
    assert await job.run_once() == []

    clock.advance(DAY)
    await privacy.set_hold(held, place=False, now=clock.now(), **hold)
    assert await job.candidates(clock.now()) == [held]
    assert await job.run_once() == [held]
    assert not any(p.exists() for p in held_files)
    assert not any(p.exists() for p in held_photos)  # no other record uses them any more
    assert await client.app[keys.RECORDS].documents(held) == []
    [entry] = await purge_entries(client, held)
    assert entry["detail"]["files"] == {"photo": 3, "recording": 1, "snapshot": 1}
    actions = [h.action for h in await client.app[keys.RECORDS].history(held)]
    assert actions[-4:] == [HOLD_RELEASED, HOLD_PLACED, HOLD_RELEASED, entry["action"]]
    assert await job.run_once() == []
