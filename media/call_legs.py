"""One side's peer connection in a call (``media.call.MediaCall``): made and negotiated, its
receivers tapped (encoded frames to the other side's forwarding track, the extra sinks of
``MediaCall.fanout``, the recording and the participant's analysis), closed. Quality events
go out through ``_emit``."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from aiortc import (
    RTCConfiguration,
    RTCIceServer,
    RTCPeerConnection,
    RTCRtpCodecParameters,
    RTCRtpReceiver,
    RTCSessionDescription,
)
from aiortc import sdp as aiortc_sdp

from media.analysis import FrameAnalyzer
from media.call_model import KINDS, MediaSettings, Side, other
from media.codecs import answered_video, describe, only_format, preferred_codecs
from media.rtc_forward import (
    EncodedFrame,
    ForwardTrack,
    KeyframeRequester,
    hook_keyframe_requests,
    install_tap,
)
from media.setup_watch import SetupWatch
from media.stats import StatsSampler
from media.uplink_guard import UplinkGuard
from recording.session import SessionRecorder
from recording.writer import MediaPacket
from videocall.clock import Clock
from videocall.errors import ValidationError
from videocall.quality_monitor import QualityEvent, QualityMonitor

logger = logging.getLogger(__name__)


@dataclass(slots=True)
class Leg:
    """One side's current peer connection."""

    side: Side
    generation: int
    pc: RTCPeerConnection
    forward: dict[str, ForwardTrack]
    receivers: dict[str, RTCRtpReceiver] = field(default_factory=dict)
    codecs: dict[str, str] = field(default_factory=dict)  # kind -> negotiated codec
    video: RTCRtpCodecParameters | None = None  # the negotiated video format
    stats: StatsSampler = field(default_factory=StatsSampler)
    receiving: bool = False
    kinds: list[str] = field(default_factory=list)  # the media kinds negotiated
    offered: list[RTCRtpCodecParameters] = field(default_factory=list)  # video its browser offered


class CallLegs:
    """The connections of a call's two sides; the state is set by ``MediaCall.__init__``."""

    session_id: str
    _settings: MediaSettings
    _on_quality: Callable[[Side, QualityEvent], None] | None
    _setup: SetupWatch
    _clock: Clock
    _started: float
    _monitors: dict[Side, QualityMonitor]
    _uplink: UplinkGuard
    _record_from_key: set[str]  # video tracks recorded again from their next keyframe
    _participant_video: asyncio.Event
    _legs: dict[Side, Leg]
    _generation: int
    _pli: dict[tuple[Side, str], KeyframeRequester]
    _recorder: SessionRecorder
    _analyzer: FrameAnalyzer
    forward_totals: dict[str, dict[str, int]]
    fanout: dict[tuple[Side, str], list[Callable[[EncodedFrame, int], None]]]
    _closed: bool

    def _new_leg(
        self,
        side: Side,
        kinds: list[str],
        follow: RTCRtpCodecParameters | None,
        only: bool = False,
    ) -> Leg:
        self._generation += 1
        servers = [
            RTCIceServer(urls=list(s.urls), username=s.username, credential=s.credential)
            for s in self._settings.ice_servers
        ]
        pc = RTCPeerConnection(RTCConfiguration(iceServers=servers))
        forward = {k: ForwardTrack(k, self._pli[(other(side), k)].request) for k in KINDS}
        leg = Leg(side, self._generation, pc, forward, kinds=list(kinds))
        # One transceiver per offered m-line, created before the offer is applied so that our
        # codec preferences (VP8 first) decide the answer, not the order the offer lists.
        for kind in kinds:
            transceiver = pc.addTransceiver(forward[kind], direction="sendrecv")
            transceiver.setCodecPreferences(
                only_format(kind, follow)
                if only and follow is not None
                else preferred_codecs(kind, follow)
            )
            hook_keyframe_requests(transceiver.sender, self._pli[(other(side), kind)].request)
            if kind == "video" and side == "participant":
                self._setup.participant_video(transceiver.receiver)
        if side == "officer":
            forward["video"].on_first_read = self._setup.forwarded
        self._setup.connection(side, pc)
        # Hold the other side's video from its next keyframe until this sender starts (after
        # ICE and DTLS), and ask for that keyframe now: the first frame then goes out at once.
        forward["video"].arm()
        self._pli[(other(side), "video")].request()

        @pc.on("track")
        def on_track(track: object) -> None:
            # Synchronous on purpose: the tap must be in place before receive() starts.
            for t in pc.getTransceivers():
                if t.receiver.track is track:
                    self._tap(leg, t.kind, t.receiver)

        @pc.on("connectionstatechange")
        def on_state() -> None:
            logger.info("session %s: %s connection %s", self.session_id, side, pc.connectionState)

        self._legs[side] = leg
        return leg

    async def _negotiate(self, leg: Leg, sdp: str) -> None:
        try:
            await leg.pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="offer"))
            await leg.pc.setLocalDescription(await leg.pc.createAnswer())
        except Exception as exc:
            # aiortc raises ValueError, OperationError, KeyError... for offers it cannot use.
            logger.info(
                "session %s: %s offer rejected: %s", self.session_id, leg.side, type(exc).__name__
            )
            await self._drop_leg(leg.side)
            raise ValidationError("the offer cannot be used", code="bad_sdp") from exc
        assert leg.pc.localDescription is not None
        self._note_codecs(leg, leg.pc.localDescription.sdp)

    def _note_codecs(self, leg: Leg, answer_sdp: str) -> None:
        """What the answer (ours, or the browser's to a re-offer) made each kind use."""
        answer = aiortc_sdp.SessionDescription.parse(answer_sdp)
        for media in answer.media:
            if media.kind in KINDS and media.rtp.codecs:
                leg.codecs[media.kind] = media.rtp.codecs[0].name
                leg.forward[media.kind].codec = media.rtp.codecs[0].name
        leg.video = answered_video(answer_sdp)
        if leg.side == "participant" and leg.video is not None:
            self._participant_video.set()
        logger.info(
            "session %s: %s negotiated %s%s",
            self.session_id,
            leg.side,
            leg.codecs,
            f" ({describe(leg.video)})" if leg.video is not None else "",
        )

    def _video_format(self, side: Side) -> RTCRtpCodecParameters | None:
        leg = self._legs.get(side)
        return leg.video if leg is not None else None

    def _tap(self, leg: Leg, kind: str, receiver: RTCRtpReceiver) -> None:
        leg.receivers[kind] = receiver
        self._pli[(leg.side, kind)].set_upstream(receiver)
        track_name = f"{leg.side}-{kind}"
        analysed = leg.side == "participant" and kind == "video"
        fanout = self.fanout[(leg.side, kind)]
        keyframes = self._pli[(leg.side, kind)] if kind == "video" else None

        def sink(frame: EncodedFrame) -> None:
            leg.receiving = True
            leg.stats.counter.add(frame)
            if keyframes is not None and frame.keyframe:
                keyframes.keyframe_arrived()  # PLIs asked before it were answered
            if analysed:
                self._uplink.count_video(len(frame.data))
                if frame.keyframe and not self._setup.keyframe_seen:
                    self._setup.keyframe()
            target = self._legs.get(other(leg.side))
            if frame.after_gap and not frame.keyframe:
                # Frames were lost for good (an outage); aiortc has asked for a keyframe.
                self._record_from_key.add(track_name)
                if target is not None:
                    target.forward[kind].resync()
            if target is not None:
                target.forward[kind].push(frame, leg.generation)
            for extra in fanout:
                extra(frame, leg.generation)
            if self._recorder.recording and self._records(track_name, analysed, frame):
                self._recorder.write(
                    MediaPacket(
                        track_name,
                        frame.data,
                        frame.timestamp,
                        frame.clock_rate,
                        frame.keyframe,
                        self._clock.monotonic(),
                    )
                )
            if analysed:
                self._analyzer.feed(frame, leg.generation)

        install_tap(receiver, sink, self.session_id)

    def _records(self, track: str, participant_video: bool, frame: EncodedFrame) -> bool:
        """Whether a frame goes into the recording: participant video is left out while paused
        on a weak uplink (the gap shows); video restarts at a keyframe after a pause or loss."""
        if participant_video and self._uplink.paused:
            return False
        if track in self._record_from_key:
            if not frame.keyframe:
                return False
            self._record_from_key.discard(track)
        return True

    async def _drop_leg(self, side: Side) -> None:
        leg = self._legs.pop(side, None)
        if leg is None:
            return
        for kind in KINDS:
            self._pli[(side, kind)].set_upstream(None)
            track = leg.forward.get(kind)
            if track is not None:
                totals = self.forward_totals[kind]
                totals["forwarded"] += track.forwarded
                totals["dropped"] += track.dropped
        await leg.pc.close()
        logger.info("session %s: %s connection closed", self.session_id, side)

    def _emit(self, side: Side, events: list[QualityEvent]) -> None:
        for event in events:
            logger.info(
                "session %s: %s %s %s -> %s",
                self.session_id,
                side,
                event.measure,
                event.previous,
                event.level,
            )
            if self._on_quality is not None:
                try:
                    self._on_quality(side, event)
                except Exception:
                    logger.exception("session %s: on_quality callback failed", self.session_id)
