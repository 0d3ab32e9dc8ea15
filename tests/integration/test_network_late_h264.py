"""A participant whose H.264-only offer arrives after the officer's leg was answered (a slow
phone: ``CODEC_WAIT_SECONDS`` passed). The server answers the participant in H.264 and offers
the officer's leg again over ``/media`` (``renegotiate``) with that format alone; both legs then
carry the same H.264 profile, forwarded without re-encoding. Real app, Socket.IO and aiortc."""

from __future__ import annotations

from typing import Any

import av
import pytest
from media_peers import PatternTrack, ToneTrack, wait_for
from network_peers import EncodedH264Track, nal_units
from network_signaling import MediaPeer, recording_path, start_session

from server import MEDIA_HUB
from web import keys


@pytest.fixture
async def client(app_factory: Any) -> Any:
    return await app_factory(codec_wait_seconds=1.0)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_late_h264_offer_switches_the_officer_leg(
    client: Any, participant_factory: Any
) -> None:
    paired = await start_session(client, participant_factory())
    session_id = paired.session_id
    camera = EncodedH264Track()
    officer = MediaPeer(
        client, session_id, "officer", lambda: [PatternTrack(), ToneTrack()], tap_video=True
    )
    participant = MediaPeer(
        client, session_id, "participant", lambda: [camera, ToneTrack()], video_codec="video/H264"
    )
    await officer.connect()
    await participant.connect()
    try:
        # The officer's browser offers VP8 and H.264; nobody else is there: VP8 after the wait.
        assert (await officer.offer())["ok"]
        call = client.app[MEDIA_HUB].calls[session_id]
        assert call.video_codec("officer") == "VP8"
        reply = await participant.offer()
        assert reply["ok"], reply
        await wait_for(lambda: officer.answers, timeout=20)
        assert officer.answers == [{"ok": True}]
        assert (call.video_codec("officer") or "").startswith("H264")
        assert call.video_codec("officer") == call.video_codec("participant")
        await wait_for(lambda: len(officer.peer.encoded) >= 30, timeout=30)
        await wait_for(lambda: participant.peer.received.frames["video"] >= 10, timeout=30)
    finally:
        summary = await client.app[MEDIA_HUB].end(session_id)
        await participant.close()
        await officer.close()
        await paired.close()
    sent = {nal for unit in camera.sent for nal in nal_units(unit)}
    received = [nal for unit in officer.peer.encoded for nal in nal_units(unit)]
    # Every NAL unit the officer got is one the participant sent: forwarded, not re-encoded.
    assert received and all(nal in sent for nal in received), "NAL units changed on the way"
    assert summary is not None
    stored = await client.app[keys.SESSIONS].get(session_id)
    last = recording_path(client, stored.recording["segments"][-1])
    with av.open(str(last)) as container:
        codecs = {s.metadata.get("title"): s.codec_context.name for s in container.streams.video}
        video = next(
            s for s in container.streams.video if s.metadata.get("title") == "participant-video"
        )
        decoded = sum(1 for _ in container.decode(video))
    assert codecs == {"participant-video": "h264", "officer-video": "h264"}
    assert decoded >= 10
