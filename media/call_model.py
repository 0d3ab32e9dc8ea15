"""The media call's settings and its end-of-call summary: plain values, no aiortc."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from recording.writer import SegmentInfo
from videocall.quality import QualityThresholds
from videocall.quality_monitor import QualitySummary, SeriesPoint
from videocall.uplink import UplinkRule

Side = Literal["participant", "officer"]
SIDES: tuple[Side, Side] = ("participant", "officer")
KINDS = ("audio", "video")


def other(side: Side) -> Side:
    return "officer" if side == "participant" else "participant"


@dataclass(frozen=True, slots=True)
class IceServer:
    urls: tuple[str, ...]
    username: str | None = None
    credential: str | None = None


@dataclass(frozen=True, slots=True)
class MediaSettings:
    recording_dir: Path
    snapshot_dir: Path | None = None  # default: recording_dir / "snapshots"
    sample_fps: float = 2.0  # participant frames measured per second
    stats_interval_s: float = 1.0
    thresholds: QualityThresholds = field(default_factory=QualityThresholds)
    ice_servers: tuple[IceServer, ...] = ()
    allow_loopback: bool = False  # offer 127.0.0.1 candidates (tests, one-machine demo)
    pli_min_interval_s: float = 0.5
    uplink: UplinkRule = field(default_factory=UplinkRule)
    codec_wait_s: float = 5.0  # an officer offering first waits this long for the participant


@dataclass(frozen=True, slots=True)
class SideQuality:
    series: list[SeriesPoint]
    summary: QualitySummary


@dataclass(frozen=True, slots=True)
class CallSummary:
    session_id: str
    segments: list[SegmentInfo]
    gaps_s: list[float]
    quality: dict[Side, SideQuality]
    video_paused_s: list[tuple[float, float]] = field(default_factory=list)  # weak uplink

    def as_dict(self) -> dict[str, object]:
        return {
            "session_id": self.session_id,
            "segments": [s.as_dict() for s in self.segments],
            "gaps_s": [round(g, 2) for g in self.gaps_s],
            "video_paused_s": [[round(a, 2), round(b, 2)] for a, b in self.video_paused_s],
            "quality": {
                side: {
                    "summary": q.summary.as_dict(),
                    "series": [{"t": p.t, **p.values} for p in q.series],
                }
                for side, q in self.quality.items()
            },
        }
