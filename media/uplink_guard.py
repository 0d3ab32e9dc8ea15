"""The weak-uplink rule (``videocall.uplink``) applied to one call's participant uplink.

The call counts the participant's video bytes here and feeds one sample per statistics
interval; a change of state becomes a ``QualityEvent`` on the ``video`` measure (hint
``weak_uplink`` while paused) and the call pauses or resumes video forwarding and recording.
At the end the audio-only stretches are written into the participant's quality series and
summary (measure ``video``: ``bad`` while paused), where the reviewer sees the gap.
"""

from __future__ import annotations

from dataclasses import replace

from videocall.quality import ConnectionMetrics, HintCode, Level
from videocall.quality_monitor import (
    WORST_MOMENTS,
    Episode,
    QualityEvent,
    QualitySummary,
    SeriesPoint,
)
from videocall.uplink import Change, UplinkRule, UplinkSample, WeakUplink

MEASURE = "video"
HINT: HintCode = "weak_uplink"


class UplinkGuard:
    def __init__(self, rule: UplinkRule, start: float) -> None:
        self._uplink = WeakUplink(rule, start)
        self._start = start
        self._video_bytes = 0
        self._last: tuple[float, int] | None = None

    @property
    def paused(self) -> bool:
        return self._uplink.state == "audio_only"

    def count_video(self, nbytes: int) -> None:
        self._video_bytes += nbytes

    def observe(self, now: float, metrics: ConnectionMetrics) -> QualityEvent | None:
        """One statistics interval of the participant; an event when video pauses or resumes."""
        last, self._last = self._last, (now, self._video_bytes)
        if last is None or now <= last[0]:
            return None
        kbps = (self._video_bytes - last[1]) * 8 / (now - last[0]) / 1000
        sample = UplinkSample(metrics.fps or 0.0, kbps, metrics.packet_loss_pct or 0.0)
        return self._event(now, self._uplink.observe(now, sample))

    def _event(self, now: float, change: Change | None) -> QualityEvent | None:
        if change is None:
            return None
        at = now - self._start
        if change == "paused":
            return QualityEvent(at, MEASURE, "bad", "ok", HINT)
        return QualityEvent(at, MEASURE, "ok", "bad", None)

    def pauses(self, now: float) -> list[tuple[float, float]]:
        return self._uplink.pauses(now)

    def annotate(
        self, series: list[SeriesPoint], summary: QualitySummary, now: float
    ) -> tuple[list[SeriesPoint], QualitySummary]:
        """The participant's series and summary with the audio-only stretches added."""
        pauses = self.pauses(now)
        if not pauses:
            return series, summary

        def level(t: int) -> Level:
            return "bad" if any(a <= t < b for a, b in pauses) else "ok"

        points = [
            SeriesPoint(
                p.t,
                {**p.values, "video_paused": 1.0 if level(p.t) == "bad" else 0.0},
                {**p.levels, MEASURE: level(p.t)},
            )
            for p in series
        ]
        paused_s = sum(b - a for a, b in pauses)
        total = summary.duration_s or paused_s
        share = min(1.0, paused_s / total) if total > 0 else 0.0
        video_shares: dict[Level, float] = {"ok": 1.0 - share, "warn": 0.0, "bad": share}
        shares = {**summary.shares, MEASURE: video_shares}
        episodes = [Episode(MEASURE, "bad", a, b) for a, b in pauses]
        worst = sorted(
            [*episodes, *summary.worst_moments],
            key=lambda e: (-(e.level == "bad"), -e.duration, e.start),
        )[:WORST_MOMENTS]
        return points, replace(summary, shares=shares, worst_moments=worst)
