"""Two real aiortc clients through MediaCall over loopback: media flows both ways, unchanged."""

from __future__ import annotations

from pathlib import Path

import aiortc.codecs.vpx
import pytest
from media_peers import (
    EncodedVideoTrack,
    PatternTrack,
    ToneTrack,
    connect_client,
    digest,
    wait_for,
)

from media.call import MediaCall, MediaSettings
from videocall.errors import Conflict, ValidationError


@pytest.fixture
async def call(tmp_path: Path):
    media = MediaCall("fwd-test", MediaSettings(recording_dir=tmp_path, allow_loopback=True))
    yield media
    await media.close()


async def test_media_flows_both_ways(call: MediaCall) -> None:
    participant = await connect_client(call, "participant", [PatternTrack(), ToneTrack()])
    officer = await connect_client(call, "officer", [PatternTrack(), ToneTrack()])
    try:
        for peer in (participant, officer):
            await wait_for(lambda p=peer: min(p.received.frames.values()) >= 15, timeout=10)
        frame = officer.received.last_video
        assert frame is not None and (frame.width, frame.height) == (640, 480)
    finally:
        await participant.close()
        await officer.close()


async def test_encoded_bytes_forwarded_unchanged(
    call: MediaCall, monkeypatch: pytest.MonkeyPatch
) -> None:
    encodes = []
    original = aiortc.codecs.vpx.Vp8Encoder.encode

    def counting_encode(self, frame, force_keyframe=False):  # type: ignore[no-untyped-def]
        encodes.append(1)
        return original(self, frame, force_keyframe)

    monkeypatch.setattr(aiortc.codecs.vpx.Vp8Encoder, "encode", counting_encode)
    source = EncodedVideoTrack()
    participant = await connect_client(call, "participant", [source, ToneTrack()])
    officer = await connect_client(call, "officer", [EncodedVideoTrack()], tap_video=True)
    try:
        first = await wait_for(lambda: len(officer.encoded) >= 1, timeout=10)
        rest = await wait_for(lambda: len(officer.encoded) >= 20, timeout=10)
        print(f"first forwarded frame after {first:.2f} s, 20 after {first + rest:.2f} s")
        received = digest(officer.encoded)
        sent = digest(source.sent)
        start = sent.index(received[0])  # the officer joined later: it starts at a keyframe
        assert officer.encoded[0][0] & 1 == 0, "the first forwarded frame is not a keyframe"
        assert received == sent[start : start + len(received)]
        assert encodes == [], "the server re-encoded video"
    finally:
        await participant.close()
        await officer.close()


async def test_bad_offers(call: MediaCall) -> None:
    with pytest.raises(ValidationError) as err:
        await call.accept_offer("participant", "not sdp", "offer")
    assert err.value.code == "bad_sdp"
    with pytest.raises(ValidationError) as err:
        await call.accept_offer("participant", "v=0\r\n", "answer")
    assert err.value.code == "bad_sdp"


async def test_second_offer_while_first_in_flight(call: MediaCall) -> None:
    import asyncio

    from aiortc import RTCPeerConnection, RTCSessionDescription

    pc = RTCPeerConnection()
    pc.addTransceiver("video", direction="sendrecv")
    await pc.setLocalDescription(await pc.createOffer())
    assert pc.localDescription is not None
    first = asyncio.create_task(call.accept_offer("participant", pc.localDescription.sdp, "offer"))
    await asyncio.sleep(0)
    with pytest.raises(Conflict) as err:
        await call.accept_offer("participant", pc.localDescription.sdp, "offer")
    assert err.value.code == "offer_in_flight"
    sdp, type_ = await first
    # Finish the handshake: aiortc's connect task only ends once ICE has an outcome.
    await pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type=type_))
    await wait_for(lambda: pc.connectionState == "connected", timeout=10)
    await pc.close()
