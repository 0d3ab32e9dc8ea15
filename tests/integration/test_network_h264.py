"""A participant whose browser offers H.264 only (Safari, iOS web views): forwarded without
re-encoding when the officer accepts the same profile, recorded as H.264 in Matroska, analysed;
a clear error when the two browsers share no video format."""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiortc.codecs.h264
import av
import pytest
from media_peers import PatternTrack, ToneTrack, connect_client, wait_for
from network_peers import EncodedH264Track, connect_via, nal_units

from media.call import MediaCall, MediaSettings, Side
from videocall.errors import ValidationError
from videocall.quality_monitor import QualityEvent

H264 = "video/H264"
VP8 = "video/VP8"


@pytest.fixture
def events() -> list[tuple[Side, QualityEvent]]:
    return []


@pytest.fixture
async def call(tmp_path: Path, events: list[tuple[Side, QualityEvent]]):
    media = MediaCall(
        "h264-test",
        MediaSettings(recording_dir=tmp_path, allow_loopback=True, codec_wait_s=3.0),
        on_quality=lambda side, event: events.append((side, event)),
    )
    yield media
    await media.close()


async def test_h264_forwarded_unchanged_recorded_and_analysed(
    call: MediaCall, monkeypatch: pytest.MonkeyPatch
) -> None:
    encodes: list[int] = []
    original = aiortc.codecs.h264.H264Encoder.encode

    def counting_encode(self, frame, force_keyframe=False):  # type: ignore[no-untyped-def]
        encodes.append(1)
        return original(self, frame, force_keyframe)

    monkeypatch.setattr(aiortc.codecs.h264.H264Encoder, "encode", counting_encode)
    source = EncodedH264Track()
    participant = await connect_via(call, "participant", [source, ToneTrack()], video_codec=H264)
    # The officer's browser offers VP8 and H.264; the server answers with the participant's.
    officer = await connect_via(call, "officer", [EncodedH264Track(), ToneTrack()], tap_video=True)
    try:
        call.start_recording()
        await wait_for(lambda: len(officer.encoded) >= 30, timeout=15)
        snap = await call.snapshot("face")
        assert (snap.width, snap.height) == (640, 480)
        await wait_for(lambda: participant.received.frames["video"] >= 10, timeout=10)
    finally:
        await participant.close()
        await officer.close()
        summary = await call.close()

    assert not encodes, "the server re-encoded H.264"
    sent = {nal for unit in source.sent for nal in nal_units(unit)}
    received = [nal for unit in officer.encoded for nal in nal_units(unit)]
    assert received and all(nal in sent for nal in received), "NAL units changed on the way"

    (segment,) = summary.segments
    assert segment.path.suffix == ".mkv"
    with av.open(str(segment.path)) as container:
        videos = {s.metadata.get("title"): s for s in container.streams.video}
        assert {s.codec_context.name for s in videos.values()} == {"h264"}
        decoded = sum(1 for _ in container.decode(videos["participant-video"]))
    assert decoded >= 15
    assert summary.quality["participant"].series, "no quality samples from the H.264 analysis"


async def test_officer_offering_first_waits_for_the_participants_format(call: MediaCall) -> None:
    officer_task = asyncio.create_task(
        connect_via(call, "officer", [PatternTrack(), ToneTrack()], tap_video=True)
    )
    await asyncio.sleep(0.3)  # the officer's offer is in; the participant's comes later
    participant = await connect_via(
        call, "participant", [PatternTrack(), ToneTrack()], video_codec=H264
    )
    officer = await officer_task
    try:
        assert (call.video_codec("officer") or "").startswith("H264")
        assert call.video_codec("officer") == call.video_codec("participant")
        await wait_for(lambda: len(officer.encoded) >= 10, timeout=15)
        await wait_for(lambda: participant.received.frames["video"] >= 10, timeout=15)
    finally:
        await participant.close()
        await officer.close()
    assert all(nal_units(unit) for unit in officer.encoded)  # Annex-B H.264, not VP8


async def test_no_common_format_is_a_clear_error_on_both_sides(
    call: MediaCall, events: list[tuple[Side, QualityEvent]]
) -> None:
    participant = await connect_via(
        call, "participant", [PatternTrack(), ToneTrack()], video_codec=H264
    )
    try:
        await wait_for(lambda: participant.pc.connectionState == "connected", timeout=10)
        with pytest.raises(ValidationError) as raised:
            await connect_via(call, "officer", [PatternTrack(), ToneTrack()], video_codec=VP8)
    finally:
        await participant.close()
    assert raised.value.code == "video_codec_mismatch"
    assert "H264 42" in raised.value.message and "VP8" in raised.value.message
    hints = [e.hint for side, e in events if e.measure == "video_codec"]
    assert hints == ["codec_mismatch"]


async def test_late_h264_offer_the_officer_cannot_take(tmp_path: Path) -> None:
    """The officer's browser offered VP8 only: no re-offer can help; both sides are told."""
    events: list[tuple[Side, QualityEvent]] = []
    call = MediaCall(
        "late-mismatch",
        MediaSettings(recording_dir=tmp_path, allow_loopback=True, codec_wait_s=0.3),
        on_quality=lambda side, event: events.append((side, event)),
    )
    call.on_reoffer = lambda side, sdp: None
    officer = await connect_via(call, "officer", [PatternTrack(), ToneTrack()], video_codec=VP8)
    try:
        await wait_for(lambda: officer.pc.connectionState == "connected", timeout=10)
        with pytest.raises(ValidationError) as raised:
            await connect_via(
                call, "participant", [EncodedH264Track(), ToneTrack()], video_codec=H264
            )
    finally:
        await officer.close()
        await call.close()
    assert raised.value.code == "video_codec_mismatch"
    assert "H264 42" in raised.value.message and "VP8" in raised.value.message
    assert [e.hint for _, e in events if e.measure == "video_codec"] == ["codec_mismatch"]


async def test_h264_profile_the_server_cannot_use_is_refused(call: MediaCall) -> None:
    def high_profile_only(sdp: str) -> str:
        return sdp.replace("profile-level-id=42001f", "profile-level-id=640c1f").replace(
            "profile-level-id=42e01f", "profile-level-id=640c1f"
        )

    with pytest.raises(ValidationError) as raised:
        await connect_via(
            call,
            "participant",
            [PatternTrack(), ToneTrack()],
            video_codec=H264,
            munge=high_profile_only,
        )
    assert raised.value.code == "video_codec_unsupported"
    assert "H264 640c1f" in raised.value.message


async def test_vp8_stays_the_default(call: MediaCall) -> None:
    participant = await connect_client(call, "participant", [PatternTrack(), ToneTrack()])
    officer = await connect_client(call, "officer", [PatternTrack(), ToneTrack()])
    try:
        await wait_for(lambda: officer.received.frames["video"] >= 5, timeout=10)
        assert call.video_codec("participant") == call.video_codec("officer") == "VP8"
    finally:
        await participant.close()
        await officer.close()
