"""The weak-uplink rule: when a participant's uplink cannot carry usable video for a while, the
call goes on as audio; video comes back by itself once the link carries it again.

Pure and clock-free: the caller feeds one sample per statistics interval with ``now`` (seconds
on any monotonic scale)::

    uplink = WeakUplink(UplinkRule(pause_after_s=10), start=now)
    change = uplink.observe(now, UplinkSample(fps=2.0, video_kbps=40.0, loss_pct=25.0))
    if change == "paused": ...      # stop forwarding video, tell both sides
    if change == "resumed": ...     # ask for a keyframe, forward again, clear the message
    uplink.pauses(now)              # [(start, end), ...] seconds since start, for the summary

"Usable" means at least ``min_fps`` frames a second, ``min_video_kbps`` of video and at most
``max_loss_pct`` loss in one interval. Video is paused once no interval has been usable for
``pause_after_s``, and resumed once every interval has been usable for ``resume_after_s``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

State = Literal["video", "audio_only"]
Change = Literal["paused", "resumed"]


@dataclass(frozen=True, slots=True)
class UplinkRule:
    pause_after_s: float = 10.0  # setting WEAK_UPLINK_SECONDS
    resume_after_s: float = 3.0
    min_fps: float = 5.0
    min_video_kbps: float = 60.0
    max_loss_pct: float = 20.0

    def usable(self, sample: UplinkSample) -> bool:
        return (
            sample.fps >= self.min_fps
            and sample.video_kbps >= self.min_video_kbps
            and sample.loss_pct <= self.max_loss_pct
        )


@dataclass(frozen=True, slots=True)
class UplinkSample:
    fps: float  # video frames received per second
    video_kbps: float  # video bitrate received
    loss_pct: float  # packets lost on the way to the server


@dataclass(slots=True)
class WeakUplink:
    rule: UplinkRule
    start: float
    state: State = "video"
    # Since when the current run of unusable (in video) or usable (in audio only) intervals lasts.
    _run_since: float | None = None
    _paused_at: float | None = None
    _pauses: list[tuple[float, float]] = field(default_factory=list)

    def observe(self, now: float, sample: UplinkSample) -> Change | None:
        """One statistics interval; returns the change of state it causes, if any."""
        usable = self.rule.usable(sample)
        # In video we look for a run of unusable intervals, in audio only for a usable run.
        if usable == (self.state == "video"):
            self._run_since = None
            return None
        if self._run_since is None:
            self._run_since = now
        held = now - self._run_since
        if self.state == "video" and held >= self.rule.pause_after_s:
            return self._switch(now, "audio_only")
        if self.state == "audio_only" and held >= self.rule.resume_after_s:
            return self._switch(now, "video")
        return None

    def no_media(self, now: float) -> Change | None:
        """An interval in which nothing at all arrived (an outage): as unusable as it gets."""
        return self.observe(now, UplinkSample(0.0, 0.0, 100.0))

    def pauses(self, now: float) -> list[tuple[float, float]]:
        """Audio-only stretches as (start, end) seconds since ``start``; an open one ends now."""
        spans = list(self._pauses)
        if self._paused_at is not None:
            spans.append((self._paused_at, now))
        return [(a - self.start, b - self.start) for a, b in spans]

    def _switch(self, now: float, state: State) -> Change:
        self.state = state
        self._run_since = None
        if state == "audio_only":
            self._paused_at = now
            return "paused"
        assert self._paused_at is not None
        self._pauses.append((self._paused_at, now))
        self._paused_at = None
        return "resumed"
