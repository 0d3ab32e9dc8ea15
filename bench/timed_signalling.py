"""``bench.signalling`` with the signalling steps of the set-up timeline marked.

Same journey as ``SignallingSetup.connect`` (register, log in, join, accept under the pair
lock, offer both sides); it also keeps when the officer's ``accept_next`` was acknowledged
and when both sides had been told (the participant's ``paired``), as ``time.monotonic()``
readings for ``bench.timeline``.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiortc import RTCPeerConnection

from bench.setup import SetupTimes
from bench.signalling import ACK_TIMEOUT_S, SignallingSetup, Sockets, ack, settle


@dataclass(frozen=True, slots=True)
class MarkedTimes(SetupTimes):
    marks: dict[str, float] = field(default_factory=dict)  # step -> time.monotonic()


class TimedSignallingSetup(SignallingSetup):
    async def connect(
        self, call_id: str, participant: RTCPeerConnection, officer: RTCPeerConnection
    ) -> SetupTimes:
        n = int(call_id.rsplit("-", 1)[1])
        sockets = self._sockets[call_id] = Sockets()
        async with aiohttp.ClientSession() as http:
            token, record_id = await self.register_participant(http)
            cookie = await self.officer_cookie(http, n)
        p_sio, o_sio = sockets.new(), sockets.new()
        paired: asyncio.Future[tuple[float, dict[str, Any]]] = asyncio.Future()
        p_sio.on("paired", lambda data: settle(paired, data), namespace="/participant")
        await self.connect_socket(p_sio, "/participant", auth={"token": token})
        await self.connect_socket(o_sio, "/officer", headers={"Cookie": cookie})
        await ack(o_sio, "set_presence", {"presence": "available"}, "/officer")
        async with self._lock:
            await ack(p_sio, "join_queue", {}, "/participant")
            accept_at = time.monotonic()
            mine = await ack(o_sio, "accept_next", {}, "/officer")
            officer_told = time.monotonic()
            participant_told, theirs = await asyncio.wait_for(paired, ACK_TIMEOUT_S)
        if mine.get("record_id") != record_id:
            raise RuntimeError(f"call {call_id}: officer was paired with someone else")
        await asyncio.gather(
            self._media(sockets, theirs["media"], participant),
            self._media(sockets, mine["media"], officer),
        )
        both_told = max(officer_told, participant_told)
        marks = {"accept_ack": officer_told, "both_told": both_told}
        return MarkedTimes(accept_at, round((both_told - accept_at) * 1000, 2), marks)
