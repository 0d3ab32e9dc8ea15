"""Client peers for the network tests: through the impairment proxy, with a chosen video codec."""

from __future__ import annotations

import asyncio
import fractions
import re
from collections.abc import Callable
from pathlib import Path

import av
from aiortc import RTCPeerConnection, RTCRtpSender, RTCSessionDescription
from aiortc.mediastreams import MediaStreamTrack
from media_peers import FPS, HEIGHT, WIDTH, ClientPeer, PatternTrack, Received, _consume, _keep

from media.call import MediaCall, Side
from media.rtc_forward import hook_keyframe_requests, install_tap
from tests.netem import UdpImpairmentProxy, route_through

_HOST_CANDIDATE = re.compile(r"^a=candidate:\S+ 1 udp \d+ (\S+) (\d+) typ host", re.I | re.M)


def server_address(answer_sdp: str) -> tuple[str, int]:
    """The server's loopback UDP candidate in its answer (where the proxy forwards to)."""
    found = [(h, int(p)) for h, p in _HOST_CANDIDATE.findall(answer_sdp)]
    return next((a for a in found if a[0] == "127.0.0.1"), found[0])


def only_codec(pc: RTCPeerConnection, mime: str) -> None:
    """Offer nothing but ``mime`` (e.g. "video/H264") on the video transceivers."""
    for t in pc.getTransceivers():
        if t.kind == "video":
            caps = RTCRtpSender.getCapabilities("video").codecs
            t.setCodecPreferences([c for c in caps if c.mimeType in (mime, "video/rtx")])


async def offer_sdp(pc: RTCPeerConnection) -> str:
    await pc.setLocalDescription(await pc.createOffer())
    assert pc.localDescription is not None
    return pc.localDescription.sdp


async def connect_via(
    call: MediaCall,
    side: Side,
    tracks: list[MediaStreamTrack],
    *,
    proxy: UdpImpairmentProxy | None = None,
    video_codec: str | None = None,
    tap_video: bool = False,
    munge: Callable[[str], str] | None = None,
) -> ClientPeer:
    """A browser stand-in like ``media_peers.connect_client``; with ``proxy`` every packet
    between it and the server crosses the proxy (the proxy's target is set from the answer)."""
    pc = RTCPeerConnection()
    client = ClientPeer(pc, Received(), [])
    for track in tracks:
        transceiver = pc.addTransceiver(track, direction="sendrecv")
        if isinstance(track, EncodedH264Track | AdaptiveVp8Track):
            # Pre-encoded frames: aiortc ignores PLIs for them, the track must act on them.
            hook_keyframe_requests(transceiver.sender, track.request_keyframe)
    if video_codec is not None:
        only_codec(pc, video_codec)

    @pc.on("track")
    def on_track(track: MediaStreamTrack) -> None:
        if tap_video and track.kind == "video":
            receiver = next(t.receiver for t in pc.getTransceivers() if t.receiver.track is track)
            install_tap(receiver, lambda f: _keep(client, f), "client")
            return
        client.tasks.append(asyncio.create_task(_consume(track, client.received)))

    sdp = await offer_sdp(pc)
    if munge is not None:
        sdp = munge(sdp)
    if proxy is not None:
        sdp = route_through(sdp, "127.0.0.1", 9)  # the server finds us only through the proxy
    try:
        answer, type_ = await call.accept_offer(side, sdp, "offer")
    except Exception:
        await client.close()
        raise
    if proxy is not None:
        proxy.target = server_address(answer)
        host, port = await proxy.start()
        answer = route_through(answer, host, port)
    await pc.setRemoteDescription(RTCSessionDescription(sdp=answer, type=type_))
    return client


class EncodedH264Track(MediaStreamTrack):
    """Sends H.264 (constrained baseline, libx264 through PyAV) that we encoded ourselves, so
    the NAL units on the wire are known. Sends an IDR every ``gop`` frames and on request."""

    kind = "video"

    def __init__(self, gop: int = 150) -> None:
        super().__init__()
        self.sent: list[bytes] = []
        self._encoder = av.CodecContext.create("libx264", "w")
        self._encoder.width, self._encoder.height = WIDTH, HEIGHT
        self._encoder.pix_fmt = "yuv420p"
        self._encoder.time_base = fractions.Fraction(1, FPS)
        self._encoder.bit_rate = 400_000
        self._encoder.profile = "Baseline"
        self._encoder.gop_size = gop
        self._encoder.options = {"preset": "ultrafast", "tune": "zerolatency", "level": "31"}
        self._pattern = PatternTrack()
        self._n = 0
        self._force_keyframe = False

    def request_keyframe(self) -> None:
        self._force_keyframe = True

    async def recv(self) -> av.Packet:
        while True:
            await asyncio.sleep(1 / FPS)
            frame = av.VideoFrame.from_ndarray(self._pattern._window("normal"), format="gray")
            frame = frame.reformat(format="yuv420p")
            if self._force_keyframe:
                frame.pict_type = av.video.frame.PictureType.I
                self._force_keyframe = False
            frame.pts = self._n
            self._n += 1
            self._pattern._n += 1
            data = b"".join(bytes(p) for p in self._encoder.encode(frame))
            if data:
                self.sent.append(data)
                out = av.Packet(data)
                out.pts, out.time_base = (self._n - 1) * 90000 // FPS, fractions.Fraction(1, 90000)
                return out


def nal_units(access_unit: bytes) -> list[bytes]:
    """The NAL units of an Annex-B access unit, start codes (3 or 4 bytes) removed."""
    parts = re.split(b"\x00\x00\x01", access_unit)
    return [p.rstrip(b"\x00") for p in parts if p.rstrip(b"\x00")]


class AdaptiveVp8Track(MediaStreamTrack):
    """Pre-encoded VP8 whose rate the test sets, standing in for a browser's congestion control
    (aiortc's own encoder never goes below 250 kbit/s, so on a thinner link it would drown its
    own audio, which a browser does not)."""

    kind = "video"

    def __init__(self) -> None:
        super().__init__()
        self._pattern = PatternTrack()
        self._n = 0
        self._encoder: av.video.codeccontext.VideoCodecContext | None = None
        self._started = asyncio.get_running_loop().time()
        self.set_rate(400, FPS)

    def set_rate(self, kbps: int, fps: int) -> None:
        encoder = av.CodecContext.create("libvpx", "w")
        encoder.width, encoder.height, encoder.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        encoder.time_base = fractions.Fraction(1, fps)
        encoder.bit_rate = kbps * 1000
        encoder.options = {"deadline": "realtime", "lag-in-frames": "0", "cpu-used": "8"}
        self._encoder, self._fps = encoder, fps  # a new encoder starts with a keyframe
        self._force_keyframe = False

    def request_keyframe(self) -> None:
        self._force_keyframe = True

    async def recv(self) -> av.Packet:
        while True:
            await asyncio.sleep(1 / self._fps)
            assert self._encoder is not None
            frame = av.VideoFrame.from_ndarray(self._pattern._window("normal"), format="gray")
            frame = frame.reformat(format="yuv420p")
            if self._force_keyframe:
                frame.pict_type = av.video.frame.PictureType.I
                self._force_keyframe = False
            frame.pts = self._n
            self._n += 1
            self._pattern._n += 1
            data = b"".join(bytes(p) for p in self._encoder.encode(frame))
            if data:
                out = av.Packet(data)
                # The media clock follows real time, whatever the frame rate of the moment.
                elapsed = asyncio.get_running_loop().time() - self._started
                out.pts, out.time_base = int(elapsed * 90000), fractions.Fraction(1, 90000)
                return out


def decoded_video(path: Path, title: str) -> tuple[int, list[int]]:
    """Frames PyAV decodes from one video track of a recording, and its packet times in ms."""
    with av.open(str(path)) as container:
        stream = next(s for s in container.streams.video if s.metadata.get("title") == title)
        times = [
            int(p.pts * p.time_base * 1000)
            for p in container.demux(stream)
            if p.pts is not None and p.size
        ]
    with av.open(str(path)) as container:
        stream = next(s for s in container.streams.video if s.metadata.get("title") == title)
        frames = 0
        for packet in container.demux(stream):
            try:
                frames += len(packet.decode())
            except av.FFmpegError:
                pass  # a frame that lost a reference; the next keyframe resyncs
    return frames, times
