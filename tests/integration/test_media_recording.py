"""Recording by remux: 4 tracks, durations, monotonic timestamps, segments, crash safety."""

from __future__ import annotations

import itertools
import os
import signal
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import av
import pytest
from media_fixtures import interleave, opus_packets, vp8_packets

from recording.session import SessionRecorder
from recording.writer import SegmentWriter, TrackSpec, file_sha256

SPECS = [
    TrackSpec("participant-video", "video", "VP8"),
    TrackSpec("participant-audio", "audio", "opus"),
    TrackSpec("officer-video", "video", "VP8"),
    TrackSpec("officer-audio", "audio", "opus"),
]


def read_tracks(path: Path) -> dict[str, list[int]]:
    """Stream title -> packet pts in ms, in file order."""
    with av.open(str(path)) as container:
        titles = {s.index: s.metadata.get("title", str(s.index)) for s in container.streams}
        pts: dict[str, list[int]] = {t: [] for t in titles.values()}
        for packet in container.demux():
            if packet.pts is not None:
                pts[titles[packet.stream.index]].append(int(packet.pts * packet.time_base * 1000))
    return pts


def decode_all(path: Path) -> dict[int, int]:
    """Stream index -> decoded frame count, decoding every packet of every stream."""
    counts: dict[int, int] = {}
    with av.open(str(path)) as container:
        for packet in container.demux():
            frames = packet.decode()
            counts[packet.stream.index] = counts.get(packet.stream.index, 0) + len(frames)
    return counts


def four_tracks(seconds: float, start: float = 0.0) -> list:
    return interleave(
        vp8_packets("participant-video", seconds, start=start),
        opus_packets("participant-audio", seconds, start=start),
        vp8_packets("officer-video", seconds, start=start + 0.1),
        opus_packets("officer-audio", seconds, start=start + 0.1),
    )


async def test_four_tracks_duration_and_monotonic_timestamps(tmp_path: Path) -> None:
    recorder = SessionRecorder(tmp_path / "rec", "sess-1")
    path = recorder.start_segment(SPECS, now=0.0)
    for packet in four_tracks(3.0):
        recorder.write(packet)
    info = await recorder.close_segment(now=3.2)
    assert info is not None and info.path == path and path.name == "sess-1-000.webm"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert info.sha256 == file_sha256(path)
    assert info.duration_s == pytest.approx(3.0, abs=0.5)
    tracks = read_tracks(path)
    assert set(tracks) == {s.name for s in SPECS}
    for name, pts in tracks.items():
        assert len(pts) > 50, name
        assert all(b > a for a, b in itertools.pairwise(pts)), f"{name} not monotonic"
    with av.open(str(path)) as container:
        assert len(container.streams.video) == 2 and len(container.streams.audio) == 2
        assert container.duration / 1e6 == pytest.approx(3.0, abs=0.5)
    counts = decode_all(path)
    assert all(n > 50 for n in counts.values()), counts


async def test_segments_and_gaps(tmp_path: Path) -> None:
    recorder = SessionRecorder(tmp_path, "sess-2")
    recorder.start_segment(SPECS, now=0.0)
    for packet in four_tracks(1.0):
        recorder.write(packet)
    with pytest.raises(RuntimeError):
        recorder.start_segment(SPECS, now=1.0)
    await recorder.close_segment(now=1.0)
    recorder.start_segment(SPECS, now=3.5)
    for packet in four_tracks(1.0, start=3.5):
        recorder.write(packet)
    await recorder.close_segment(now=4.5)
    assert await recorder.close_segment(now=5.0) is None
    assert [s.path.name for s in recorder.segments] == ["sess-2-000.webm", "sess-2-001.webm"]
    [gap] = recorder.gaps()
    assert gap.after_segment == 0 and gap.seconds == pytest.approx(2.5, abs=0.1)


def test_session_id_must_be_safe(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        SessionRecorder(tmp_path, "../etc/passwd")


def test_video_before_first_keyframe_is_dropped(tmp_path: Path) -> None:
    packets = list(vp8_packets("participant-video", 1.0))
    second_key = next(i for i, p in enumerate(packets) if i and p.keyframe)
    writer = SegmentWriter("s", 0, tmp_path / "s.webm", SPECS[:1], 0.0)
    for packet in packets[1:]:  # starts at an inter frame: nothing decodable until a keyframe
        writer.write(packet)
    info = writer.close(1.0)
    assert info.packets == len(packets) - second_key


PYTHONPATH = [Path(__file__).parents[2], Path(__file__).parent]
KILLED_WRITER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from recording.writer import SegmentWriter, TrackSpec
    from media_fixtures import interleave, opus_packets, vp8_packets
    specs = [TrackSpec("video", "video", "VP8"), TrackSpec("audio", "audio", "opus")]
    writer = SegmentWriter("killed", 0, Path(sys.argv[1]), specs, 0.0)
    for packet in interleave(vp8_packets("video", 4.0), opus_packets("audio", 4.0)):
        writer.write(packet)
    time.sleep(1.0)  # let the worker thread write everything, then wait to be killed
    print("written", flush=True)
    time.sleep(60)
    """
)


def test_sigkill_leaves_a_readable_file(tmp_path: Path) -> None:
    path = tmp_path / "killed-000.webm"
    proc = subprocess.Popen(
        [sys.executable, "-c", KILLED_WRITER, str(path)],
        stdout=subprocess.PIPE,
        cwd=Path(__file__).parents[2],
        env={**os.environ, "PYTHONPATH": os.pathsep.join(map(str, PYTHONPATH))},
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == b"written"
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()
    assert proc.returncode == -signal.SIGKILL
    tracks = read_tracks(path)
    # Everything but the last open cluster (<= 1 s) survives.
    assert max(tracks["video"]) >= 2500
    assert max(tracks["audio"]) >= 2500
    assert all(n > 50 for n in decode_all(path).values())
