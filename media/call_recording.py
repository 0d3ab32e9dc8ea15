"""The recording of a call (``media.call.MediaCall``): started once consent is recorded, a new
segment on every reconnect, each video track from a keyframe (asked for, and asked again while
one is awaited)."""

from __future__ import annotations

from pathlib import Path

from media.call_legs import CallLegs
from media.call_model import KINDS, SIDES, other
from recording.writer import SegmentInfo, TrackSpec
from videocall.errors import Conflict


class CallRecording(CallLegs):
    def start_recording(self) -> Path:
        """Start recording (the caller has checked consent); returns the segment path."""
        if self._recorder.recording:
            raise Conflict("already recording", code="already_recording")
        path = self._recorder.start_segment(self._track_specs(), self._clock.monotonic())
        self._request_video_keyframes()
        return path

    async def stop_recording(self) -> SegmentInfo | None:
        return await self._recorder.close_segment(self._clock.monotonic())

    def _track_specs(self) -> list[TrackSpec]:
        specs = []
        for side in SIDES:
            leg = self._legs.get(side)
            codecs = leg.codecs if leg is not None else {}
            for kind in KINDS:
                codec = codecs.get(kind, "VP8" if kind == "video" else "opus")
                specs.append(TrackSpec(f"{side}-{kind}", kind, codec))  # type: ignore[arg-type]
        return specs

    async def _rotate_segment_if_recording(self) -> None:
        if self._recorder.recording:
            await self._recorder.close_segment(self._clock.monotonic())
            self._recorder.start_segment(self._track_specs(), self._clock.monotonic())
            self._request_video_keyframes()

    def _request_video_keyframes(self) -> None:
        # A segment can only start at a keyframe, and browsers send one only when asked.
        for side in SIDES:
            self._record_from_key.add(f"{side}-video")
            self._pli[(side, "video")].request()

    def _repeat_keyframe_requests(self) -> None:
        """A PLI can be lost too (an outage): ask again while a recording or a receiving side
        still waits for a keyframe."""
        waiting = {side for side in SIDES if f"{side}-video" in self._record_from_key}
        if not self._recorder.recording:
            waiting.clear()
        for leg in self._legs.values():
            if leg.forward["video"].waiting_for_keyframe:
                waiting.add(other(leg.side))
        for side in waiting:
            self._pli[(side, "video")].request()
