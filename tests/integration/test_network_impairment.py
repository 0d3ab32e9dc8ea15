"""The participant's uplink through the impairment proxy (tests/netem.py): loss and an outage
(an uplink too thin for video: test_network_weak_uplink.py). Real aiortc peers, every packet
of the participant (ICE, DTLS, RTP, RTCP) crossing the proxy."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from aiortc.mediastreams import MediaStreamTrack
from media_peers import ClientPeer, PatternTrack, ToneTrack, connect_client, wait_for
from network_peers import connect_via, decoded_video

from media.call import MediaCall, MediaSettings, Side
from tests.netem import Impairment, UdpImpairmentProxy
from videocall.quality_monitor import QualityEvent
from videocall.uplink import UplinkRule


@dataclass
class Harness:
    call: MediaCall
    proxy: UdpImpairmentProxy
    events: list[tuple[Side, QualityEvent]] = field(default_factory=list)

    def hints(self, measure: str) -> list[str | None]:
        return [e.hint for _, e in self.events if e.measure == measure]


@pytest.fixture
async def harness(tmp_path: Path) -> AsyncIterator[Harness]:
    events: list[tuple[Side, QualityEvent]] = []
    settings = MediaSettings(
        recording_dir=tmp_path,
        allow_loopback=True,
        # Shorter than the 10 s default, and lenient: a busy 2-core test machine encodes slowly.
        uplink=UplinkRule(pause_after_s=5.0, resume_after_s=2.0, min_fps=3.0, min_video_kbps=40),
    )
    call = MediaCall("net-test", settings, on_quality=lambda s, e: events.append((s, e)))
    proxy = UdpImpairmentProxy(("127.0.0.1", 0))
    yield Harness(call, proxy, events)
    await call.close()
    proxy.close()


async def start_call(
    h: Harness, video: MediaStreamTrack | None = None
) -> tuple[ClientPeer, ClientPeer]:
    participant = await connect_via(
        h.call, "participant", [video or PatternTrack(), ToneTrack()], proxy=h.proxy
    )
    officer = await connect_client(h.call, "officer", [PatternTrack(), ToneTrack()])
    await wait_for(lambda: officer.received.frames["video"] >= 15, timeout=15)
    h.call.start_recording()
    await asyncio.sleep(2.0)  # the recording has its first keyframes
    return participant, officer


async def test_lossy_uplink_warns_and_video_keeps_flowing(harness: Harness) -> None:
    participant, officer = await start_call(harness)
    try:
        harness.proxy.uplink = Impairment(loss=0.15)
        await wait_for(lambda: "unstable_connection" in harness.hints("packet_loss"), timeout=15)
        before = officer.received.frames["video"]
        await wait_for(lambda: officer.received.frames["video"] >= before + 20, timeout=15)
        harness.proxy.uplink = Impairment()
        await wait_for(lambda: harness.hints("packet_loss")[-1] is None, timeout=15)
    finally:
        await participant.close()
        await officer.close()
    summary = await harness.call.close()
    assert harness.proxy.up_counters.dropped > 0
    assert harness.hints("video") == []  # lossy but usable: no audio-only switch
    frames, _ = decoded_video(summary.segments[0].path, "participant-video")
    assert frames >= 30


async def test_outage_recovers_through_a_keyframe(harness: Harness) -> None:
    participant, officer = await start_call(harness)
    try:
        harness.proxy.set_outage(True)
        await asyncio.sleep(2.0)
        harness.proxy.set_outage(False)
        # Counted at the officer's decoder, which may still be catching up on a busy machine.
        after = officer.received.frames["video"]
        await wait_for(lambda: officer.received.frames["video"] >= after + 15, timeout=20)
    finally:
        await participant.close()
        await officer.close()
    summary = await harness.call.close()
    assert harness.hints("video") == [], "a 2 s outage is not a weak uplink"
    frames, times = decoded_video(summary.segments[0].path, "participant-video")
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert max(gaps) >= 1500, "the outage should show in the recording"
    assert frames >= 40
