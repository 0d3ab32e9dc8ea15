"""Live call quality over time: hysteresis, class-change events (hints), 1 Hz series, summary.

Pure and clock-free: every method takes ``now`` (seconds on any monotonic scale). Feed it
picture samples and connection numbers of one side::

    monitor = QualityMonitor(QualityThresholds(), start=now)
    events = monitor.observe_picture(now, metrics, motion)   # -> list[QualityEvent]
    events += monitor.observe_connection(now, connection)
    ...
    summary = monitor.summary(now)

An event is emitted only when a measure's *stable* level changes, i.e. after the new level held
for ``hold_worse_s`` / ``hold_better_s`` seconds and ``hold_samples`` samples. An event with
level ``ok`` clears the hint of its measure.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from videocall.quality import (
    HINT_FOR_MEASURE,
    LEVEL_RANK,
    LEVELS,
    ConnectionMetrics,
    HintCode,
    Level,
    PictureMetrics,
    QualityThresholds,
    classify_connection,
    classify_picture,
)

WORST_MOMENTS = 5  # how many episodes the summary keeps


@dataclass(frozen=True, slots=True)
class QualityEvent:
    at: float  # seconds since the monitor started
    measure: str
    level: Level
    previous: Level
    hint: HintCode | None  # None when the measure went back to ok

    def as_dict(self) -> dict[str, object]:
        return {
            "at": round(self.at, 2),
            "measure": self.measure,
            "level": self.level,
            "previous": self.previous,
            "hint": self.hint,
        }


@dataclass(slots=True)
class Hysteresis:
    """Stable level of one measure; a candidate level replaces it only after holding."""

    stable: Level = "ok"
    candidate: Level = "ok"
    candidate_since: float = 0.0
    candidate_samples: int = 0

    def update(self, now: float, level: Level, th: QualityThresholds) -> bool:
        """Feed one sample; True when the stable level changed."""
        if level != self.candidate:
            self.candidate, self.candidate_since, self.candidate_samples = level, now, 0
        self.candidate_samples += 1
        if self.candidate == self.stable:
            return False
        worse = LEVEL_RANK[self.candidate] > LEVEL_RANK[self.stable]
        hold = th.hold_worse_s if worse else th.hold_better_s
        # The first sample of a run marks its start, so "held for hold seconds" needs at least
        # hold_samples samples spread over that time.
        if now - self.candidate_since >= hold and self.candidate_samples >= th.hold_samples:
            self.stable = self.candidate
            return True
        return False


@dataclass(frozen=True, slots=True)
class SeriesPoint:
    t: int  # whole seconds since start
    values: dict[str, float]
    levels: dict[str, Level]


@dataclass(frozen=True, slots=True)
class Episode:
    measure: str
    level: Level
    start: float
    end: float

    @property
    def duration(self) -> float:
        return self.end - self.start


@dataclass(frozen=True, slots=True)
class QualitySummary:
    duration_s: float
    # measure -> level -> share of observed time (0-1) the measure spent at that level
    shares: dict[str, dict[Level, float]]
    worst_moments: list[Episode]

    def as_dict(self) -> dict[str, object]:
        return {
            "duration_s": round(self.duration_s, 2),
            "shares": {
                m: {lv: round(s, 4) for lv, s in by_level.items()}
                for m, by_level in self.shares.items()
            },
            "worst_moments": [
                {
                    "measure": e.measure,
                    "level": e.level,
                    "start": round(e.start, 2),
                    "end": round(e.end, 2),
                }
                for e in self.worst_moments
            ],
        }


@dataclass(slots=True)
class _Track:
    """Time accounting of one measure."""

    hysteresis: Hysteresis = field(default_factory=Hysteresis)
    first_seen: float = 0.0
    last_change: float = 0.0
    time_in: dict[Level, float] = field(default_factory=lambda: dict.fromkeys(LEVELS, 0.0))
    episodes: list[Episode] = field(default_factory=list)


class QualityMonitor:
    """Quality of one side of one call."""

    def __init__(self, thresholds: QualityThresholds, start: float) -> None:
        self._th = thresholds
        self._start = start
        self._tracks: dict[str, _Track] = {}
        self._values: dict[str, float] = {}
        self._series: list[SeriesPoint] = []
        self._last_point_t = -1

    def observe_picture(
        self, now: float, metrics: PictureMetrics, motion: float | None
    ) -> list[QualityEvent]:
        """One sampled frame; ``motion`` from ``frame_motion`` against the previous sample."""
        self._values.update(
            {
                "mean_luma": metrics.mean_luma,
                "bright_fraction": metrics.bright_fraction,
                "sharpness": metrics.sharpness,
            }
        )
        if motion is not None:
            self._values["motion"] = motion
        return self._observe(now, classify_picture(metrics, motion, self._th))

    def observe_connection(self, now: float, metrics: ConnectionMetrics) -> list[QualityEvent]:
        """Connection numbers of one statistics interval."""
        self._values.update(metrics.as_dict())
        return self._observe(now, classify_connection(metrics, self._th))

    def levels(self) -> dict[str, Level]:
        """Current stable level of every measure seen so far."""
        return {m: t.hysteresis.stable for m, t in self._tracks.items()}

    def values(self) -> dict[str, float]:
        """Latest raw value of every measure (and picture helpers such as mean_luma)."""
        return dict(self._values)

    def series(self) -> list[SeriesPoint]:
        return list(self._series)

    def summary(self, now: float) -> QualitySummary:
        rel = now - self._start
        shares: dict[str, dict[Level, float]] = {}
        episodes: list[Episode] = []
        for measure, track in self._tracks.items():
            time_in = dict(track.time_in)
            time_in[track.hysteresis.stable] += max(0.0, rel - track.last_change)
            total = sum(time_in.values())
            shares[measure] = {lv: (t / total if total > 0 else 0.0) for lv, t in time_in.items()}
            episodes += track.episodes
            if track.hysteresis.stable != "ok":
                episodes.append(
                    Episode(
                        measure,
                        track.hysteresis.stable,
                        track.last_change,
                        max(rel, track.last_change),
                    )
                )
        # Bad before warn, then the longest first.
        episodes.sort(key=lambda e: (-LEVEL_RANK[e.level], -e.duration, e.start))
        return QualitySummary(max(0.0, rel), shares, episodes[:WORST_MOMENTS])

    def _observe(self, now: float, levels: dict[str, Level]) -> list[QualityEvent]:
        rel = now - self._start
        events: list[QualityEvent] = []
        for measure, level in levels.items():
            event = self._update(rel, measure, level)
            if event is not None:
                events.append(event)
        self._add_points(rel)
        return events

    def _update(self, rel: float, measure: str, level: Level) -> QualityEvent | None:
        track = self._tracks.get(measure)
        if track is None:
            track = self._tracks[measure] = _Track(first_seen=rel, last_change=rel)
        previous = track.hysteresis.stable
        if not track.hysteresis.update(rel, level, self._th):
            return None
        # The change is dated when it became stable: that is when the participant sees it.
        track.time_in[previous] += rel - track.last_change
        if previous != "ok":
            track.episodes.append(Episode(measure, previous, track.last_change, rel))
        track.last_change = rel
        new = track.hysteresis.stable
        hint = HINT_FOR_MEASURE.get(measure) if new != "ok" else None
        return QualityEvent(rel, measure, new, previous, hint)

    def _add_points(self, rel: float) -> None:
        """One point per whole second; seconds with no sample repeat the last known state."""
        second = int(rel)
        if second <= self._last_point_t:
            return
        values = {k: round(v, 3) for k, v in self._values.items()}
        levels = self.levels()
        for t in range(self._last_point_t + 1, second + 1):
            self._series.append(SeriesPoint(t, values, levels))
        self._last_point_t = second
