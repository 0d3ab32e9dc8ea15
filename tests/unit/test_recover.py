"""Recovering a crashed call's recording: real segment files written by the recorder, copied
while still open (as a SIGKILL leaves them), cut short, empty or not media at all."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import av
import pytest

from recording.recover import merge_recording, recover_segments, scan_segments
from recording.writer import SegmentWriter, TrackSpec, file_sha256
from tests.integration.media_fixtures import interleave, opus_packets, vp8_packets
from videocall.outcomes import evidence_from_media

SPECS = [
    TrackSpec("participant-video", "video", "VP8"),
    TrackSpec("participant-audio", "audio", "opus"),
]
SESSION = "0b9f3c52-5a1e-4c8e-9d7a-2f1e8b6c4d10"
AS_DICT_KEYS = {"index", "file", "duration_s", "sha256", "size_bytes", "tracks", "packets"}


def _packets(seconds: float) -> list:
    return interleave(
        vp8_packets("participant-video", seconds), opus_packets("participant-audio", seconds)
    )


def _open_copy(directory: Path, source_dir: Path, index: int, seconds: float) -> Path:
    """A segment copied while its writer is still open: no cues, no duration, cut mid-way."""
    src = source_dir / f"{SESSION}-{index:03d}.webm"
    writer = SegmentWriter(SESSION, index, src, SPECS, 0.0)
    try:
        packets = _packets(seconds)
        for packet in packets:
            writer.write(packet)
        # The writer thread muxes and flushes on its own; wait until most of it is on disk
        # (the last batch and the open cluster stay behind, as in a real crash).
        most = 0.7 * sum(len(p.data) for p in packets)
        deadline = time.monotonic() + 30
        while src.stat().st_size < most and time.monotonic() < deadline:
            time.sleep(0.02)
        dst = directory / src.name
        shutil.copyfile(src, dst)
    finally:
        writer.close(seconds)
    return dst


@pytest.fixture
def recordings(tmp_path: Path) -> Path:
    directory = tmp_path / "recordings"
    directory.mkdir()
    return directory


def test_recover_a_segment_left_open_by_a_crash(recordings: Path, tmp_path: Path) -> None:
    path = _open_copy(recordings, tmp_path, 0, 3.0)
    [segment] = recover_segments(recordings, SESSION)
    assert set(segment) == AS_DICT_KEYS | {"recovered"} and segment["recovered"] is True
    assert segment["index"] == 0 and segment["file"] == path.name
    assert segment["sha256"] == file_sha256(path)
    assert segment["size_bytes"] == path.stat().st_size
    assert segment["tracks"] == ["participant-video", "participant-audio"]
    assert segment["packets"] > 100
    assert 1.5 < segment["duration_s"] <= 3.1
    evidence = evidence_from_media({"segments": [segment]}, [])
    assert evidence.recording_sha256 == (segment["sha256"],)


def test_recover_a_truncated_segment_keeps_what_precedes_the_cut(
    recordings: Path, tmp_path: Path
) -> None:
    writer = SegmentWriter(SESSION, 1, tmp_path / "whole.webm", SPECS, 0.0)
    for packet in _packets(2.5):
        writer.write(packet)
    whole = writer.close(2.5)
    cut = recordings / f"{SESSION}-001.webm"
    data = whole.path.read_bytes()
    cut.write_bytes(data[: len(data) // 2 + 777])  # mid-cluster, mid-packet
    [segment] = recover_segments(recordings, SESSION)
    assert segment["index"] == 1 and segment["sha256"] == file_sha256(cut)
    assert 0 < segment["packets"] < whole.packets
    assert 0.5 < segment["duration_s"] < whole.duration_s
    with av.open(str(cut)) as container:  # what we call readable, PyAV reads
        assert len(container.streams.video) == 1


def test_empty_and_garbage_files_are_reported_not_listed(recordings: Path, tmp_path: Path) -> None:
    _open_copy(recordings, tmp_path, 0, 1.0)
    (recordings / f"{SESSION}-001.webm").write_bytes(b"")
    (recordings / f"{SESSION}-002.webm").write_bytes(b"\x1a\x45\xdf\xa3" + b"\x00" * 64)
    (recordings / f"{SESSION}-003.mkv").write_bytes(b"not a recording at all" * 100)
    scan = scan_segments(recordings, SESSION)
    assert [s["index"] for s in scan.segments] == [0]
    assert [u["index"] for u in scan.unreadable] == [1, 2, 3]
    assert scan.unreadable[0]["size_bytes"] == 0 and scan.unreadable[0]["error"]
    assert [s["index"] for s in recover_segments(recordings, SESSION)] == [0]


def test_only_this_sessions_segments(recordings: Path, tmp_path: Path) -> None:
    _open_copy(recordings, tmp_path, 0, 1.0)
    other = SESSION[:-1] + "1"
    shutil.copyfile(recordings / f"{SESSION}-000.webm", recordings / f"{other}-000.webm")
    shutil.copyfile(recordings / f"{SESSION}-000.webm", recordings / f"{SESSION}-000.webm.part")
    assert [s["file"] for s in recover_segments(recordings, SESSION)] == [f"{SESSION}-000.webm"]
    assert recover_segments(recordings, "no-such-session") == []
    assert recover_segments(tmp_path / "absent", SESSION) == []


def test_merge_keeps_stored_segments_and_adds_the_recovered_ones() -> None:
    stored = {
        "segments": [{"index": 0, "file": f"{SESSION}-000.webm", "sha256": "a" * 64}],
        "gaps_s": [2.5],
    }
    recovered = [
        {"index": 0, "file": f"{SESSION}-000.webm", "sha256": "b" * 64, "recovered": True},
        {"index": 1, "file": f"{SESSION}-001.webm", "sha256": "c" * 64, "recovered": True},
    ]
    merged = merge_recording(stored, recovered)
    assert [s["sha256"][0] for s in merged["segments"]] == ["a", "c"]
    assert merged["gaps_s"] == [2.5]
    assert merge_recording(None, recovered[1:]) == {"segments": recovered[1:], "gaps_s": []}
    assert stored["segments"] == [{"index": 0, "file": f"{SESSION}-000.webm", "sha256": "a" * 64}]
