"""The weak-uplink switch with a real sender: the participant is an aiortc peer whose own VP8
encoder and congestion control send through the impairment proxy (every packet of its
connection), capped at 150 then 60 kbit/s and then freed. Real app, Socket.IO, decision API."""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

import pytest
from media_peers import PatternTrack, ToneTrack, wait_for
from network_peers import decoded_video
from network_signaling import OFFICER, MediaPeer, recording_path, start_session
from outcomes_support import APPROVE

from server import MEDIA_HUB
from tests.netem import Impairment, UdpImpairmentProxy
from web import keys

I18N = Path(__file__).resolve().parents[2] / "web" / "i18n"


@pytest.fixture
async def client(app_factory: Any) -> Any:
    return await app_factory(weak_uplink_seconds=3.0)  # WEAK_UPLINK_SECONDS, 10 by default


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_thin_uplink_real_sender_goes_audio_only_and_back(
    client: Any, participant_factory: Any
) -> None:
    app = client.app
    paired = await start_session(client, participant_factory())
    session_id = paired.session_id
    proxy = UdpImpairmentProxy(("127.0.0.1", 0))
    tracks = lambda: [PatternTrack(), ToneTrack()]  # noqa: E731
    participant = MediaPeer(client, session_id, "participant", tracks, proxy=proxy)
    officer = MediaPeer(client, session_id, "officer", tracks)
    await participant.connect()
    await officer.connect()
    try:
        assert (await participant.offer())["ok"]
        assert (await officer.offer())["ok"]
        received = officer.peer.received.frames
        await wait_for(lambda: received["video"] >= 30, timeout=30)  # recording has keyframes

        proxy.uplink = Impairment(rate_kbps=150)
        await wait_for(
            lambda: (
                participant.hints("hint", "video") == ["weak_uplink"]
                and officer.hints("quality", "video") == ["weak_uplink"]
            ),
            timeout=40,
        )
        hint = next(d for n, d in participant.events if n == "hint" and d["measure"] == "video")
        assert hint["text"]["id"] == "Sinyal lemah — video dihentikan sementara"
        proxy.uplink = Impairment(rate_kbps=60)
        audio = received["audio"]
        await wait_for(lambda: received["audio"] >= audio + 10, timeout=20)  # still talking
        refused = await officer.call("snapshot", {"kind": "face"})
        assert refused["error"]["code"] == "video_paused"
        # Approving now lacks the video evidence: the officer is told which snapshots to take
        # (and the weak-uplink hint says they can be taken once video is back).
        login = await client.post(
            "/api/auth/login", json={"username": OFFICER[0], "password": OFFICER[1]}
        )
        assert login.status == 200
        approve = {**APPROVE, "reasons": [], "notes": ""}
        resp = await client.post(f"/api/sessions/{session_id}/decision", json=approve)
        error = (await resp.json())["error"]
        assert resp.status == 422, error
        assert error["code"] == "evidence_missing_snapshots"
        assert "face" in error["message"] and "ktp" in error["message"]
        texts = {lang: json.loads((I18N / f"{lang}.json").read_text()) for lang in ("id", "en")}
        assert all("KTP" in texts[lang]["ohint"]["weak_uplink"] for lang in texts)
        assert session_id in app[MEDIA_HUB].calls  # the call goes on as audio

        proxy.uplink = Impairment()
        await wait_for(
            lambda: (
                participant.hints("hint", "video") == ["weak_uplink", None]
                and officer.hints("quality", "video") == ["weak_uplink", None]
            ),
            timeout=40,
        )
        video = received["video"]
        await wait_for(lambda: received["video"] >= video + 15, timeout=20)
        assert (await officer.call("snapshot", {"kind": "face"}))["ok"]
    finally:
        await app[MEDIA_HUB].end(session_id)
        await participant.close()
        await officer.close()
        await paired.close()
        proxy.close()

    assert proxy.up_counters.dropped > 0
    stored = await app[keys.SESSIONS].get(session_id)
    (paused,) = stored.recording["video_paused_s"]
    series = stored.quality_series["participant"]
    marks = [p.get("video_paused") for p in series]
    assert marks[0] == 0.0 and 1.0 in marks  # video, then the audio-only stretch
    assert stored.quality_summary["participant"]["shares"]["video"]["bad"] > 0
    (segment,) = stored.recording["segments"]
    frames, times = decoded_video(recording_path(client, segment), "participant-video")
    assert frames >= 30  # PyAV decodes it across the gap
    gap_ms = max(b - a for a, b in itertools.pairwise(times))
    assert gap_ms >= (paused[1] - paused[0]) * 1000 * 0.8, "the pause should show in the recording"
