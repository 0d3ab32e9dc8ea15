"""Decode the analysed video stream in a worker thread; measure it at the sample rate; snapshots.

Every encoded frame is decoded (a VP8/H.264 decoder needs the inter frames since the last
keyframe), but only one frame per ``1 / sample_fps`` seconds of *media time* is converted to
BT.601 luma (through RGB, as a browser shows it: ``luma``) and measured, so the cost of analysis
does not grow with the sender's frame rate. The
latest decoded frame is kept for snapshots. Results go back to the event loop through
``loop.call_soon_threadsafe``; the thread never touches loop state.

The event loop hands frames over by appending to a deque, and the thread takes what arrived
every ``POLL_S``: a queue ``put`` per frame woke the thread 15 times a second per call to fight
the event loop for the GIL (py-spy in bench/: ~14 % of the loop's GIL time at 18 calls).
VP8 is decoded by FFmpeg's own decoder, ~25 % cheaper than libvpx (VP8 decoding is bit-exact,
so the pictures are the same).
"""

from __future__ import annotations

import asyncio
import io
import logging
import os
import re
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import av
import numpy as np
from av.video.frame import VideoFrame
from av.video.reformatter import VideoReformatter
from numpy.typing import NDArray
from PIL import Image

from media.rtc_forward import EncodedFrame
from videocall.quality import (
    SHARPNESS_WIDTH,
    Level,
    PictureMetrics,
    QualityThresholds,
    bt601_luma,
    classify_picture,
    frame_motion,
    measure,
)

logger = logging.getLogger(__name__)

DECODERS = {"VP8": "vp8", "H264": "h264"}  # FFmpeg's native decoders
POLL_S = 0.1  # the thread takes the frames that arrived this often
THUMBNAIL_SIZE = (320, 320)
SNAPSHOT_KIND = re.compile(r"^[a-z][a-z0-9_]{0,31}$")


@dataclass(frozen=True, slots=True)
class PictureSample:
    metrics: PictureMetrics
    motion: float | None  # against the previous sample; None for the first
    width: int
    height: int


@dataclass(frozen=True, slots=True)
class Snapshot:
    kind: str
    path: Path
    thumbnail_path: Path
    jpeg: bytes
    thumbnail: bytes
    width: int
    height: int
    metrics: PictureMetrics
    levels: dict[str, Level]
    bad_lighting: bool
    blurry: bool

    def as_dict(self) -> dict[str, object]:
        return {
            "kind": self.kind,
            "file": self.path.name,
            "thumbnail_file": self.thumbnail_path.name,
            "width": self.width,
            "height": self.height,
            "metrics": self.metrics.as_dict(),
            "levels": self.levels,
            "bad_lighting": self.bad_lighting,
            "blurry": self.blurry,
        }


def luma(frame: VideoFrame, width: int = SHARPNESS_WIDTH) -> NDArray[np.uint8]:
    """BT.601 luma of the frame as a browser shows it, about ``width`` pixels wide.

    The frame is converted to RGB (the decoder's matrix and range, clipped) and then weighted,
    as the page's canvas meter and the photo check do: the Y plane alone reads colours outside
    the RGB gamut, such as Chromium's fake camera, far too dark (``videocall.quality``). The
    size is an integer step of the frame's, point-sampled, like ``downscale``.
    """
    step = max(1, frame.width // width)
    # A reformatter of its own: ``frame.reformat`` caches one on the frame, and the latest frame
    # is read by the analysis thread and a snapshot's thread at once (a shared SwsContext
    # crashed a test worker with a segmentation fault).
    rgb = (
        VideoReformatter()
        .reformat(
            frame,
            width=max(1, frame.width // step),
            height=max(1, frame.height // step),
            format="rgb24",
            interpolation="POINT",
        )
        .to_ndarray()
    )
    return bt601_luma(cast(NDArray[np.uint8], rgb))


@dataclass(slots=True)
class _DecodeState:
    """The worker thread's decoder and sampling state."""

    decoder: Any = None  # a video decoder context; PyAV types decode() per subclass
    key: tuple[str, int] | None = None  # (codec, source) the decoder was made for
    synced: bool = False  # a keyframe was decoded since
    last_sample: float | None = None  # media time of the last sample
    previous: NDArray[np.uint8] | None = None  # the last sample's luma (for motion)


class FrameAnalyzer:
    """One decoder thread for one analysed stream (the participant's camera)."""

    def __init__(
        self,
        session_id: str,
        sample_fps: float,
        on_sample: Callable[[PictureSample], None],
        on_decode_error: Callable[[], None],
        loop: asyncio.AbstractEventLoop,
    ) -> None:
        self._session_id = session_id
        self._interval = 1.0 / sample_fps
        self._on_sample = on_sample
        self._on_decode_error = on_decode_error
        self._loop = loop
        self._pending: deque[tuple[EncodedFrame, int]] = deque()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._latest: VideoFrame | None = None
        self.decoded = 0
        self.sampled = 0
        self._thread = threading.Thread(
            target=self._run, name=f"analysis-{session_id}", daemon=True
        )
        self._thread.start()

    def feed(self, frame: EncodedFrame, source_id: int) -> None:
        self._pending.append((frame, source_id))  # atomic; no wake-up (see POLL_S)

    def latest_frame(self) -> VideoFrame | None:
        with self._lock:
            return self._latest

    def close(self) -> None:
        """Stop the thread (blocking; call it through ``asyncio.to_thread``); safe twice."""
        if self._thread.is_alive():
            self._stop.set()
            self._thread.join()

    # --- worker thread ---------------------------------------------------------------------

    def _run(self) -> None:
        state = _DecodeState()
        pending = self._pending
        while True:
            stopping = self._stop.wait(POLL_S)
            while pending:  # what arrived since the last round, stop signal or not
                frame, source_id = pending.popleft()
                self._handle(state, frame, source_id)
            if stopping:
                return

    def _handle(self, state: _DecodeState, frame: EncodedFrame, source_id: int) -> None:
        if (frame.codec, source_id) != state.key:
            # A new upstream (reconnect) or codec: start a fresh decoder at its keyframe.
            state.decoder = av.CodecContext.create(DECODERS[frame.codec], "r")
            state.key, state.synced, state.last_sample = (frame.codec, source_id), False, None
        state.synced = state.synced or frame.keyframe
        if not state.synced or state.decoder is None:
            return
        for decoded in self._decode(state.decoder, frame):
            media_time = frame.timestamp / frame.clock_rate
            if state.last_sample is not None and media_time - state.last_sample < self._interval:
                continue
            state.last_sample = media_time
            state.previous = self._sample(decoded, state.previous)

    def _decode(self, decoder: Any, frame: EncodedFrame) -> list[VideoFrame]:
        packet = av.Packet(frame.data)
        try:
            frames = [f for f in decoder.decode(packet) if isinstance(f, VideoFrame)]
        except av.FFmpegError as exc:
            # Keep the decoder: the next keyframe resyncs it. Ask for one now.
            logger.warning("session %s: video decode failed: %s", self._session_id, exc)
            self._loop.call_soon_threadsafe(self._on_decode_error)
            return []
        if frames:
            self.decoded += len(frames)
            with self._lock:
                self._latest = frames[-1]
        return frames

    def _sample(self, frame: VideoFrame, previous: NDArray[np.uint8] | None) -> NDArray[np.uint8]:
        small = luma(frame)
        motion = None if previous is None else frame_motion(previous, small)
        sample = PictureSample(measure(small), motion, frame.width, frame.height)
        self.sampled += 1
        self._loop.call_soon_threadsafe(self._on_sample, sample)
        return small


def _jpeg(image: Image.Image, quality: int) -> bytes:
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=quality)
    return out.getvalue()


def _write_private(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)


def save_snapshot(
    frame: VideoFrame,
    kind: str,
    directory: Path,
    name: str,
    thresholds: QualityThresholds,
) -> Snapshot:
    """Full-resolution JPEG + thumbnail of ``frame`` with its picture scores (blocking)."""
    if not SNAPSHOT_KIND.match(kind):
        raise ValueError("snapshot kind must be 1-32 of [a-z0-9_], starting with a letter")
    metrics = measure(luma(frame))
    levels = classify_picture(metrics, None, thresholds)
    # Its own RGB copy (see ``luma``): the analysis thread may be converting the same frame.
    image = VideoReformatter().reformat(frame, format="rgb24").to_image()  # type: ignore[no-untyped-call]
    jpeg = _jpeg(image, 92)
    thumb_image = image.copy()
    thumb_image.thumbnail(THUMBNAIL_SIZE)
    thumbnail = _jpeg(thumb_image, 80)
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    path, thumb_path = directory / f"{name}.jpg", directory / f"{name}-thumb.jpg"
    _write_private(path, jpeg)
    _write_private(thumb_path, thumbnail)
    return Snapshot(
        kind=kind,
        path=path,
        thumbnail_path=thumb_path,
        jpeg=jpeg,
        thumbnail=thumbnail,
        width=frame.width,
        height=frame.height,
        metrics=metrics,
        levels=levels,
        bad_lighting=levels["darkness"] != "ok"
        or levels["brightness"] != "ok"
        or levels["black"] != "ok",
        blurry=levels["sharpness"] != "ok",
    )
