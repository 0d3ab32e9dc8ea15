"""A supervisor's silent view of a call: a third, receive-only peer connection (from the
watcher's side) to which the server sends the encoded frames of both sides, unchanged.

    monitor = MonitorLeg(call, settings)
    answer_sdp, answer_type = await monitor.accept_offer(sdp, "offer")
    await monitor.close()

The watcher offers up to two video and two audio m-lines, all ``recvonly``; the first of each
kind carries the participant, the second the officer (the order of the offer's m-lines). The
server answers with ``sendonly`` transceivers whose ``ForwardTrack``s are fed by the call's
fan-out (``MediaCall.fanout``): the same ``EncodedFrame`` the other side's connection gets, so
no decoding or encoding. Each video stream starts at a keyframe: the track asks the sender for
one (PLI upstream, rate-limited with the call's own requests) when its sender starts reading,
and again after frames were lost for good or dropped. Nothing goes back from the watcher to
the call: the watcher sends no media, and the two sides never see the monitor's connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from aiortc import (
    RTCBundlePolicy,
    RTCConfiguration,
    RTCIceServer,
    RTCPeerConnection,
    RTCSessionDescription,
)
from aiortc import sdp as aiortc_sdp

from media.call import KINDS, SIDES, MediaCall, MediaSettings, Side
from media.codecs import preferred_codecs
from media.rtc_forward import EncodedFrame, ForwardTrack, hook_keyframe_requests
from videocall.errors import Conflict, ValidationError

logger = logging.getLogger(__name__)

Sink = Callable[[EncodedFrame, int], None]
KEYFRAME_RETRY_S = 1.0  # as the call's own legs (its stats interval)


def _feed(track: ForwardTrack) -> Sink:
    def sink(frame: EncodedFrame, generation: int) -> None:
        if frame.after_gap and not frame.keyframe:
            track.resync()  # frames were lost upstream: go on from the next keyframe
        track.push(frame, generation)

    return sink


class MonitorLeg:
    """One watcher's receive-only connection to one call."""

    def __init__(self, call: MediaCall, settings: MediaSettings) -> None:
        self.call = call
        self.settings = settings
        self.pc: RTCPeerConnection | None = None
        self.tracks: dict[tuple[Side, str], ForwardTrack] = {}
        self._sinks: list[tuple[tuple[Side, str], Sink]] = []
        self._closed = False
        self._retry: asyncio.Task[None] | asyncio.Future[None] | None = None

    async def accept_offer(self, sdp: str, type_: str) -> tuple[str, str]:
        """Answer the watcher's offer; returns (sdp, "answer")."""
        if self._closed:
            raise Conflict("the call has ended", code="call_closed")
        if type_ != "offer":
            raise ValidationError("expected an SDP offer", code="bad_sdp", field="type")
        if self.pc is not None:
            await self._disconnect()  # aiortc has no ICE restart: a new offer, a new connection
        lines = self._lines(sdp)
        # Max-bundle: aiortc's default (balanced) gives a second transceiver of a kind the
        # first one's transport before BUNDLE is applied, and never starts the second audio.
        config = RTCConfiguration(
            iceServers=self._ice_servers(), bundlePolicy=RTCBundlePolicy.MAX_BUNDLE
        )
        pc = RTCPeerConnection(config)
        self.pc = pc
        follow = self.call.video_format("participant") or self.call.video_format("officer")
        for side, kind in lines:
            track = ForwardTrack(kind, self._keyframe_request(side, kind))
            transceiver = pc.addTransceiver(track, direction="sendonly")
            transceiver.setCodecPreferences(preferred_codecs(kind, follow))
            hook_keyframe_requests(transceiver.sender, self._keyframe_request(side, kind))
            self.tracks[(side, kind)] = track
        try:
            await pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="offer"))
            await pc.setLocalDescription(await pc.createAnswer())
        except Exception as exc:
            logger.info("session %s: monitor offer rejected: %r", self.call.session_id, exc)
            await self._disconnect()
            raise ValidationError("the offer cannot be used", code="bad_sdp") from exc
        assert pc.localDescription is not None
        answer = aiortc_sdp.SessionDescription.parse(pc.localDescription.sdp)
        answered = [m for m in answer.media if m.kind in KINDS]
        for (side, kind), media in zip(lines, answered, strict=False):
            if media.rtp.codecs:
                self.tracks[(side, kind)].codec = media.rtp.codecs[0].name
        for key, track in self.tracks.items():
            sink = _feed(track)
            self.call.fanout[key].append(sink)
            self._sinks.append((key, sink))
            if key[1] == "video":
                # Hold from the next keyframe, asked for now, until the sender starts (after
                # ICE and DTLS): its first read then finds the keyframe waiting.
                track.arm()
                self.call.request_keyframe(key[0], "video")
        self._retry = asyncio.ensure_future(self._repeat_keyframe_requests())
        logger.info(
            "session %s: monitor connected (%s)",
            self.call.session_id,
            ", ".join(f"{s} {k}" for s, k in lines),
        )
        return pc.localDescription.sdp, "answer"

    async def close(self) -> None:
        """Stop forwarding and close the connection; safe twice."""
        self._closed = True
        await self._disconnect()

    @property
    def forwarded(self) -> dict[str, int]:
        return {f"{side}-{kind}": t.forwarded for (side, kind), t in self.tracks.items()}

    async def _repeat_keyframe_requests(self) -> None:
        """A PLI can be lost (an outage): ask again while a video stream waits for a keyframe."""
        while True:
            await asyncio.sleep(KEYFRAME_RETRY_S)
            for (side, kind), track in list(self.tracks.items()):
                if kind == "video" and track.waiting_for_keyframe:
                    self.call.request_keyframe(side, kind)

    def _keyframe_request(self, side: Side, kind: str) -> Callable[[], None]:
        def request() -> None:
            if kind == "video":
                self.call.request_keyframe(side, kind)

        return request

    @staticmethod
    def _lines(sdp: str) -> list[tuple[Side, str]]:
        """(side, kind) of each audio/video m-line, in the offer's order."""
        try:
            parsed = aiortc_sdp.SessionDescription.parse(sdp)
        except Exception as exc:
            raise ValidationError("the offer is not valid SDP", code="bad_sdp") from exc
        seen = {kind: 0 for kind in KINDS}
        lines: list[tuple[Side, str]] = []
        for media in parsed.media:
            if media.kind not in KINDS:
                continue
            if seen[media.kind] >= len(SIDES):
                raise ValidationError("a monitor receives two of each kind", code="bad_sdp")
            lines.append((SIDES[seen[media.kind]], media.kind))
            seen[media.kind] += 1
        if not lines:
            raise ValidationError("the offer has no audio or video", code="bad_sdp")
        return lines

    def _ice_servers(self) -> list[RTCIceServer]:
        return [
            RTCIceServer(urls=list(s.urls), username=s.username, credential=s.credential)
            for s in self.settings.ice_servers
        ]

    async def _disconnect(self) -> None:
        retry, self._retry = self._retry, None
        if retry is not None:
            retry.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await retry
        for key, sink in self._sinks:
            if sink in self.call.fanout[key]:
                self.call.fanout[key].remove(sink)
        self._sinks.clear()
        for track in self.tracks.values():
            track.end()
        self.tracks.clear()
        pc, self.pc = self.pc, None
        if pc is not None:
            await pc.close()
