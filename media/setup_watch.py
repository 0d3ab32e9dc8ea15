"""Which set-up steps of a call's media were reached, each told once to an observer.

    watch = SetupWatch(on_step)            # on_step(step): e.g. the call's set-up timeline
    watch.offer(side)                      # an SDP offer of that side reached the call
    watch.connection(side, pc)             # that side's new peer connection (state changes)
    watch.participant_video(receiver)      # first RTP packet of the participant's video
    watch.keyframe()                       # a complete participant keyframe was tapped
    track.on_first_read = watch.forwarded  # the officer's sender took its first video frame

Steps (``videocall.app.setup_timeline.SETUP_STEPS``): ``offers_received``, ``ice_checking``,
``ice_connected`` (aiortc's ``completed``), ``dtls_connected`` (connection state
``connected``) count once both sides reached them; ``first_rtp``, ``first_keyframe``,
``first_frame_forwarded`` are the participant's video on its way to the officer. Only the first
set-up counts: a reconnect's steps are not told again. Per-packet cost: none once the first
RTP packet was seen (the receiver's own method is put back).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from aiortc import RTCPeerConnection, RTCRtpReceiver

logger = logging.getLogger(__name__)

BOTH_SIDES = {  # (peer connection attribute, state) -> step, once both sides got there
    ("iceConnectionState", "checking"): "ice_checking",
    ("iceConnectionState", "completed"): "ice_connected",
    ("connectionState", "connected"): "dtls_connected",
}
EVENTS = {
    "iceConnectionState": "iceconnectionstatechange",
    "connectionState": "connectionstatechange",
}
SIDE_COUNT = 2


class SetupWatch:
    def __init__(self, on_step: Callable[[str], None] | None) -> None:
        self._on_step = on_step
        self._told: set[str] = set()
        self._sides: dict[str, set[str]] = {}  # step -> sides that reached it
        self.keyframe_seen = on_step is None  # nothing to tell: the tap need not look

    def offer(self, side: str) -> None:
        self._side_reached("offers_received", side)

    def connection(self, side: str, pc: RTCPeerConnection) -> None:
        if self._on_step is None:
            return
        for (attribute, state), step in BOTH_SIDES.items():
            if step in self._told:
                continue

            def changed(attribute: str = attribute, state: str = state, step: str = step) -> None:
                if getattr(pc, attribute) == state:
                    self._side_reached(step, side)

            pc.on(EVENTS[attribute], changed)

    def participant_video(self, receiver: RTCRtpReceiver) -> None:
        """Tell the first RTP packet the receiver handles, then step out of the way."""
        if self._on_step is None or "first_rtp" in self._told:
            return
        handle = receiver._handle_rtp_packet

        async def first_rtp(packet: Any, arrival_time_ms: int) -> None:
            del receiver._handle_rtp_packet  # the class's method again, for every later packet
            self._tell("first_rtp")
            await handle(packet, arrival_time_ms)

        receiver._handle_rtp_packet = first_rtp  # type: ignore[method-assign]

    def keyframe(self) -> None:
        self.keyframe_seen = True
        self._tell("first_keyframe")

    def forwarded(self) -> None:
        self._tell("first_frame_forwarded")

    def _side_reached(self, step: str, side: str) -> None:
        sides = self._sides.setdefault(step, set())
        sides.add(side)
        if len(sides) == SIDE_COUNT:
            self._tell(step)

    def _tell(self, step: str) -> None:
        if self._on_step is None or step in self._told:
            return
        self._told.add(step)
        try:
            self._on_step(step)
        except Exception:
            logger.exception("set-up observer failed at %s", step)
