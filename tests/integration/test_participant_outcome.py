"""What the participant's own record (GET /api/me) says after an officer's decision or a
supervisor's release: the reason codes the status page turns into words, never the officer's
notes, with the short reference unchanged. Real HTTP, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from typing import Any

from outcomes_support import Staff, app_database, app_of, make_account, start_call

from videocall.accounts import Role
from web import keys

NOTES = "Catatan internal petugas: jangan tampilkan 7731"


async def _setup(client: Any, participant_factory: Any, clock: Any) -> tuple[Any, Staff, Staff]:
    database = app_database(client)
    now = clock.now()
    officer = await Staff.open(
        client, database, await make_account(database, Role.OFFICER, now), now
    )
    supervisor = await Staff.open(
        client, database, await make_account(database, Role.SUPERVISOR, now), now
    )
    p = participant_factory()
    await p.to_ready()
    return p, officer, supervisor


async def _me(client: Any, p: Any) -> dict[str, Any]:
    resp = await client.get("/api/me", headers=p.auth)
    assert resp.status == 200
    return dict(await resp.json())


def _arrival(me: dict[str, Any]) -> dict[str, Any]:
    """The history entry that brought the record to its state (what the page reads)."""
    entries = [
        h for h in me["history"] if h["action"] == "state_changed" and h["to"] == me["state"]
    ]
    return dict(entries[-1])


async def test_retry_reasons_reach_the_participant_without_the_notes(
    client, participant_factory, clock
) -> None:
    p, officer, _ = await _setup(client, participant_factory, clock)
    before = await _me(client, p)
    sid = await start_call(app_of(client)[keys.SESSIONS], p.record_id, officer.account, clock.now())
    decision = {
        "result": "retry_required",
        "reasons": ["poor_lighting", "other"],
        "checklist": {},
        "notes": NOTES,
    }
    status, body = await officer.post(f"/api/sessions/{sid}/decision", decision)
    assert status == 201, body
    me = await _me(client, p)
    assert me["state"] == "retry_required"
    entry = _arrival(me)
    assert entry["detail"]["reasons"] == ["poor_lighting", "other"]
    assert "7731" not in json.dumps(me)
    assert me["reference"] == before["reference"]
    assert me["due_at"] is None


async def test_a_release_tells_the_participant_why(client, participant_factory, clock) -> None:
    p, officer, supervisor = await _setup(client, participant_factory, clock)
    app = app_of(client)
    sid = await start_call(app[keys.SESSIONS], p.record_id, officer.account, clock.now())
    assert await app[keys.SESSIONS].await_decision(sid, reason="officer_hung_up", now=clock.now())
    status, body = await supervisor.post(
        f"/api/sessions/{sid}/release", {"reason": "evidence_incomplete"}
    )
    assert status == 200, body
    me = await _me(client, p)
    assert me["state"] == "ready_for_call"
    entry = _arrival(me)
    assert entry["from"] == "in_call"
    assert entry["reason"] == "evidence_incomplete"
    assert entry["detail"]["released"] is True
