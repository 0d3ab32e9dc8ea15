"""Real aiortc client peers for media tests: generated camera pictures, a tone, loss injection."""

from __future__ import annotations

import asyncio
import fractions
import hashlib
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import av
import numpy as np
from aiortc import RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import (
    AudioStreamTrack,
    MediaStreamError,
    MediaStreamTrack,
    VideoStreamTrack,
)
from aiortc.rtp import is_rtcp
from PIL import Image, ImageFilter

from media.call import MediaCall, Side
from media.rtc_forward import EncodedFrame, install_tap

WIDTH, HEIGHT = 640, 480
FPS = 15


def _pictures() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(7)
    # Blocky texture: sharp edges at a scale VP8 keeps at a few hundred kbit/s.
    blocks = rng.integers(50, 200, (HEIGHT // 8, WIDTH // 4 + 40), dtype=np.uint8)
    normal = np.kron(blocks, np.ones((8, 8), np.uint8))[:HEIGHT, : WIDTH * 2]
    blurred = np.asarray(Image.fromarray(normal).filter(ImageFilter.GaussianBlur(10)))
    return {
        "normal": normal,
        "dark": (normal // 7).astype(np.uint8),
        "bright": np.clip(normal.astype(np.int16) + 140, 0, 255).astype(np.uint8),
        "blurred": blurred,
    }


class PatternTrack(VideoStreamTrack):
    """640x480 camera stand-in; ``mode`` switches picture: normal, dark, bright, blurred, frozen."""

    pictures = _pictures()

    def __init__(self) -> None:
        super().__init__()
        self.mode = "normal"
        self._n = 0
        self._frozen: np.ndarray | None = None

    async def recv(self) -> av.VideoFrame:
        pts, time_base = await self.next_timestamp()
        self._n += 1
        grey = self._picture()
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(grey), format="gray")
        frame = frame.reformat(format="yuv420p")
        frame.pts, frame.time_base = pts, time_base
        return frame

    def _picture(self) -> np.ndarray:
        if self.mode == "frozen":
            if self._frozen is None:
                self._frozen = self._window("normal")
            return self._frozen
        self._frozen = None
        return self._window(self.mode)

    def _window(self, mode: str) -> np.ndarray:
        shift = (self._n * 6) % WIDTH  # a steady pan: motion in every frame
        return self.pictures[mode][:, shift : shift + WIDTH]


class ToneTrack(AudioStreamTrack):
    """440 Hz tone, 20 ms mono frames."""

    async def recv(self) -> av.AudioFrame:
        frame = await super().recv()  # paced silence with the right pts
        t = (frame.pts + np.arange(frame.samples)) / 48000
        tone = (np.sin(2 * np.pi * 440 * t) * 6000).astype(np.int16)
        frame.planes[0].update(tone.tobytes())
        return frame


class EncodedVideoTrack(MediaStreamTrack):
    """Sends VP8 packets we encoded ourselves, so the bytes on the wire are known."""

    kind = "video"

    def __init__(self) -> None:
        super().__init__()
        self.sent: list[bytes] = []
        self._encoder = av.CodecContext.create("libvpx", "w")
        self._encoder.width, self._encoder.height = WIDTH, HEIGHT
        self._encoder.pix_fmt = "yuv420p"
        self._encoder.time_base = fractions.Fraction(1, FPS)
        self._encoder.bit_rate = 300_000
        # Realtime, no look-ahead: one packet out per frame in, like a browser's encoder.
        self._encoder.options = {"deadline": "realtime", "lag-in-frames": "0", "cpu-used": "8"}
        self._pattern = PatternTrack()
        self._n = 0

    async def recv(self) -> av.Packet:
        while True:
            await asyncio.sleep(1 / FPS)
            frame = av.VideoFrame.from_ndarray(self._pattern._window("normal"), format="gray")
            frame = frame.reformat(format="yuv420p")
            frame.pts = self._n
            self._n += 1
            self._pattern._n += 1
            packets = self._encoder.encode(frame)
            if packets:
                packet = packets[0]
                data = bytes(packet)
                self.sent.append(data)
                out = av.Packet(data)
                out.pts, out.time_base = (self._n - 1) * 90000 // FPS, fractions.Fraction(1, 90000)
                return out


@dataclass
class Received:
    frames: dict[str, int] = field(default_factory=lambda: {"audio": 0, "video": 0})
    last_video: av.VideoFrame | None = None


@dataclass
class ClientPeer:
    pc: RTCPeerConnection
    received: Received
    tasks: list[asyncio.Task[Any]]
    encoded: list[bytes] = field(default_factory=list)  # video frames as received, if tapped

    async def close(self) -> None:
        await self.pc.close()
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)


async def _consume(track: MediaStreamTrack, received: Received) -> None:
    try:
        while True:
            frame = await track.recv()
            received.frames[track.kind] += 1
            if track.kind == "video":
                received.last_video = frame
    except MediaStreamError:
        pass


async def connect_client(
    call: MediaCall,
    side: Side,
    tracks: list[MediaStreamTrack],
    tap_video: bool = False,
    before_answer: Callable[[RTCPeerConnection], None] | None = None,
) -> ClientPeer:
    """A browser stand-in: offers ``tracks``, applies the answer, consumes what it receives."""
    pc = RTCPeerConnection()
    client = ClientPeer(pc, Received(), [])
    for track in tracks:
        pc.addTransceiver(track, direction="sendrecv")

    @pc.on("track")
    def on_track(track: MediaStreamTrack) -> None:
        if tap_video and track.kind == "video":
            receiver = next(t.receiver for t in pc.getTransceivers() if t.receiver.track is track)
            install_tap(receiver, lambda f: _keep(client, f), "client")
            return
        client.tasks.append(asyncio.create_task(_consume(track, client.received)))

    await pc.setLocalDescription(await pc.createOffer())
    assert pc.localDescription is not None
    sdp, type_ = await call.accept_offer(side, pc.localDescription.sdp, pc.localDescription.type)
    if before_answer is not None:
        before_answer(pc)
    await pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type=type_))
    return client


def _keep(client: ClientPeer, frame: EncodedFrame) -> None:
    client.received.frames["video"] += 1
    client.encoded.append(frame.data)


def drop_rtp(pc: RTCPeerConnection, share: float, seed: int = 1) -> dict[str, int]:
    """Make ``pc`` drop ``share`` of the RTP packets it sends (RTCP goes through)."""
    rng = random.Random(seed)
    counts = {"sent": 0, "dropped": 0}
    transports = {id(t.sender.transport): t.sender.transport for t in pc.getTransceivers()}
    for transport in transports.values():
        original = transport._send_rtp

        async def send_rtp(data: bytes, original: Any = original) -> None:
            if not is_rtcp(data):
                counts["sent"] += 1
                if rng.random() < share:
                    counts["dropped"] += 1
                    return
            await original(data)

        transport._send_rtp = send_rtp
    return counts


def digest(frames: list[bytes]) -> list[str]:
    return [hashlib.sha256(f).hexdigest()[:16] for f in frames]


async def wait_for(predicate: Callable[[], bool], timeout: float, step: float = 0.05) -> float:  # noqa: ASYNC109
    """Wait until ``predicate()``; returns the seconds it took. Fails the test on timeout."""
    loop = asyncio.get_running_loop()
    start = loop.time()
    while not predicate():
        if loop.time() - start > timeout:
            raise AssertionError(f"condition not met within {timeout} s")
        await asyncio.sleep(step)
    return loop.time() - start
