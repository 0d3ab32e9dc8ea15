"""The recording of one call: a list of segment files, one per uninterrupted stretch.

A reconnect (a new peer connection on either side) continues the same session as a new segment;
the time between two segments is a gap the reviewer should know about. Files are named by
session id and segment number only, never by anything personal::

    recorder = SessionRecorder(directory, "c0ffee", fmt_codecs)
    recorder.start_segment(specs, now)      # only once consent is recorded: the caller checks
    recorder.write(packet)                  # from the event loop, cheap
    info = await recorder.close_segment(now)
    recorder.segments, recorder.gaps()

Time is passed in (the caller's monotonic clock), never read.
"""

from __future__ import annotations

import asyncio
import logging
import re
from dataclasses import dataclass
from pathlib import Path

from recording.writer import MediaPacket, SegmentInfo, SegmentWriter, TrackSpec

logger = logging.getLogger(__name__)

SESSION_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


@dataclass(frozen=True, slots=True)
class Gap:
    after_segment: int
    start: float
    end: float

    @property
    def seconds(self) -> float:
        return self.end - self.start


def segment_path(directory: Path, session_id: str, index: int, codecs: list[str]) -> Path:
    # WebM only carries VP8/VP9/AV1 and Opus/Vorbis; H.264 needs plain Matroska.
    suffix = ".webm" if all(c in ("VP8", "opus") for c in codecs) else ".mkv"
    return directory / f"{session_id}-{index:03d}{suffix}"


class SessionRecorder:
    def __init__(self, directory: Path, session_id: str) -> None:
        if not SESSION_ID.match(session_id):
            raise ValueError("session id must be 1-64 of [A-Za-z0-9_-]")
        self.directory = directory
        self.session_id = session_id
        self.segments: list[SegmentInfo] = []
        self._writer: SegmentWriter | None = None

    @property
    def recording(self) -> bool:
        return self._writer is not None

    def start_segment(self, specs: list[TrackSpec], now: float) -> Path:
        """Open the next segment file; the previous one must be closed."""
        if self._writer is not None:
            raise RuntimeError("a segment is already open")
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        index = len(self.segments)
        path = segment_path(self.directory, self.session_id, index, [s.codec for s in specs])
        self._writer = SegmentWriter(self.session_id, index, path, specs, now)
        logger.info("session %s: recording segment %d started", self.session_id, index)
        return path

    def write(self, packet: MediaPacket) -> None:
        if self._writer is not None:
            self._writer.write(packet)

    async def close_segment(self, now: float) -> SegmentInfo | None:
        """Finish the open segment (off the event loop); None when none is open."""
        writer, self._writer = self._writer, None
        if writer is None:
            return None
        info = await asyncio.to_thread(writer.close, now)
        self.segments.append(info)
        logger.info(
            "session %s: recording segment %d closed, %.1f s, %d packets",
            self.session_id,
            info.index,
            info.duration_s,
            info.packets,
        )
        return info

    def gaps(self) -> list[Gap]:
        return [
            Gap(a.index, a.ended_at, b.started_at)
            for a, b in zip(self.segments, self.segments[1:], strict=False)
        ]
