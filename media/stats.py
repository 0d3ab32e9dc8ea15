"""Connection measures of one side from aiortc statistics and our own frame counters."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from aiortc import RTCPeerConnection, RTCRtpReceiver

from media.rtc_forward import EncodedFrame, inbound_counts
from recording.writer import vp8_keyframe_size
from videocall.quality import ConnectionMetrics

CLOCK_PER_MS = {"video": 90.0, "audio": 48.0}
LOSS_WINDOW = 3  # intervals: ~100 packets a second make a one-second loss figure jumpy


@dataclass(slots=True)
class FrameCounter:
    """Frames and bytes received from one side, counted in the tap (no decode needed)."""

    video_frames: int = 0
    bytes: int = 0
    width: int | None = None
    height: int | None = None

    def add(self, frame: EncodedFrame) -> None:
        self.bytes += len(frame.data)
        if frame.kind == "video":
            self.video_frames += 1
            if frame.keyframe and frame.codec == "VP8":
                size = vp8_keyframe_size(frame.data)
                if size is not None:
                    self.width, self.height = size


@dataclass(slots=True)
class StatsSampler:
    """Turns cumulative counters into per-interval measures for one side."""

    counter: FrameCounter = field(default_factory=FrameCounter)
    _at: float | None = None
    _frames: int = 0
    _bytes: int = 0
    _expected: int = 0
    _received: int = 0
    _loss_window: deque[tuple[int, int]] = field(default_factory=lambda: deque(maxlen=LOSS_WINDOW))

    async def sample(
        self, now: float, pc: RTCPeerConnection, receivers: list[RTCRtpReceiver]
    ) -> ConnectionMetrics | None:
        """Measures since the previous call; None on the first call (no interval yet)."""
        expected, received = _sum_counts(receivers)
        report = await pc.getStats()
        previous_at, self._at = self._at, now
        frames, nbytes = self.counter.video_frames, self.counter.bytes
        d_frames, d_bytes = frames - self._frames, nbytes - self._bytes
        d_expected, d_received = expected - self._expected, received - self._received
        self._frames, self._bytes = frames, nbytes
        self._expected, self._received = expected, received
        if previous_at is None or now <= previous_at:
            return None
        dt = now - previous_at
        self._loss_window.append((d_expected, d_received))
        w_expected = sum(e for e, _ in self._loss_window)
        w_lost = max(0, w_expected - sum(r for _, r in self._loss_window))
        uplink = 100.0 * w_lost / w_expected if w_expected > 0 else 0.0
        downlink, rtt, jitter = _report_measures(report)
        return ConnectionMetrics(
            packet_loss_pct=max(uplink, downlink),
            jitter_ms=jitter,
            rtt_ms=rtt,
            fps=d_frames / dt,
            bitrate_kbps=d_bytes * 8 / dt / 1000,
            width=self.counter.width,
            height=self.counter.height,
        )


def _sum_counts(receivers: list[RTCRtpReceiver]) -> tuple[int, int]:
    expected = received = 0
    for receiver in receivers:
        e, r = inbound_counts(receiver)
        expected, received = expected + e, received + r
    return expected, received


def _report_measures(report: dict[str, object]) -> tuple[float, float | None, float | None]:
    """(downlink loss %, RTT ms, jitter ms) from a getStats() report; None when not reported."""
    downlink, rtts, jitters = 0.0, [], []
    for stats in report.values():
        kind_ms = CLOCK_PER_MS.get(getattr(stats, "kind", ""), 90.0)
        stats_type = getattr(stats, "type", "")
        if stats_type == "remote-inbound-rtp":
            # What this side receives from us: its RR's fraction lost (of 256) and our RTT.
            downlink = max(downlink, 100.0 * getattr(stats, "fractionLost", 0) / 256)
            rtt = getattr(stats, "roundTripTime", None)
            if rtt is not None:
                rtts.append(rtt * 1000)
        elif stats_type == "inbound-rtp":
            jitters.append(getattr(stats, "jitter", 0) / kind_ms)
    return downlink, (max(rtts) if rtts else None), (max(jitters) if jitters else None)
