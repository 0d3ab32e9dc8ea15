"""The naive media pipeline, kept as a benchmark baseline (``MEDIA_PIPELINE=aiortc-relay``).

What the aiortc examples do: decode every incoming stream, hand the decoded frames to the other
side through ``MediaRelay`` (re-encoded by each sender) and to a ``MediaRecorder`` per side
(encoded again), and look at decoded participant frames for quality. Same interface as
``media.call.MediaCall`` so the server can host either; not for production use: it costs several
times the CPU (docs/benchmarks.md) and emits no quality events.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import av
import numpy as np
from aiortc import RTCPeerConnection, RTCSessionDescription
from aiortc.contrib.media import MediaRecorder, MediaRelay
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from media.call import (
    KINDS,
    SIDES,
    CallSummary,
    MediaCall,
    MediaSettings,
    Side,
    SideQuality,
    other,
)
from media.rtc_forward import allow_loopback_candidates
from videocall.clock import Clock, SystemClock
from videocall.errors import Conflict, ValidationError
from videocall.quality_monitor import QualityEvent, QualityMonitor

logger = logging.getLogger(__name__)


class _SwitchTrack(MediaStreamTrack):
    """An outgoing track that waits for the other side's relayed track to exist."""

    def __init__(self, kind: str) -> None:
        super().__init__()
        self.kind = kind
        self._source: MediaStreamTrack | None = None
        self._ready = asyncio.Event()

    def set_source(self, track: MediaStreamTrack) -> None:
        self._source = track
        self._ready.set()

    async def recv(self) -> av.frame.Frame | av.Packet[Any]:
        await self._ready.wait()
        assert self._source is not None
        return await self._source.recv()


class RelayMediaCall:
    """Decode, relay (re-encode), record with ``MediaRecorder`` (re-encode again)."""

    def __init__(
        self,
        session_id: str,
        settings: MediaSettings,
        on_quality: Callable[[Side, QualityEvent], None] | None = None,
        clock: Clock | None = None,
        on_setup: Callable[[str], None] | None = None,  # not timed: the baseline is a benchmark
    ) -> None:
        self.session_id = session_id
        self._settings = settings
        self._clock = clock or SystemClock()
        if settings.allow_loopback:
            allow_loopback_candidates(True)
        now = self._clock.monotonic()
        self._monitors = {s: QualityMonitor(settings.thresholds, now) for s in SIDES}
        self._relay = MediaRelay()
        self._pcs: dict[Side, RTCPeerConnection] = {}
        self._out = {(s, k): _SwitchTrack(k) for s in SIDES for k in KINDS}
        self._incoming: dict[tuple[Side, str], MediaStreamTrack] = {}
        self._recorders: dict[Side, MediaRecorder] = {}
        self._recording = False
        self._tasks: set[asyncio.Task[None]] = set()
        self._latest: av.VideoFrame | None = None
        self._summary: CallSummary | None = None

    async def accept_offer(self, side: Side, sdp: str, type_: str) -> tuple[str, str]:
        if self._summary is not None:
            raise Conflict("the call has ended", code="call_closed")
        if type_ != "offer":
            raise ValidationError("expected an SDP offer", code="bad_sdp", field="type")
        await self.reconnect(side)
        pc = self._pcs[side] = RTCPeerConnection()
        for kind in KINDS:
            pc.addTransceiver(self._out[(side, kind)], direction="sendrecv")
        pc.on("track", lambda track: self._on_track(side, track))
        try:
            await pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="offer"))
            await pc.setLocalDescription(await pc.createAnswer())
        except Exception as exc:
            raise ValidationError("the offer cannot be used", code="bad_sdp") from exc
        assert pc.localDescription is not None
        return pc.localDescription.sdp, "answer"

    def _on_track(self, side: Side, track: MediaStreamTrack) -> None:
        self._incoming[(side, track.kind)] = track
        self._out[(other(side), track.kind)].set_source(self._relay.subscribe(track))
        if side == "participant" and track.kind == "video":
            self._spawn(self._analyse(self._relay.subscribe(track)))
        if self._recording:
            self._start_recorder(side)

    async def reconnect(self, side: Side) -> None:
        pc = self._pcs.pop(side, None)
        if pc is not None:
            await pc.close()

    def start_recording(self) -> Path:
        self._recording = True
        for side in SIDES:
            self._start_recorder(side)
        return self._path("participant")

    def _path(self, side: Side) -> Path:
        return self._settings.recording_dir / f"{self.session_id}-{side}.webm"

    def _start_recorder(self, side: Side) -> None:
        tracks = [self._incoming.get((side, k)) for k in KINDS]
        if side in self._recorders or None in tracks:
            return  # MediaRecorder takes its tracks before it starts: wait for both
        self._settings.recording_dir.mkdir(parents=True, exist_ok=True)
        recorder = self._recorders[side] = MediaRecorder(str(self._path(side)))
        for track in tracks:
            assert track is not None
            recorder.addTrack(self._relay.subscribe(track))
        self._spawn(recorder.start())

    async def stop_recording(self) -> None:
        for recorder in self._recorders.values():
            await recorder.stop()
        self._recorders.clear()
        self._recording = False

    async def snapshot(self, kind: str) -> object:
        raise Conflict("snapshots are not part of the baseline", code="not_supported")

    def quality_levels(self, side: Side) -> dict[str, str]:
        return dict(self._monitors[side].levels())

    async def _analyse(self, track: MediaStreamTrack) -> None:
        """Look at decoded participant frames at the sample rate (a luma mean, like the
        cheapest of the real measures): decoding already happened for the relay."""
        interval, last = 1 / self._settings.sample_fps, 0.0
        with contextlib.suppress(MediaStreamError):
            while True:
                frame = await track.recv()
                now = self._clock.monotonic()
                if isinstance(frame, av.VideoFrame) and now - last >= interval:
                    last, self._latest = now, frame
                    np.asarray(frame.to_ndarray(format="gray")).mean()

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def close(self) -> CallSummary:
        if self._summary is not None:
            return self._summary
        await self.stop_recording()
        for side in SIDES:
            await self.reconnect(side)
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        now = self._clock.monotonic()
        quality = {s: SideQuality(m.series(), m.summary(now)) for s, m in self._monitors.items()}
        self._summary = CallSummary(self.session_id, [], [], quality)
        logger.info("session %s: baseline media closed", self.session_id)
        return self._summary


def media_call_class(pipeline: str) -> type:
    """The media call class for the ``MEDIA_PIPELINE`` setting."""
    return RelayMediaCall if pipeline == "aiortc-relay" else MediaCall
