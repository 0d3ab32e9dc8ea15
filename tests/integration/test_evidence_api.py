"""Recordings (supervisors, range requests) and snapshots (the call's officer): access and audit."""

from __future__ import annotations

import os

import pytest

from videocall.accounts import Role
from web import keys

PASSWORD = "Petugas-Rahasia-2026"
pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


async def account(client, username: str, role: Role):
    return await client.app[keys.ACCOUNTS].create(
        username=username,
        password=PASSWORD,
        role=role,
        display_name=username,
        now=client.app[keys.CLOCK].now(),
    )


async def as_user(client, username: str) -> None:
    await client.post("/api/auth/logout")
    resp = await client.post("/api/auth/login", json={"username": username, "password": PASSWORD})
    assert resp.status == 200


async def test_recording_range_requests_roles_and_audit(client, participant_factory) -> None:
    p = participant_factory()
    await p.to_ready()
    app = client.app
    officer = await account(client, "budi", Role.OFFICER)
    await account(client, "rina", Role.OFFICER)
    await account(client, "sari", Role.SUPERVISOR)
    session = await app[keys.SESSIONS].start(
        record_id=p.record_id,
        officer_id=officer.id,
        officer_actor=officer.actor,
        now=app[keys.CLOCK].now(),
    )
    rec_dir = app[keys.SETTINGS].recordings_dir
    rec_dir.mkdir(parents=True, exist_ok=True)
    name = f"{session.id}-000.webm"
    payload = os.urandom(10_000)
    (rec_dir / name).write_bytes(payload)
    snap_dir = app[keys.SETTINGS].snapshots_dir
    snap_dir.mkdir(parents=True, exist_ok=True)
    (snap_dir / f"{session.id}-001-face.jpg").write_bytes(b"\xff\xd8jpeg")
    await app[keys.SESSIONS].update_media(
        session.id,
        recording={"segments": [{"index": 0, "file": name, "sha256": "a" * 64, "duration_s": 3}]},
        snapshots=[
            {
                "kind": "face",
                "file": f"{session.id}-001-face.jpg",
                "thumbnail_file": f"{session.id}-001-face.thumb.jpg",
                "bad": False,
            }
        ],
    )
    url = f"/api/sessions/{session.id}/recording/0"
    assert (await client.get(url)).status == 401
    await as_user(client, "budi")
    assert (await client.get(url)).status == 403  # officers do not stream recordings
    snap = await client.get(f"/api/sessions/{session.id}/snapshots/{session.id}-001-face.jpg")
    assert snap.status == 200 and await snap.read() == b"\xff\xd8jpeg"
    await as_user(client, "rina")  # another officer: not her call
    snap = await client.get(f"/api/sessions/{session.id}/snapshots/{session.id}-001-face.jpg")
    assert snap.status == 403
    await as_user(client, "sari")
    whole = await client.get(url)
    assert whole.status == 200 and await whole.read() == payload
    part = await client.get(url, headers={"Range": "bytes=100-199"})
    assert part.status == 206 and await part.read() == payload[100:200]
    assert part.headers["Content-Range"] == "bytes 100-199/10000"
    for bad in (
        "/recording/1",
        "/recording/x",
        "/snapshots/..%2F..%2Fsecret_key",
        "/snapshots/other.jpg",
    ):
        assert (await client.get(f"/api/sessions/{session.id}{bad}")).status == 404
    record = await app[keys.RECORDS].get(p.record_id)
    viewed = [(h.action, h.actor) for h in record.history if h.action.endswith("_viewed")]
    assert viewed == [("snapshot_viewed", "officer:budi"), ("recording_viewed", "supervisor:sari")]
