"""Browser stand-ins for the network tests over the real ``/media`` namespace: a python-socketio
client and an aiortc peer that answers the server's ``renegotiate`` offer on a new connection
(as ``web/static/js/media_link.js`` does), optionally through the impairment proxy."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import socketio
from aiortc import RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamTrack
from media_peers import ClientPeer, Received, _consume, _keep
from network_peers import EncodedH264Track, only_codec, server_address

from media.rtc_forward import hook_keyframe_requests, install_tap
from server import MEDIA_HUB
from tests.integration.staff_support import staff_login
from tests.integration.test_queue_signaling import Sock
from tests.netem import UdpImpairmentProxy, route_through
from videocall.accounts import Role

OFFICER = ("budi", "Petugas-Rahasia-2026")


@dataclass
class Paired:
    """A call paired the real way (queue, presence, accept over Socket.IO), so the call
    service and its reconciler know it; the two desk sockets stay open for the call."""

    session_id: str
    sockets: list[Sock]

    async def close(self) -> None:
        for sock in self.sockets:
            await sock.close()


async def start_session(client: Any, participant: Any) -> Paired:
    """A participant ready for the call (consent given), paired with a new officer."""
    await participant.to_ready()
    _, cookie = await staff_login(client, OFFICER[0], Role.OFFICER, password=OFFICER[1])
    p_sock = await Sock(client, "/participant", auth={"token": participant.token}).connect()
    o_sock = await Sock(client, "/officer", headers=cookie).connect()
    paired = Paired("", [p_sock, o_sock])
    try:
        assert (await p_sock.call("join_queue"))["ok"]
        assert (await o_sock.call("set_presence", {"presence": "available"}))["ok"]
        reply = await o_sock.call("accept_next")
        assert reply["ok"], reply
    except BaseException:
        await paired.close()
        raise
    paired.session_id = reply["session_id"]
    return paired


class MediaPeer:
    """One side: ``/media`` over Socket.IO and an aiortc peer connection (replaced on each
    ``renegotiate``). Counts what it receives over all its connections."""

    def __init__(
        self,
        client: Any,
        session_id: str,
        side: str,
        tracks: Callable[[], list[MediaStreamTrack]],
        *,
        video_codec: str | None = None,
        tap_video: bool = False,
        proxy: UdpImpairmentProxy | None = None,
    ) -> None:
        self.client = client
        self.session_id = session_id
        self.side = side
        self.tracks = tracks
        self.video_codec = video_codec
        self.tap_video = tap_video
        self.proxy = proxy
        self.sio = socketio.AsyncClient(reconnection=False)
        self.events: list[tuple[str, Any]] = []
        self.answers: list[dict[str, Any]] = []  # acks of our answers to the server's offers
        self.peer = ClientPeer(RTCPeerConnection(), Received(), [])
        self.sent: list[MediaStreamTrack] = []
        for name in ("hint", "quality", "error", "ended"):
            self.sio.on(name, self._recorder(name), namespace="/media")
        self.sio.on("renegotiate", self._renegotiate, namespace="/media")

    def _recorder(self, name: str) -> Any:
        async def record(data: Any) -> None:
            self.events.append((name, data))

        return record

    def hints(self, event: str, measure: str) -> list[Any]:
        return [d.get("hint") for n, d in self.events if n == event and d["measure"] == measure]

    async def connect(self) -> None:
        ticket = await self.client.app[MEDIA_HUB].ticket(self.session_id, self.side, None)
        await self.sio.connect(
            str(self.client.make_url("/")),
            namespaces=["/media"],
            transports=["websocket"],
            auth={"token": ticket["token"]},
        )

    async def call(self, event: str, data: Any = None) -> Any:
        return await self.sio.call(event, data, namespace="/media", timeout=30)

    def _new_pc(self) -> RTCPeerConnection:
        pc = RTCPeerConnection()
        self.peer.pc = pc

        @pc.on("track")
        def on_track(track: MediaStreamTrack) -> None:
            if self.tap_video and track.kind == "video":
                receiver = next(
                    t.receiver for t in pc.getTransceivers() if t.receiver.track is track
                )
                install_tap(receiver, lambda f: _keep(self.peer, f), "client")
                return
            self.peer.tasks.append(asyncio.create_task(_consume(track, self.peer.received)))

        return pc

    def _hook(self, pc: RTCPeerConnection) -> None:
        for transceiver in pc.getTransceivers():
            track = transceiver.sender.track
            if isinstance(track, EncodedH264Track):  # pre-encoded: PLIs must reach the track
                hook_keyframe_requests(transceiver.sender, track.request_keyframe)

    async def offer(self) -> dict[str, Any]:
        """Offer our tracks (like ``MediaLink._negotiate``); returns the server's reply."""
        pc = self._new_pc()
        for track in self.tracks():
            self.sent.append(track)
            pc.addTransceiver(track, direction="sendrecv")
        if self.video_codec is not None:
            only_codec(pc, self.video_codec)
        self._hook(pc)
        await pc.setLocalDescription(await pc.createOffer())
        assert pc.localDescription is not None
        sdp = pc.localDescription.sdp
        if self.proxy is not None:
            sdp = route_through(sdp, "127.0.0.1", 9)  # the server finds us only via the proxy
        reply: dict[str, Any] = await self.call("offer", {"sdp": sdp, "type": "offer"})
        if reply.get("ok"):
            answer = reply["sdp"]
            if self.proxy is not None:
                self.proxy.target = server_address(answer)
                host, port = await self.proxy.start()
                answer = route_through(answer, host, port)
            await pc.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))
        return reply

    async def _renegotiate(self, data: dict[str, Any]) -> None:
        self.events.append(("renegotiate", data))
        old = self.peer.pc
        pc = self._new_pc()
        await old.close()
        await pc.setRemoteDescription(RTCSessionDescription(sdp=data["sdp"], type="offer"))
        for track in self.tracks():  # addTrack takes the transceivers the offer created
            self.sent.append(track)
            pc.addTrack(track)
        self._hook(pc)
        await pc.setLocalDescription(await pc.createAnswer())
        assert pc.localDescription is not None
        reply = await self.call("answer", {"sdp": pc.localDescription.sdp, "type": "answer"})
        self.answers.append(reply)

    async def close(self) -> None:
        await self.peer.close()
        await self.sio.disconnect()


def recording_path(client: Any, segment: dict[str, Any]) -> Path:
    root = Path(client.app[MEDIA_HUB].media_settings.recording_dir)
    return next(root.rglob(segment["file"]))
