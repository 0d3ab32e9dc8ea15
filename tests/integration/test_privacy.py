"""Personal-data rights over real HTTP on both databases: the participant's export, deletion
requested (participant, upstream), reviewed by a supervisor, carried out with the files really
gone, the record reduced, the audit kept and the webhook event in the outbox."""

from __future__ import annotations

import io
import json
import zipfile
from typing import Any

import sqlalchemy as sa
from evidence_support import decided_call, to_ready
from outcomes_support import Staff, app_database, app_of, outbox, start_call

from videocall.adapters import db
from videocall.adapters.sql_assist import SqlAssistReadings, assist_readings
from videocall.adapters.sql_privacy import deletion_requests
from web import keys


async def export(client: Any, p: Any) -> tuple[dict[str, Any], dict[str, bytes]]:
    resp = await client.get("/api/me/export", headers=p.auth)
    assert resp.status == 200, await resp.text()
    assert resp.headers["Content-Type"] == "application/zip"
    with zipfile.ZipFile(io.BytesIO(await resp.read())) as zf:
        files = {n: zf.read(n) for n in zf.namelist()}
    return json.loads(files.pop("data.json")), files


async def count(database: Any, table: Any, record_id: str) -> int:
    async with database.connect() as conn:
        return int(
            await conn.scalar(
                sa.select(sa.func.count()).select_from(table).where(table.c.record_id == record_id)
            )
        )


async def test_export_then_deletion_requested_approved_and_carried_out(
    client: Any, participant_factory: Any, clock: Any
) -> None:
    call = await decided_call(client, participant_factory, clock, seed=100)
    app, database, p = app_of(client), app_database(client), call.participant
    readings = SqlAssistReadings(database)
    assert await readings.start(p.record_id, "ktp", "src", None, clock.now())
    assert await readings.finish(p.record_id, "ktp", "src", {"nik": "x"}, clock.now())
    docs = await app[keys.RECORDS].documents(p.record_id)
    photo_paths = [app[keys.BLOBS].path_for(d.sha256) for d in docs]
    assert len(photo_paths) == 3 and all(path.is_file() for path in photo_paths)

    # The participant's own data: JSON and the photos as stored.
    data, files = await export(client, p)
    assert data["record"]["id"] == p.record_id and data["record"]["email"] == "siti@example.co.id"
    assert {h["action"] for h in data["record"]["history"]} >= {"registered", "state_changed"}
    stored = {d.kind.value: app[keys.BLOBS].path_for(d.sha256).read_bytes() for d in docs}
    assert {n: files[f"photos/{n}.jpg"] for n in stored} == stored
    assert (await client.get("/api/me/export")).status == 401

    # The request: recorded, one open at a time, seen by supervisors only.
    resp = await client.post(
        "/api/me/deletion-request", json={"reason": "  tidak jadi  "}, headers=p.auth
    )
    assert resp.status == 201, await resp.text()
    request = await resp.json()
    assert request["status"] == "pending" and request["reason"] == "tidak jadi"
    assert request["requested_by"] == "participant"
    resp = await client.post("/api/me/deletion-request", headers=p.auth)
    assert resp.status == 409 and (await resp.json())["error"]["code"] == "deletion_request_open"
    status, _ = await call.officer.get("/api/deletion-requests")
    assert status == 403
    status, listing = await call.supervisor.get("/api/deletion-requests")
    assert status == 200 and [i["id"] for i in listing["items"]] == [request["id"]]
    assert not listing["items"][0]["overdue"]
    clock.advance(73 * 3600)  # past the period; staff sessions last 12 h: log in again
    call.supervisor = await Staff.open(client, database, call.supervisor.account, clock.now())
    call.officer = await Staff.open(client, database, call.officer.account, clock.now())
    status, listing = await call.supervisor.get("/api/deletion-requests")
    assert listing["items"][0]["overdue"]
    status, _ = await call.officer.post(f"/api/deletion-requests/{request['id']}/approve")
    assert status == 403

    history_before = len((await app[keys.RECORDS].get(p.record_id)).history)
    status, done = await call.supervisor.post(f"/api/deletion-requests/{request['id']}/approve")
    assert status == 200, done
    assert done["status"] == "done" and done["reviewed_by"] == call.supervisor.account.actor
    deleted = done["deleted"]
    assert (deleted["photos"], deleted["recordings"], deleted["snapshots"]) == (3, 1, 2)
    assert deleted["assist_readings"] >= 1  # ours, and any the background analysis made

    # Files really gone; rows reduced; the audit kept.
    assert not call.recording.exists()
    assert not any(s.exists() for s in call.snapshots)
    assert not any(path.exists() for path in photo_paths)
    assert await count(database, db.documents, p.record_id) == 0
    assert await count(database, assist_readings, p.record_id) == 0
    record = await app[keys.RECORDS].get(p.record_id)
    assert record.mobile == "" and record.email == "" and not record.documents
    assert record.nik == p.nik and record.state.value == "under_review"
    assert len(record.history) == history_before + 1
    last = record.history[-1]
    assert last.action == "personal_data_deleted"
    assert last.actor == call.supervisor.account.actor
    actions = [h.action for h in record.history]
    assert "deletion_requested" in actions and "personal_data_exported" in actions
    async with database.connect() as conn:
        session = (
            await conn.execute(
                sa.select(db.call_sessions).where(db.call_sessions.c.id == call.session_id)
            )
        ).one()
        decision = await conn.scalar(
            sa.select(db.decisions.c.result).where(db.decisions.c.session_id == call.session_id)
        )
    assert session.snapshots == [] and session.recording["segments"] == []
    assert decision == "approved"  # the outcome stays provable
    events = [e for e in await outbox(database, p.record_id) if e["type"].endswith("deleted")]
    assert [e["type"] for e in events] == ["record.personal_data_deleted"]
    assert events[0]["data"]["request_id"] == request["id"]
    assert events[0]["data"]["deleted"]["recordings"] == 1

    # Approved once only; the participant sees the outcome; the export still answers.
    status, again = await call.supervisor.post(f"/api/deletion-requests/{request['id']}/approve")
    assert status == 409 and again["error"]["code"] == "deletion_request_closed"
    resp = await client.get("/api/me/deletion-request", headers=p.auth)
    assert [i["status"] for i in (await resp.json())["items"]] == ["done"]
    data, files = await export(client, p)
    assert files == {} and data["record"]["documents"] == []
    assert data["deletion_requests"][0]["status"] == "done"

    # The evidence bundle still answers: the decision and the history, without the deleted files.
    resp = await client.get(
        f"/api/records/{p.record_id}/evidence.zip", headers=call.supervisor.headers
    )
    assert resp.status == 200
    with zipfile.ZipFile(io.BytesIO(await resp.read())) as zf:
        assert not [n for n in zf.namelist() if n.startswith(("recordings/", "photos/"))]
        summary = json.loads(zf.read("record.json"))
    assert summary["decision"]["result"] == "approved" and summary["record"]["id"] == p.record_id


async def test_upstream_request_refused_and_open_call_protected(
    client: Any, participant_factory: Any, clock: Any
) -> None:
    call = await decided_call(client, participant_factory, clock, seed=200)
    app, database = app_of(client), app_database(client)
    url = f"/api/records/{call.record_id}/deletion-request"
    assert (await client.post(url, json={})).status == 401
    resp = await client.post(
        url, json={"reason": "nasabah meminta"}, headers={"X-API-Key": "test-api-key"}
    )
    assert resp.status == 201, await resp.text()
    request = await resp.json()
    assert request["requested_by"] == "upstream:insurer"

    refuse = f"/api/deletion-requests/{request['id']}/refuse"
    status, body = await call.supervisor.post(refuse, {"reason": "  "})
    assert status == 422 and body["error"]["code"] == "deletion_reason_required"
    status, body = await call.supervisor.post(refuse, {"reason": "legal hold: klaim berjalan"})
    assert status == 200 and body["status"] == "refused"
    assert body["review_reason"] == "legal hold: klaim berjalan"
    status, body = await call.supervisor.post(f"/api/deletion-requests/{request['id']}/approve")
    assert status == 409 and body["error"]["code"] == "deletion_request_closed"
    assert call.recording.exists() and all(s.exists() for s in call.snapshots)
    history = (await app[keys.RECORDS].get(call.record_id)).history
    refused = [h for h in history if h.action == "deletion_refused"]
    assert refused and refused[0].reason == "legal hold: klaim berjalan"

    # A legal hold keeps the evidence: a new request waits until the hold is released.
    hold = f"/api/records/{call.record_id}/legal-hold"
    status, body = await call.officer.post(hold, {"reason": "klaim"})
    assert status == 403
    status, body = await call.supervisor.post(hold, {"reason": ""})
    assert status == 422 and body["error"]["code"] == "hold_reason_required"
    status, body = await call.supervisor.post(hold, {"reason": "klaim no. 77"})
    assert status == 200 and body["legal_hold"] is True
    status, body = await call.supervisor.post(hold, {"reason": "lagi"})
    assert status == 409 and body["error"]["code"] == "legal_hold_exists"
    resp = await client.post(url, json={}, headers={"X-API-Key": "test-api-key"})
    second = (await resp.json())["id"]
    status, body = await call.supervisor.post(f"/api/deletion-requests/{second}/approve")
    assert status == 409 and body["error"]["code"] == "deletion_legal_hold"
    assert call.recording.exists() and await count(database, db.documents, call.record_id) == 3
    status, body = await call.supervisor.post(f"{hold}/release", {"reason": "klaim selesai"})
    assert status == 200 and body["legal_hold"] is False
    status, body = await call.supervisor.post(f"/api/deletion-requests/{second}/approve")
    assert status == 200 and body["status"] == "done"
    assert not call.recording.exists() and await count(database, db.documents, call.record_id) == 0
    actions = [h.action for h in (await app[keys.RECORDS].get(call.record_id)).history]
    assert actions[-4:] == [
        "legal_hold_placed",
        "deletion_requested",
        "legal_hold_released",
        "personal_data_deleted",
    ]

    # A record whose call is live keeps everything until the call is decided.
    p = participant_factory()
    await to_ready(p, 300)
    await start_call(app[keys.SESSIONS], p.record_id, call.officer.account, clock.now())
    resp = await client.post("/api/me/deletion-request", headers=p.auth)
    assert resp.status == 201
    open_id = (await resp.json())["id"]
    status, body = await call.supervisor.post(f"/api/deletion-requests/{open_id}/approve")
    assert status == 409 and body["error"]["code"] == "deletion_call_open"
    assert await count(database, db.documents, p.record_id) == 3
    async with database.connect() as conn:
        state = await conn.scalar(
            sa.select(deletion_requests.c.status).where(deletion_requests.c.id == open_id)
        )
    assert state == "pending"
