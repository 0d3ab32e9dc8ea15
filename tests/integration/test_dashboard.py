"""The supervisors' dashboard over HTTP."""

from __future__ import annotations

from videocall.accounts import Role
from web import keys
from web.dashboard_api import percentile

PASSWORD = "Petugas-Rahasia-2026"


def test_percentile_nearest_rank() -> None:
    assert percentile([], 0.9) is None
    assert percentile([5.0], 0.9) == 5.0
    assert percentile([float(i) for i in range(1, 11)], 0.9) == 9.0
    assert percentile([float(i) for i in range(1, 11)], 0.5) == 5.0


async def test_dashboard_counts_today(client, clock, participant_factory) -> None:
    app = client.app
    for name, role in (("budi", Role.OFFICER), ("sari", Role.SUPERVISOR)):
        await app[keys.ACCOUNTS].create(
            username=name, password=PASSWORD, role=role, display_name=name, now=clock.now()
        )
    officer = await app[keys.ACCOUNTS].by_username("budi")
    await client.post("/api/auth/login", json={"username": "budi", "password": PASSWORD})
    assert (await client.get("/api/dashboard")).status == 403
    await client.post("/api/auth/login", json={"username": "sari", "password": PASSWORD})
    empty = await (await client.get("/api/dashboard")).json()
    assert empty["calls_today"] == 0 and empty["wait_median_seconds"] is None
    for wait in (30, 90):
        p = participant_factory()
        await p.to_ready()
        await app[keys.SERVICE].note(p.record_id, "queue_joined", actor="participant")
        clock.advance(wait)
        await app[keys.SESSIONS].start(
            record_id=p.record_id,
            officer_id=officer.id,
            officer_actor=officer.actor,
            now=clock.now(),
        )
    board = await (await client.get("/api/dashboard")).json()
    assert board["calls_today"] == 2
    assert board["wait_median_seconds"] == 60 and board["wait_p90_seconds"] == 90
    assert board["waiting"] == 0 and board["decisions_today"] == {}
