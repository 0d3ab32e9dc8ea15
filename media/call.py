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

``MediaCall`` is assembled from its parts: ``media.call_legs`` (each side's connection and the
tap that forwards, fans out, records and analyses its frames), ``media.call_recording``,
``media.call_quality`` (snapshots, quality, weak uplink) and ``media.call_renegotiation`` (the
codec wait, the re-offer and its answer); this module holds the state, the offers and the close.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from media.analysis import FrameAnalyzer
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
from media.call_quality import CallQuality
from media.call_renegotiation import CallRenegotiation
from media.codecs import mismatch, parse_offer, same_format
from media.ice_consent import guard_consent_after_close
from media.rtc_forward import KeyframeRequester, allow_loopback_candidates
from media.setup_watch import SetupWatch
from media.uplink_guard import UplinkGuard
from recording.session import SessionRecorder
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


class MediaCall(CallRenegotiation, CallQuality):
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
        guard_consent_after_close()
        now = self._clock.monotonic()
        self._started = now
        self._monitors = {s: QualityMonitor(settings.thresholds, now) for s in SIDES}
        self._uplink = UplinkGuard(settings.uplink, now)
        # Video tracks whose recording restarts at the next keyframe (after lost frames/a pause).
        self._record_from_key = set()
        self._participant_video = asyncio.Event()  # the participant's video format is known
        self._legs = {}
        self._generation = 0
        self._in_flight: set[Side] = set()
        # A server-initiated re-offer (late participant format): the signalling layer sends
        # ``on_reoffer(side, sdp)`` to that side; its answer comes back through ``accept_answer``.
        self.on_reoffer = None
        self._offering = {}  # legs whose server offer awaits the answer
        self._tasks = set()
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
        self.fanout = {(s, k): [] for s in SIDES for k in KINDS}
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

    async def reconnect(self, side: Side) -> None:
        """Forget a side's connection; its next offer starts a fresh one."""
        await self._drop_leg(side)
        await self._rotate_segment_if_recording()

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
