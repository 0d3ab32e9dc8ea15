"""How the benchmark's client peers get their calls set up by the server under test.

``MediaOnlySetup`` talks to ``bench.media_server`` (media classes only, no signalling);
``SignallingSetup`` goes through the real server's HTTP API and Socket.IO (``bench.signalling``).
Both return the moment the officer accepted, for the accept -> first frame figure.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Protocol

import aiohttp
from aiortc import RTCPeerConnection, RTCSessionDescription


@dataclass(frozen=True, slots=True)
class SetupTimes:
    accept_at: float  # time.monotonic() when the officer accepted
    told_ms: float | None = None  # accept -> both sides had their pairing message
    # Signalling steps of the set-up timeline (step -> time.monotonic()), when the set-up has them.
    marks: dict[str, float] = field(default_factory=dict)


# Awaited by a call once it is prepared (registered, logged in, sockets open), just before the
# accept: ``--at-once`` makes every call of a run wait there, then all accept together.
Gate = Callable[[], Awaitable[None]]


class CallSetup(Protocol):
    async def connect(
        self,
        call_id: str,
        participant: RTCPeerConnection,
        officer: RTCPeerConnection,
        gate: Gate | None = None,
    ) -> SetupTimes:
        """Pair, negotiate both sides, start recording."""

    async def close(self, call_ids: list[str]) -> None: ...


async def local_offer(pc: RTCPeerConnection) -> str:
    await pc.setLocalDescription(await pc.createOffer())
    assert pc.localDescription is not None
    return pc.localDescription.sdp


class MediaOnlySetup:
    def __init__(self, url: str) -> None:
        self._url = url.rstrip("/")
        self._http: aiohttp.ClientSession | None = None

    def _session(self) -> aiohttp.ClientSession:
        if self._http is None:
            self._http = aiohttp.ClientSession()
        return self._http

    async def _post(self, path: str, body: dict[str, str]) -> dict[str, str]:
        async with self._session().post(self._url + path, json=body) as response:
            response.raise_for_status()
            data: dict[str, str] = await response.json()
            return data

    async def _negotiate(self, call_id: str, side: str, pc: RTCPeerConnection) -> None:
        sdp = await local_offer(pc)
        answer = await self._post("/offer", {"call": call_id, "side": side, "sdp": sdp})
        await pc.setRemoteDescription(RTCSessionDescription(answer["sdp"], answer["type"]))

    async def connect(
        self,
        call_id: str,
        participant: RTCPeerConnection,
        officer: RTCPeerConnection,
        gate: Gate | None = None,
    ) -> SetupTimes:
        if gate is not None:
            await gate()
        accept_at = time.monotonic()  # both sides learn of the pairing now, then offer
        await self._negotiate(call_id, "participant", participant)
        await self._negotiate(call_id, "officer", officer)
        if not os.environ.get("BENCH_NO_RECORDING"):  # to measure what recording costs
            await self._post("/record", {"call": call_id})
        return SetupTimes(accept_at)

    async def close(self, call_ids: list[str]) -> None:
        await asyncio.gather(*(self._post("/close", {"call": c}) for c in call_ids))
        if self._http is not None:
            await self._http.close()


def setup_for(kind: str, url: str) -> CallSetup:
    if kind == "media-only":
        return MediaOnlySetup(url)
    from bench.signalling import SignallingSetup

    return SignallingSetup(url)
