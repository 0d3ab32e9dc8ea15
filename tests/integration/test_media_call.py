"""A whole call through MediaCall: recording of 4 tracks, snapshot, reconnect as a new segment."""

from __future__ import annotations

import asyncio
import io
import itertools
from pathlib import Path

import av
import pytest
from media_peers import PatternTrack, ToneTrack, connect_client, wait_for
from PIL import Image

from media.call import MediaCall, MediaSettings
from videocall.errors import Conflict


def track_pts(path: Path) -> dict[str, list[int]]:
    with av.open(str(path)) as container:
        titles = {s.index: s.metadata.get("title", "") for s in container.streams}
        pts: dict[str, list[int]] = {t: [] for t in titles.values()}
        for packet in container.demux():
            if packet.pts is not None:
                pts[titles[packet.stream.index]].append(int(packet.pts * packet.time_base * 1000))
    return pts


async def test_recording_snapshot_and_reconnect(tmp_path: Path) -> None:
    call = MediaCall("call-test", MediaSettings(recording_dir=tmp_path, allow_loopback=True))
    participant = await connect_client(call, "participant", [PatternTrack(), ToneTrack()])
    officer = await connect_client(call, "officer", [PatternTrack(), ToneTrack()])
    try:
        with pytest.raises(Conflict):
            await call.snapshot("face")  # no picture decoded yet
        for peer in (participant, officer):
            await wait_for(lambda p=peer: min(p.received.frames.values()) >= 10, timeout=10)

        loop = asyncio.get_running_loop()
        call.start_recording()
        started = loop.time()
        await asyncio.sleep(3.0)

        snap = await call.snapshot("face")
        image = Image.open(io.BytesIO(snap.jpeg))
        assert image.format == "JPEG" and image.size == (640, 480)
        with Image.open(snap.path) as saved:
            assert saved.size == (640, 480)
        assert max(Image.open(io.BytesIO(snap.thumbnail)).size) <= 320
        assert not snap.bad_lighting and not snap.blurry

        # The participant's browser reconnects: a new peer connection, a new segment.
        await participant.close()
        first_length = loop.time() - started
        participant = await connect_client(call, "participant", [PatternTrack(), ToneTrack()])
        before = officer.received.frames["video"]
        await wait_for(lambda: officer.received.frames["video"] >= before + 10, timeout=10)
        await asyncio.sleep(1.0)
    finally:
        await participant.close()
        await officer.close()
        summary = await call.close()
    assert await call.close() is summary  # safe twice

    first, second = summary.segments
    assert first.duration_s == pytest.approx(first_length, abs=0.5)
    assert len(summary.gaps_s) == 1 and summary.gaps_s[0] < 1.0
    assert second.path.name == "call-test-001.webm"
    with av.open(str(first.path)) as container:
        assert len(container.streams.video) == 2 and len(container.streams.audio) == 2
    pts = track_pts(first.path)
    assert set(pts) == {"participant-video", "participant-audio", "officer-video", "officer-audio"}
    for name, values in pts.items():
        assert len(values) > 20, name
        assert all(b > a for a, b in itertools.pairwise(values)), f"{name} not monotonic"
    quality = summary.quality["participant"]
    assert quality.series and quality.summary.shares["darkness"]["ok"] > 0.9
    assert summary.as_dict()["segments"]
