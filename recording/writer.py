"""Remux encoded RTP frames into one Matroska/WebM file, progressively, in a worker thread.

Nothing is decoded or re-encoded: each packet handed to ``SegmentWriter.write`` is muxed as is
with PyAV's ``add_mux_stream``. The event loop only puts packets on a queue; the worker thread
owns the container. Clusters are closed every second and packets flushed to the file, so a
process killed mid-call leaves a file that PyAV/ffmpeg read up to the last second or so (no
cues, no duration header; players scan it).

Timestamps: each track keeps its own media clock (RTP timestamp) and is anchored once, at its
first packet, to the caller's arrival time (seconds on one monotonic scale for all tracks). That
keeps audio and video within a jitter-buffer delay of each other; exact lip sync would need the
RTCP sender-report clock mapping. Timestamps are made strictly increasing per track.
"""

from __future__ import annotations

import hashlib
import logging
import os
import struct
import threading
from collections import deque
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Literal

import av
from av.container import OutputContainer
from av.stream import Stream

logger = logging.getLogger(__name__)

MS = Fraction(1, 1000)
READY_WAIT_S = 3.0  # how long to wait for every video track's first keyframe before starting
REANCHOR_MS = 2000  # a media clock this far from the arrival clock is re-anchored (source change)
CLUSTER_MS = 1000  # cluster length: the most a killed process loses
BATCH_SECONDS = 0.1  # the writer thread takes the packets that arrived this often
DEFAULT_SIZE = (640, 480)  # only if no keyframe told us; players read the size from the stream

Kind = Literal["audio", "video"]


@dataclass(frozen=True, slots=True)
class TrackSpec:
    name: str  # e.g. "participant-video"; becomes the stream title
    kind: Kind
    codec: str  # "VP8", "H264" or "opus" (aiortc codec names)


@dataclass(frozen=True, slots=True)
class MediaPacket:
    track: str
    data: bytes
    timestamp: int  # media clock units
    clock_rate: int
    keyframe: bool
    arrival: float  # seconds, same monotonic scale as the segment start


@dataclass(frozen=True, slots=True)
class SegmentInfo:
    session_id: str
    index: int
    path: Path
    started_at: float
    ended_at: float
    duration_s: float  # media duration in the file
    sha256: str
    size_bytes: int
    tracks: tuple[str, ...]
    packets: int

    def as_dict(self) -> dict[str, object]:
        return {
            "index": self.index,
            "file": self.path.name,
            "duration_s": round(self.duration_s, 3),
            "sha256": self.sha256,
            "size_bytes": self.size_bytes,
            "tracks": list(self.tracks),
            "packets": self.packets,
        }


def opus_head(channels: int = 2, pre_skip: int = 312, rate: int = 48000) -> bytes:
    """The Ogg/Matroska Opus identification header (RFC 7845 section 5.1)."""
    return b"OpusHead" + struct.pack("<BBHIhB", 1, channels, pre_skip, rate, 0, 0)


def vp8_keyframe_size(data: bytes) -> tuple[int, int] | None:
    """Width and height from a VP8 keyframe header (RFC 6386 section 9.1), else None."""
    if len(data) < 10 or data[0] & 1 or data[3:6] != b"\x9d\x01\x2a":
        return None
    width, height = struct.unpack("<HH", data[6:10])
    return width & 0x3FFF, height & 0x3FFF


def h264_keyframe_size(data: bytes) -> tuple[int, int] | None:
    """Width and height of an H.264 access unit with SPS and IDR, by decoding it (a few ms,
    once per segment; an SPS parser would need the whole exp-Golomb syntax)."""
    try:
        decoder = av.CodecContext.create("h264", "r")
        for frame in decoder.decode(av.Packet(data)):
            return frame.width, frame.height
        for frame in decoder.decode(None):
            return frame.width, frame.height
    except av.FFmpegError:
        return None
    return None


def keyframe_size(codec: str, data: bytes) -> tuple[int, int] | None:
    if codec == "VP8":
        return vp8_keyframe_size(data)
    if codec == "H264":
        return h264_keyframe_size(data)
    return None


def create_private_file(path: Path) -> None:
    """Create an empty file only the service user can read; refuse to overwrite."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    os.close(fd)


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


class _TrackClock:
    """Maps one track's media clock to strictly increasing milliseconds of the file."""

    def __init__(self) -> None:
        self.offset_ms: int | None = None
        self.first_ms: int | None = None
        self.last_ms: int | None = None

    def map(self, packet: MediaPacket, start: float) -> int:
        media_ms = packet.timestamp * 1000 // packet.clock_rate
        arrival_ms = round((packet.arrival - start) * 1000)
        if self.offset_ms is None or abs(media_ms + self.offset_ms - arrival_ms) > REANCHOR_MS:
            self.offset_ms = arrival_ms - media_ms
        pts = max(0, media_ms + self.offset_ms)
        if self.last_ms is not None and pts <= self.last_ms:
            pts = self.last_ms + 1
        if self.first_ms is None:
            self.first_ms = pts
        self.last_ms = pts
        return pts


class SegmentWriter:
    """One file. ``write`` from the event loop; ``close`` blocks until the file is complete."""

    def __init__(
        self, session_id: str, index: int, path: Path, specs: list[TrackSpec], start: float
    ) -> None:
        self.session_id = session_id
        self.index = index
        self.path = path
        self.start = start
        self._specs = {s.name: s for s in specs}
        # The event loop appends packets; the writer thread takes them every BATCH_SECONDS on
        # its own timer. A put per packet woke the thread ~100 times a second per call, and a
        # put per 0.1 s batch still ~10 times, each wake-up fighting the event loop for the
        # GIL (py-spy, bench/): appending wakes nobody.
        self._pending: deque[MediaPacket] = deque()
        self._closing = threading.Event()
        self._end: float = start
        self._info: SegmentInfo | None = None
        self._failed = False
        create_private_file(path)
        self._muxer = _Muxer(path, specs, start)
        self._thread = threading.Thread(
            target=self._run, name=f"recorder-{session_id}-{index}", daemon=True
        )
        self._thread.start()

    def write(self, packet: MediaPacket) -> None:
        # At most BATCH_SECONDS of media waits here (what a kill could lose on top of the
        # muxer's own buffering).
        if packet.track in self._specs and not self._failed:
            if packet.arrival > self._end:
                self._end = packet.arrival
            self._pending.append(packet)

    def close(self, now: float) -> SegmentInfo:
        """Finish the file (blocking: call it from a thread) and describe it."""
        if self._info is None:
            self._closing.set()
            self._thread.join()
            self._info = self._describe(max(self._end, now))
        return self._info

    # --- worker thread ---------------------------------------------------------------------

    def _run(self) -> None:
        pending = self._pending
        try:
            while True:
                closing = self._closing.wait(BATCH_SECONDS)
                while pending:  # everything written before close() is in the file
                    self._muxer.add(pending.popleft())
                if closing:
                    break
        except Exception:
            # A broken recording must not break the call; the caller sees it in the summary.
            self._failed = True
            logger.exception("session %s: recording segment %d failed", self.session_id, self.index)
        finally:
            self._close_muxer()

    def _close_muxer(self) -> None:
        try:
            self._muxer.close()
        except Exception:
            self._failed = True
            logger.exception("session %s: closing segment %d failed", self.session_id, self.index)

    def _describe(self, ended_at: float) -> SegmentInfo:
        return SegmentInfo(
            session_id=self.session_id,
            index=self.index,
            path=self.path,
            started_at=self.start,
            ended_at=ended_at,
            duration_s=_muxed_duration(self._muxer.clocks),
            sha256=file_sha256(self.path),
            size_bytes=self.path.stat().st_size,
            tracks=tuple(self._specs),
            packets=self._muxer.packets,
        )


def _muxed_duration(clocks: dict[str, _TrackClock]) -> float:
    firsts = [c.first_ms for c in clocks.values() if c.first_ms is not None]
    lasts = [c.last_ms for c in clocks.values() if c.last_ms is not None]
    return (max(lasts) - min(firsts)) / 1000 if firsts else 0.0


class _Muxer:
    """Container state, touched only by the worker thread."""

    def __init__(self, path: Path, specs: list[TrackSpec], start: float) -> None:
        self.path = path
        self.specs = specs
        self.by_name = {s.name: s for s in specs}
        self.start = start
        self.clocks = {s.name: _TrackClock() for s in specs}
        self.sizes: dict[str, tuple[int, int]] = {}
        self.pending: list[MediaPacket] = []
        self.container: OutputContainer | None = None
        self.streams: dict[str, Stream] = {}
        self.packets = 0

    def add(self, packet: MediaPacket) -> None:
        spec = self.by_name[packet.track]
        if spec.kind == "video" and packet.track not in self.sizes:
            if not packet.keyframe:
                return  # nothing before the first keyframe decodes
            self.sizes[packet.track] = keyframe_size(spec.codec, packet.data) or DEFAULT_SIZE
        if self.container is None:
            self.pending.append(packet)
            if self._ready(packet.arrival):
                self._open()
            return
        self._mux(packet)

    def _ready(self, now: float) -> bool:
        videos = [s.name for s in self.specs if s.kind == "video"]
        waited = now - self.pending[0].arrival
        return all(v in self.sizes for v in videos) or waited >= READY_WAIT_S

    def _open(self) -> None:
        fmt = "webm" if all(s.codec in ("VP8", "opus") for s in self.specs) else "matroska"
        self.container = av.open(
            str(self.path),
            "w",
            format=fmt,
            # Close a cluster every second and push every packet to the file: a killed process
            # then loses at most the open cluster.
            options={"cluster_time_limit": str(CLUSTER_MS), "flush_packets": "1"},
        )
        for spec in self.specs:
            self.streams[spec.name] = self._add_stream(self.container, spec)
        for packet in self.pending:
            self._mux(packet)
        self.pending = []

    def _add_stream(self, container: OutputContainer, spec: TrackSpec) -> Stream:
        stream: Stream
        if spec.kind == "audio":
            # A mux-only stream has no codec context to carry the channel count and OpusHead;
            # an (idle) encoder context does, and the packets bypass it.
            stream = container.add_stream("libopus", rate=48000, layout="stereo")
        else:
            width, height = self.sizes.get(spec.name, DEFAULT_SIZE)
            codec = "vp8" if spec.codec == "VP8" else "h264"
            stream = container.add_mux_stream(codec, width=width, height=height)
        stream.time_base = MS
        stream.metadata["title"] = spec.name
        return stream

    def _mux(self, packet: MediaPacket) -> None:
        assert self.container is not None
        pts = self.clocks[packet.track].map(packet, self.start)
        av_packet = av.Packet(packet.data)
        av_packet.stream = self.streams[packet.track]
        av_packet.time_base = MS
        av_packet.pts = av_packet.dts = pts
        av_packet.is_keyframe = packet.keyframe
        self.container.mux(av_packet)
        self.packets += 1

    def close(self) -> None:
        if self.container is None and self.pending:
            self._open()  # a short segment: write what we have
        if self.container is not None:
            self.container.close()
