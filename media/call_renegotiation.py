"""Video format agreement after the offers (``media.call.MediaCall``): an officer offering
first waits up to ``codec_wait_s`` for the participant's format; a participant offering later
in a format the officer's leg does not use makes the server offer the officer's leg again with
that format alone (``on_reoffer``), answered through ``accept_answer``."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine

from aiortc import RTCRtpCodecParameters, RTCSessionDescription

from media.call_legs import CallLegs, Leg
from media.call_model import Side, other
from media.codecs import describe, mismatch, reoffer_format, same_format
from videocall.errors import Conflict, ValidationError

logger = logging.getLogger(__name__)


class CallRenegotiation(CallLegs):
    # Set by the signalling layer: sends a server offer to a side; the answer comes back
    # through ``accept_answer``.
    on_reoffer: Callable[[Side, str], None] | None
    _offering: dict[Side, Leg]  # legs whose server offer awaits the answer
    _tasks: set[asyncio.Task[None]]

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

    async def _send_offer(self, leg: Leg, fmt: RTCRtpCodecParameters) -> None:
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

    async def _wait_for_participant_video(self) -> None:
        # The officer's answer decides what the officer's browser sends; it must be what the
        # participant's can receive, which only the participant's offer tells.
        try:
            await asyncio.wait_for(self._participant_video.wait(), self._settings.codec_wait_s)
        except TimeoutError:
            logger.info("session %s: no participant video yet, officer answered", self.session_id)
        if self._closed:
            raise Conflict("the call has ended", code="call_closed")
