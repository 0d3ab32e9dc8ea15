"""The media of one call: two server-side peer connections, encoded forwarding, recording,
quality sampling. The signaling layer drives it; it knows nothing of sockets.

    call = MediaCall(session_id, settings, on_quality=emit_hint)
    answer_sdp, answer_type = await call.accept_offer("participant", sdp, "offer")
    answer_sdp, answer_type = await call.accept_offer("officer", sdp, "offer")
    call.start_recording()            # only after the participant's consent is recorded
    snap = await call.snapshot("id_card")   # latest participant frame, full resolution
    await call.reconnect("participant")     # socket came back: next offer gets a new PC
    summary = await call.close()      # CallSummary: segments (sha256, duration), quality

- ``accept_offer`` raises ``ValidationError(code="bad_sdp")`` for an unusable offer and
  ``Conflict(code="offer_in_flight")`` while an offer of that side is being answered. An offer
  on a side that already has a connection replaces it (aiortc has no ICE restart): that is a
  reconnect, and a running recording continues in a new segment.
- ``on_quality(side, QualityEvent)`` is called on the event loop when a measure's stable class
  changes; ``event.hint`` is a hint code (``videocall.quality.hint_text``) or None to clear.
  Picture measures exist for the participant only; connection measures for both sides.
- Media is forwarded as received (VP8 preferred, Opus; H.264 when a side offers nothing else).
  Both sides must use the same video format: the participant's leads (``media.codecs``); an
  officer's offer that comes first waits up to ``codec_wait_s`` for it. Offers that cannot
  share a format are refused with ``video_codec_mismatch`` (and both sides are told through a
  ``video_codec`` quality event), offers with no usable video format with
  ``video_codec_unsupported``; never black video. A participant offering after that wait in a
  format the officer's leg does not use (but its browser offered) is answered in it, and the
  officer's leg is replaced by one the server offers with that format alone: ``on_reoffer(side,
  sdp)`` (set by the signalling layer) sends the offer, ``accept_answer`` takes the answer.
- Weak uplink (``videocall.uplink``): when the participant's video is unusable for
  ``uplink.pause_after_s`` the call goes on as audio: video is neither forwarded (either way)
  nor recorded, ``snapshot`` raises ``Conflict(code="video_paused")``, and a ``video`` quality
  event with hint ``weak_uplink`` goes to both sides; video resumes at a keyframe by itself.
- Time comes from the injected ``Clock``; the settings are a plain frozen dataclass.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path

from aiortc import (
    RTCConfiguration,
    RTCIceServer,
    RTCPeerConnection,
    RTCRtpCodecParameters,
    RTCRtpReceiver,
    RTCSessionDescription,
)
from aiortc import sdp as aiortc_sdp

from media.analysis import FrameAnalyzer, PictureSample, Snapshot, save_snapshot
from media.call_model import (
    KINDS,
    SIDES,
    CallSummary,
    IceServer,
    MediaSettings,
    Side,
    SideQuality,
    other,
)
from media.codecs import (
    answered_video,
    describe,
    mismatch,
    only_format,
    parse_offer,
    preferred_codecs,
    reoffer_format,
    same_format,
)
from media.rtc_forward import (
    EncodedFrame,
    ForwardTrack,
    KeyframeRequester,
    allow_loopback_candidates,
    hook_keyframe_requests,
    install_tap,
)
from media.setup_watch import SetupWatch
from media.stats import StatsSampler
from media.uplink_guard import UplinkGuard
from recording.session import SessionRecorder
from recording.writer import MediaPacket, SegmentInfo, TrackSpec
from videocall.clock import Clock, SystemClock
from videocall.errors import Conflict, ValidationError
from videocall.quality_monitor import QualityEvent, QualityMonitor

logger = logging.getLogger(__name__)

__all__ = [
    "KINDS",
    "SIDES",
    "CallSummary",
    "IceServer",
    "MediaCall",
    "MediaSettings",
    "Side",
    "SideQuality",
    "other",
]


@dataclass(slots=True)
class _Leg:
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


class MediaCall:
    def __init__(
        self,
        session_id: str,
        settings: MediaSettings,
        on_quality: Callable[[Side, QualityEvent], None] | None = None,
        clock: Clock | None = None,
        on_setup: Callable[[str], None] | None = None,
    ) -> None:
        self.session_id = session_id
        self._settings = settings
        self._on_quality = on_quality
        # Set-up steps (offers, ICE, DTLS, first RTP/keyframe/forwarded), each told once.
        self._setup = SetupWatch(on_setup)
        self._clock = clock or SystemClock()
        if settings.allow_loopback:
            allow_loopback_candidates(True)
        now = self._clock.monotonic()
        self._started = now
        self._monitors = {s: QualityMonitor(settings.thresholds, now) for s in SIDES}
        self._uplink = UplinkGuard(settings.uplink, now)
        # Video tracks whose recording restarts at the next keyframe (after lost frames/a pause).
        self._record_from_key: set[str] = set()
        self._participant_video = asyncio.Event()  # the participant's video format is known
        self._legs: dict[Side, _Leg] = {}
        self._generation = 0
        self._in_flight: set[Side] = set()
        # A server-initiated re-offer (late participant format): the signalling layer sends
        # ``on_reoffer(side, sdp)`` to that side; its answer comes back through ``accept_answer``.
        self.on_reoffer: Callable[[Side, str], None] | None = None
        self._offering: dict[Side, _Leg] = {}  # legs whose server offer awaits the answer
        self._tasks: set[asyncio.Task[None]] = set()
        self._pli = {
            (s, k): KeyframeRequester(
                session_id, self._clock.monotonic, settings.pli_min_interval_s
            )
            for s in SIDES
            for k in KINDS
        }
        self._recorder = SessionRecorder(settings.recording_dir, session_id)
        self._analyzer = FrameAnalyzer(
            session_id,
            settings.sample_fps,
            self._on_picture,
            self._pli[("participant", "video")].request,
            asyncio.get_running_loop(),
        )
        self._snapshots = 0
        # Frames forwarded to / dropped for each side's connection, summed over reconnects.
        self.forward_totals = {k: {"forwarded": 0, "dropped": 0} for k in KINDS}
        # Extra receivers of each side's encoded frames, by (side, kind): a supervisor's
        # monitor (``media.monitor``). Each gets (frame, source generation).
        self.fanout: dict[tuple[Side, str], list[Callable[[EncodedFrame, int], None]]] = {
            (s, k): [] for s in SIDES for k in KINDS
        }
        self._closed = False
        self._summary: CallSummary | None = None
        self._stats_task = asyncio.create_task(self._poll_stats())

    # --- signaling API ---------------------------------------------------------------------

    async def accept_offer(self, side: Side, sdp: str, type_: str) -> tuple[str, str]:
        """Answer a side's offer with a new peer connection; returns (sdp, "answer")."""
        if self._closed:
            raise Conflict("the call has ended", code="call_closed")
        if type_ != "offer":
            raise ValidationError("expected an SDP offer", code="bad_sdp", field="type")
        if side in self._in_flight:
            raise Conflict("an offer is already being answered", code="offer_in_flight")
        self._in_flight.add(side)
        self._offering.pop(side, None)  # a browser's own offer replaces a pending re-offer
        self._setup.offer(side)
        try:
            offer = parse_offer(sdp)
            if side == "officer" and offer.video and "participant" not in self._legs:
                await self._wait_for_participant_video()
            follow = self._video_format(other(side))
            switch = None  # the officer's leg is offered again in the late participant's format
            if follow is not None and offer.video:
                if not any(same_format(follow, c) for c in offer.video):
                    switch = self._switchable(side, offer.video)
                    follow = switch or follow
                if switch is None and not any(same_format(follow, c) for c in offer.video):
                    at = self._clock.monotonic() - self._started
                    event, error = mismatch(side, follow, offer.video, at)
                    logger.info("session %s: %s", self.session_id, error.message)
                    self._emit("participant", [event])  # told to both sides
                    raise error
            await self._drop_leg(side)
            leg = self._new_leg(side, offer.kinds, follow)
            leg.offered = offer.video
            await self._negotiate(leg, sdp)
            if switch is not None:
                await self._reoffer(other(side), switch)
            await self._rotate_segment_if_recording()
            assert leg.pc.localDescription is not None
            return leg.pc.localDescription.sdp, "answer"
        finally:
            self._in_flight.discard(side)

    async def accept_answer(self, side: Side, sdp: str, type_: str) -> None:
        """A side's answer to the server's re-offer (``on_reoffer``). Raises
        ``video_codec_mismatch`` (both sides told) when it does not take the other side's
        format, ``no_offer_pending`` when no re-offer waits (replaced by the side's own offer)."""
        if type_ != "answer":
            raise ValidationError("expected an SDP answer", code="bad_sdp", field="type")
        leg = self._offering.pop(side, None)
        if leg is None or self._legs.get(side) is not leg:
            raise Conflict("no offer of the server awaits an answer", code="no_offer_pending")
        follow = self._video_format(other(side))
        try:
            await leg.pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="answer"))
            self._note_codecs(leg, sdp)
        except Exception as exc:  # aiortc: no common codec left (a rejected video m-line)
            logger.info("session %s: %s answer rejected: %r", self.session_id, side, exc)
            leg.video = None
        if follow is not None and (leg.video is None or not same_format(follow, leg.video)):
            await self._drop_leg(side)
            at = self._clock.monotonic() - self._started
            event, error = mismatch(side, follow, [leg.video] if leg.video else [], at)
            logger.info("session %s: %s", self.session_id, error.message)
            self._emit("participant", [event])
            raise error

    def _switchable(
        self, side: Side, offered: list[RTCRtpCodecParameters]
    ) -> RTCRtpCodecParameters | None:
        """A late participant's format the officer's browser also offered, when the officer's
        leg can be offered again (the signalling layer sends re-offers)."""
        officer = self._legs.get("officer")
        if side != "participant" or officer is None or self.on_reoffer is None:
            return None
        return reoffer_format(offered, officer.offered)

    async def _reoffer(self, side: Side, fmt: RTCRtpCodecParameters) -> None:
        """Replace a side's connection by one the server offers with ``fmt`` alone. The new
        leg counts as using ``fmt`` at once (the recording's next segment says so); the offer
        is made and sent in the background."""
        old = self._legs.get(side)
        if old is None or self.on_reoffer is None:
            return
        kinds, offered = old.kinds, old.offered
        await self._drop_leg(side)
        leg = self._new_leg(side, kinds, fmt, only=True)
        leg.offered = offered
        leg.codecs["video"] = leg.forward["video"].codec = fmt.name
        self._spawn(self._send_offer(leg, fmt))

    async def _send_offer(self, leg: _Leg, fmt: RTCRtpCodecParameters) -> None:
        await leg.pc.setLocalDescription(await leg.pc.createOffer())
        assert leg.pc.localDescription is not None
        if self._legs.get(leg.side) is not leg or self.on_reoffer is None:
            return  # the side offered again meanwhile
        self._offering[leg.side] = leg
        logger.info(
            "session %s: %s offered again with %s", self.session_id, leg.side, describe(fmt)
        )
        self.on_reoffer(leg.side, leg.pc.localDescription.sdp)

    def _spawn(self, coro: Coroutine[object, object, None]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)

        def done(t: asyncio.Task[None]) -> None:
            self._tasks.discard(t)
            if not t.cancelled() and t.exception() is not None:
                logger.error("session %s: re-offer failed", self.session_id, exc_info=t.exception())

        task.add_done_callback(done)

    async def reconnect(self, side: Side) -> None:
        """Forget a side's connection; its next offer starts a fresh one."""
        await self._drop_leg(side)
        await self._rotate_segment_if_recording()

    def start_recording(self) -> Path:
        """Start recording (the caller has checked consent); returns the segment path."""
        if self._recorder.recording:
            raise Conflict("already recording", code="already_recording")
        path = self._recorder.start_segment(self._track_specs(), self._clock.monotonic())
        self._request_video_keyframes()
        return path

    async def stop_recording(self) -> SegmentInfo | None:
        return await self._recorder.close_segment(self._clock.monotonic())

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

    async def close(self) -> CallSummary:
        """Close both connections, finish the recording; returns the summary. Safe twice."""
        if self._summary is not None:
            return self._summary
        self._closed = True
        for task in list(self._tasks):
            task.cancel()
        self._stats_task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._stats_task
        for side in SIDES:
            await self._drop_leg(side)
        for requester in self._pli.values():
            requester.close()
        # aiortc cancels its own tasks on close without awaiting them; let them unwind.
        for _ in range(3):
            await asyncio.sleep(0)
        await asyncio.to_thread(self._analyzer.close)
        await self._recorder.close_segment(self._clock.monotonic())
        now = self._clock.monotonic()
        quality = {s: SideQuality(m.series(), m.summary(now)) for s, m in self._monitors.items()}
        series, summary = self._uplink.annotate(
            quality["participant"].series, quality["participant"].summary, now
        )
        quality["participant"] = SideQuality(series, summary)
        self._summary = CallSummary(
            self.session_id,
            list(self._recorder.segments),
            [g.seconds for g in self._recorder.gaps()],
            quality,
            self._uplink.pauses(now),
        )
        logger.info("session %s: media closed", self.session_id)
        return self._summary

    # --- connections -----------------------------------------------------------------------

    def _new_leg(
        self,
        side: Side,
        kinds: list[str],
        follow: RTCRtpCodecParameters | None,
        only: bool = False,
    ) -> _Leg:
        self._generation += 1
        servers = [
            RTCIceServer(urls=list(s.urls), username=s.username, credential=s.credential)
            for s in self._settings.ice_servers
        ]
        pc = RTCPeerConnection(RTCConfiguration(iceServers=servers))
        forward = {k: ForwardTrack(k, self._pli[(other(side), k)].request) for k in KINDS}
        leg = _Leg(side, self._generation, pc, forward, kinds=list(kinds))
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

    async def _negotiate(self, leg: _Leg, sdp: str) -> None:
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

    def _note_codecs(self, leg: _Leg, answer_sdp: str) -> None:
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

    async def _wait_for_participant_video(self) -> None:
        # The officer's answer decides what the officer's browser sends; it must be what the
        # participant's can receive, which only the participant's offer tells.
        try:
            await asyncio.wait_for(self._participant_video.wait(), self._settings.codec_wait_s)
        except TimeoutError:
            logger.info("session %s: no participant video yet, officer answered", self.session_id)
        if self._closed:
            raise Conflict("the call has ended", code="call_closed")

    def _tap(self, leg: _Leg, kind: str, receiver: RTCRtpReceiver) -> None:
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

    # --- recording -------------------------------------------------------------------------

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

    # --- quality ---------------------------------------------------------------------------

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
