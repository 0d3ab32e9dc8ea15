"""Snapshots and live quality of a call (``media.call.MediaCall``): the participant's picture
measures, both sides' connection measures polled every ``stats_interval_s``, the weak-uplink
pause of the participant's video."""

from __future__ import annotations

import asyncio
import logging

from aiortc import RTCRtpCodecParameters

from media.analysis import PictureSample, Snapshot, save_snapshot
from media.call_model import Side
from media.call_recording import CallRecording
from media.codecs import describe
from videocall.errors import Conflict, ValidationError
from videocall.quality_monitor import QualityEvent

logger = logging.getLogger(__name__)


class CallQuality(CallRecording):
    _snapshots: int  # snapshots taken, for their file names

    async def snapshot(self, kind: str) -> Snapshot:
        """Save the latest participant frame (full resolution JPEG + thumbnail, scored)."""
        if self._uplink.paused:
            raise Conflict(
                "video is paused on a weak uplink; take snapshots once it is back",
                code="video_paused",
            )
        frame = self._analyzer.latest_frame()
        if frame is None:
            raise Conflict("no participant video yet", code="no_video")
        self._snapshots += 1
        name = f"{self.session_id}-{self._snapshots:03d}-{kind}"
        directory = self._settings.snapshot_dir or self._settings.recording_dir / "snapshots"
        try:
            snap = await asyncio.to_thread(
                save_snapshot, frame, kind, directory, name, self._settings.thresholds
            )
        except ValueError as exc:
            raise ValidationError(str(exc), code="bad_snapshot_kind", field="kind") from exc
        logger.info(
            "session %s: snapshot %s saved %dx%d", self.session_id, kind, snap.width, snap.height
        )
        return snap

    def video_format(self, side: Side) -> RTCRtpCodecParameters | None:
        """The video format a side's connection negotiated (for a monitor to answer with)."""
        return self._video_format(side)

    def request_keyframe(self, side: Side, kind: str = "video") -> None:
        """Ask a side's sender for a keyframe (rate-limited PLI): a new subscriber."""
        self._pli[(side, kind)].request()

    def video_codec(self, side: Side) -> str | None:
        """The video format a side's connection negotiated (``VP8``, ``H264 42e01f``)."""
        video = self._video_format(side)
        return describe(video) if video is not None else None

    def quality_levels(self, side: Side) -> dict[str, str]:
        """Current stable class of each measure of a side."""
        return dict(self._monitors[side].levels())

    def quality_values(self, side: Side) -> dict[str, float]:
        """Latest raw measures of a side (packet_loss %, fps, mean_luma, ...)."""
        return self._monitors[side].values()

    def _on_picture(self, sample: PictureSample) -> None:
        if self._closed:
            return
        now = self._clock.monotonic()
        self._emit(
            "participant",
            self._monitors["participant"].observe_picture(now, sample.metrics, sample.motion),
        )

    async def _poll_stats(self) -> None:
        while True:
            await asyncio.sleep(self._settings.stats_interval_s)
            self._repeat_keyframe_requests()
            for side, leg in list(self._legs.items()):
                if not leg.receiving:
                    continue  # nothing to judge before media flows
                now = self._clock.monotonic()
                metrics = await leg.stats.sample(now, leg.pc, list(leg.receivers.values()))
                if metrics is not None:
                    self._emit(side, self._monitors[side].observe_connection(now, metrics))
                if metrics is not None and side == "participant" and "video" in leg.receivers:
                    self._on_uplink(self._uplink.observe(now, metrics))

    def _on_uplink(self, event: QualityEvent | None) -> None:
        if event is None:
            return
        paused = event.level != "ok"
        logger.info(
            "session %s: participant uplink %s",
            self.session_id,
            "too weak for video, audio only" if paused else "carries video again",
        )
        for leg in self._legs.values():
            if paused:
                leg.forward["video"].pause()
            else:
                leg.forward["video"].resume()
        if not paused:
            self._record_from_key.add("participant-video")
            self._pli[("participant", "video")].request()
        self._emit("participant", [event])
