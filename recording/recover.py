"""Find and describe what a crashed process left of a call's recording.

A process killed mid-call leaves its open segment on disk without cues or a duration header
(``recording/writer.py`` closes a cluster every second, so the file reads up to about the
kill). After a restart, or on the node that takes over a dead node's calls (shared
``DATA_DIR``), ``recover_segments`` opens each of the session's segment files with PyAV and
describes it exactly as ``SegmentInfo.as_dict()`` does, plus ``"recovered": True``, so that
``videocall.outcomes.evidence_from_media`` counts its SHA-256 like any other segment::

    segments = await cpu_pool.run(recover_segments, settings.recordings_dir, session_id)
    recording = merge_recording(session.recording, segments)   # keeps what was stored

Blocking (reads and hashes whole files): run it off the event loop. Files that are empty or
that PyAV cannot read are logged and left out of the evidence (``scan_segments`` returns them).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import av

from recording.writer import file_sha256

logger = logging.getLogger(__name__)

SUFFIXES = (".webm", ".mkv")


@dataclass(frozen=True, slots=True)
class SegmentScan:
    """What a session's directory holds: readable segments and the files that are not."""

    segments: list[dict[str, Any]] = field(default_factory=list)
    unreadable: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class _Demuxed:
    packets: int = 0
    first: dict[int, float] = field(default_factory=dict)  # stream index -> seconds
    last: dict[int, float] = field(default_factory=dict)
    video: bool = False
    decoded_video: bool = False

    def add(self, stream: int, seconds: float) -> None:
        self.packets += 1
        self.first.setdefault(stream, seconds)
        self.last[stream] = max(self.last.get(stream, seconds), seconds)

    @property
    def duration_s(self) -> float:
        if not self.first:
            return 0.0
        return max(self.last.values()) - min(self.first.values())


def segment_files(directory: Path, session_id: str) -> list[tuple[int, Path]]:
    """``(index, path)`` of the session's segment files, by index (see ``segment_path``)."""
    pattern = re.compile(rf"^{re.escape(session_id)}-(\d{{3,}})(\.webm|\.mkv)$")
    found = []
    if directory.is_dir():
        for path in directory.iterdir():
            match = pattern.match(path.name)
            if match and path.is_file():
                found.append((int(match.group(1)), path))
    return sorted(found)


def scan_segments(directory: Path, session_id: str) -> SegmentScan:
    """Describe every segment file of ``session_id`` under ``directory`` (blocking)."""
    scan = SegmentScan()
    for index, path in segment_files(directory, session_id):
        size = path.stat().st_size
        try:
            if size == 0:
                raise ValueError("empty file")
            described = describe_segment(path, index)
        except (av.FFmpegError, OSError, ValueError) as exc:
            logger.warning(
                "session %s: segment %d (%s) is unreadable: %s", session_id, index, path.name, exc
            )
            scan.unreadable.append(
                {"index": index, "file": path.name, "size_bytes": size, "error": str(exc)[:200]}
            )
            continue
        scan.segments.append(described)
    return scan


def recover_segments(directory: Path, session_id: str) -> list[dict[str, Any]]:
    """The session's readable segment files, each as ``SegmentInfo.as_dict()`` plus
    ``"recovered": True`` (blocking: run it in the CPU pool)."""
    segments = scan_segments(directory, session_id).segments
    for segment in segments:
        logger.info(
            "session %s: recovered segment %d, %.1f s, %d bytes",
            session_id,
            segment["index"],
            segment["duration_s"],
            segment["size_bytes"],
        )
    return segments


def describe_segment(path: Path, index: int) -> dict[str, Any]:
    """One file as ``SegmentInfo.as_dict()`` describes it; ValueError when it holds no media."""
    demuxed, tracks = _demux(path)
    if demuxed.packets == 0:
        raise ValueError("no media packets")
    if demuxed.video and not demuxed.decoded_video:
        raise ValueError("the first video frame does not decode")
    return {
        "index": index,
        "file": path.name,
        "duration_s": round(demuxed.duration_s, 3),
        "sha256": file_sha256(path),  # after the read: the file as it is now, streamed
        "size_bytes": path.stat().st_size,
        "tracks": tracks,
        "packets": demuxed.packets,
        "recovered": True,
    }


def _demux(path: Path) -> tuple[_Demuxed, list[str]]:
    demuxed = _Demuxed()
    with av.open(str(path)) as container:
        tracks = [str(s.metadata.get("title") or s.type) for s in container.streams]
        try:
            for packet in container.demux():
                if packet.size == 0 or packet.pts is None or packet.time_base is None:
                    continue
                seconds = float(packet.pts * Fraction(packet.time_base))
                demuxed.add(packet.stream.index, seconds)
                if packet.stream.type == "video" and not demuxed.video:
                    # The first video frame (a keyframe) must decode: a header and a few
                    # bytes are not a recording.
                    demuxed.video = True
                    demuxed.decoded_video = _decodes(packet)
        except av.FFmpegError as exc:
            # A file cut off by a kill ends in a partial cluster: keep what came before it.
            logger.info("%s: demux stopped early (%s)", path.name, exc)
    return demuxed, tracks


def _decodes(packet: av.Packet[Any]) -> bool:
    try:
        return bool(packet.decode())
    except av.FFmpegError:
        return False


def merge_recording(
    stored: Mapping[str, Any] | None, recovered: list[dict[str, Any]]
) -> dict[str, Any]:
    """The session's ``recording`` column with the recovered segments it did not list yet
    (by file name); segments stored by a clean close are kept as they are."""
    stored = dict(stored or {})
    segments = list(stored.get("segments") or [])
    listed = {str(s.get("file")) for s in segments}
    segments += [s for s in recovered if s["file"] not in listed]
    segments.sort(key=lambda s: int(s.get("index", 0)))
    return {**stored, "segments": segments, "gaps_s": list(stored.get("gaps_s") or [])}
