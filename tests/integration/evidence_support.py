"""A decided call with real files on disk (recording segment, snapshots, photos), for the evidence
bundle and personal-data tests."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from outcomes_support import APPROVE, Staff, app_database, app_of, make_account, start_call

from tests.support import photo_bytes
from videocall.accounts import Role
from web import keys

SERIES = {
    side: [
        {"t": t, "values": {"mean_luma": 100.0 + t, "rtt_ms": 40.0 + (t % 7)}, "levels": {}}
        for t in range(0, 60, 2)
    ]
    for side in ("participant", "officer")
}


@dataclass
class DecidedCall:
    record_id: str
    session_id: str
    recording: Path
    snapshots: list[Path]
    officer: Staff
    supervisor: Staff
    participant: Any


async def to_ready(p: Any, seed: int) -> None:
    """The journey with photos of this participant's own (a shared photo file is kept while
    another record uses it)."""
    await p.register()
    assert (await p.profile()).status == 200
    for i, kind in enumerate(("ktp", "selfie_with_ktp", "face")):
        resp = await p.upload(kind, photo_bytes(seed=seed + i))
        assert resp.status == 200, await resp.text()
    resp = await p.client.post("/api/me/consent", headers=p.auth)
    assert resp.status == 200, await resp.text()


async def decided_call(
    client: Any, participant_factory: Any, clock: Any, seed: int = 0
) -> DecidedCall:
    """A participant through the journey, a call with media files, approved by the officer."""
    app = app_of(client)
    database = app_database(client)
    now = clock.now()
    officer = await Staff.open(
        client, database, await make_account(database, Role.OFFICER, now), now
    )
    supervisor = await Staff.open(
        client, database, await make_account(database, Role.SUPERVISOR, now), now
    )
    p = participant_factory()
    await to_ready(p, seed)
    sid = await start_call(app[keys.SESSIONS], p.record_id, officer.account, now)
    settings = app[keys.SETTINGS]
    settings.recordings_dir.mkdir(parents=True, exist_ok=True)
    settings.snapshots_dir.mkdir(parents=True, exist_ok=True)
    recording = settings.recordings_dir / f"{sid}-000.webm"
    recording.write_bytes(b"\x1a\x45\xdf\xa3" + os.urandom(50_000))
    snapshots = []
    for i, kind in enumerate(("face", "ktp")):
        path = settings.snapshots_dir / f"{sid}-00{i}-{kind}.jpg"
        path.write_bytes(photo_bytes(640, 480, seed=10 + i))
        snapshots.append(path)
    await app[keys.SESSIONS].update_media(
        sid,
        recording={
            "segments": [{"index": 0, "file": recording.name, "sha256": "0" * 64, "duration_s": 60}]
        },
        snapshots=[
            {"kind": k, "file": s.name, "taken_at": now.isoformat(), "bad": False}
            for k, s in zip(("face", "ktp"), snapshots, strict=True)
        ],
        quality_series=SERIES,
    )
    status, body = await officer.post(f"/api/sessions/{sid}/decision", APPROVE)
    assert status == 201, body
    return DecidedCall(p.record_id, sid, recording, snapshots, officer, supervisor, p)
