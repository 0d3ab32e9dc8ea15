"""A supervisor's monitor stand-in: a receive-only aiortc peer (two video, two audio m-lines,
participant first) that keeps the encoded frames of both video streams as they arrive."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from aiortc import RTCBundlePolicy, RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from media.rtc_forward import EncodedFrame, install_tap

SIDES = ("participant", "officer")


class MonitorPeer:
    def __init__(self) -> None:
        # aiortc's balanced policy never starts a second transceiver of a kind (browsers do).
        self.pc = RTCPeerConnection(RTCConfiguration(bundlePolicy=RTCBundlePolicy.MAX_BUNDLE))
        self.video: dict[str, list[bytes]] = {s: [] for s in SIDES}
        self.audio: dict[str, int] = {s: 0 for s in SIDES}
        self.tasks: list[asyncio.Task[Any]] = []
        for _ in SIDES:
            self.pc.addTransceiver("video", direction="recvonly")
            self.pc.addTransceiver("audio", direction="recvonly")

        @self.pc.on("track")
        def on_track(track: MediaStreamTrack) -> None:
            same = [t for t in self.pc.getTransceivers() if t.kind == track.kind]
            index = next(i for i, t in enumerate(same) if t.receiver.track is track)
            side = SIDES[index]
            if track.kind == "video":
                install_tap(same[index].receiver, lambda f, s=side: self._keep(s, f), "monitor")
            else:
                self.tasks.append(asyncio.create_task(self._count(side, track)))

    def _keep(self, side: str, frame: EncodedFrame) -> None:
        self.video[side].append(frame.data)

    async def _count(self, side: str, track: MediaStreamTrack) -> None:
        try:
            while True:
                await track.recv()
                self.audio[side] += 1
        except MediaStreamError:
            pass

    async def connect(self, answer: Callable[[str], Awaitable[tuple[str, str]]]) -> None:
        """Offer; ``answer(sdp)`` returns the server's (sdp, type)."""
        await self.pc.setLocalDescription(await self.pc.createOffer())
        assert self.pc.localDescription is not None
        sdp, type_ = await answer(self.pc.localDescription.sdp)
        await self.pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type=type_))

    async def close(self) -> None:
        await self.pc.close()
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
