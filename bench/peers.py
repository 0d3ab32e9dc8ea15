"""Client peers for the call benchmark: send pre-encoded media, time what comes back.

A sending track loops the pre-encoded VP8 sequence (``bench.media``) and remembers when it
handed out each frame (``sent_at[n]``, n counting from 0; the picture carries ``n % loop``).
A receiving peer taps the encoded frames before aiortc's decoder (which then never runs) and
finds each frame's index by its bytes (passthrough forwards them unchanged) or, when the server
re-encoded, by decoding it and reading the stamp. Sender and receiver of a direction live in
the same process, so their ``time.monotonic()`` readings compare directly.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import av
from aiortc import RTCPeerConnection, RTCRtpReceiver, RTCRtpSender
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from bench.jitter import use_marker_jitter_buffer
from bench.media import (
    AUDIO_FRAME,
    AUDIO_RATE,
    FPS,
    VIDEO_CLOCK,
    VideoLoop,
    decode_stamps,
    video_decoder,
)
from media.rtc_forward import EncodedFrame, hook_keyframe_requests, install_tap

RESYNC_AFTER_S = 0.2  # a sender this late skips ahead instead of bursting to catch up


class _PacedTrack(MediaStreamTrack):
    """Hands out one packet per period on a fixed schedule, like a capture device."""

    period: float
    clock_rate: int

    def __init__(self) -> None:
        super().__init__()
        self.sent_at: list[float] = []
        self.late: list[float] = []  # how far behind schedule each packet went out
        self._start: float | None = None

    async def _pace(self, n: int) -> None:
        now = time.monotonic()
        if self._start is None:
            self._start = now
        due = self._start + n * self.period
        if due > now:
            await asyncio.sleep(due - now)
        elif now - due > RESYNC_AFTER_S:
            self._start = now - n * self.period  # the client is overloaded: do not burst
        self.late.append(max(0.0, now - due))

    def _packet(self, data: bytes, n: int, step: int) -> av.Packet[Any]:
        packet = av.Packet(data)
        packet.pts = n * step
        packet.time_base = Fraction(1, self.clock_rate)
        self.sent_at.append(time.monotonic())
        return packet


class LoopVideoTrack(_PacedTrack):
    """15 fps VP8 from the pre-encoded loop; a keyframe request swaps in the key version."""

    kind = "video"
    period = 1 / FPS
    clock_rate = VIDEO_CLOCK

    def __init__(self, loop: VideoLoop) -> None:
        super().__init__()
        self._frames = loop
        self._key_wanted = False
        self.keyframes_sent = 0

    @property
    def codec(self) -> str:
        return self._frames.codec

    def request_keyframe(self) -> None:
        self._key_wanted = True

    def sequence_of(self, index: int, at: float) -> int | None:
        """The latest frame number ``n`` with this index sent by ``at``."""
        size = len(self._frames)
        n = len(self.sent_at) - 1
        n -= (n - index) % size
        while n >= 0 and self.sent_at[n] > at:
            n -= size
        return n if n >= 0 else None

    async def recv(self) -> av.Packet[Any]:
        if self.readyState != "live":
            raise MediaStreamError
        n = len(self.sent_at)
        await self._pace(n)
        index = n % len(self._frames)
        data = self._frames.inter[index]
        if self._key_wanted and index:
            data = self._frames.key[index]
            self.keyframes_sent += 1
        self._key_wanted = False
        return self._packet(data, n, VIDEO_CLOCK // FPS)


class LoopAudioTrack(_PacedTrack):
    kind = "audio"
    period = AUDIO_FRAME / AUDIO_RATE
    clock_rate = AUDIO_RATE

    def __init__(self, packets: tuple[bytes, ...]) -> None:
        super().__init__()
        self._packets = packets

    async def recv(self) -> av.Packet[Any]:
        if self.readyState != "live":
            raise MediaStreamError
        n = len(self.sent_at)
        await self._pace(n)
        return self._packet(self._packets[n % len(self._packets)], n, AUDIO_FRAME)


@dataclass
class VideoArrivals:
    """What one receiving peer saw of the other side's video."""

    received: dict[int, float] = field(default_factory=dict)  # frame number -> arrival
    first_decoded_at: float | None = None
    first_keyframe_at: float | None = None  # first complete keyframe handed to the tap
    undecodable: int = 0
    unknown: int = 0  # decoded, but the stamp was unreadable


class VideoReceiver:
    """The sink of a tapped video receiver: identifies each frame and notes its arrival."""

    def __init__(
        self, sender: LoopVideoTrack, by_bytes: dict[bytes, int], decode_all: bool
    ) -> None:
        self.sender = sender
        self.arrivals = VideoArrivals()
        self._by_bytes = by_bytes
        self._decode_all = decode_all
        self._decoder = video_decoder(sender.codec)

    def __call__(self, frame: EncodedFrame) -> None:
        now = time.monotonic()
        if frame.keyframe and self.arrivals.first_keyframe_at is None:
            self.arrivals.first_keyframe_at = now
        index = None if self._decode_all else self._by_bytes.get(frame.data)
        if index is None or self.arrivals.first_decoded_at is None:
            index = self._decode(frame.data, now)
        if index is None:
            return
        n = self.sender.sequence_of(index, now)
        if n is not None:
            self.arrivals.received.setdefault(n, now)

    def _decode(self, data: bytes, now: float) -> int | None:
        try:
            stamps = decode_stamps(self._decoder, data)
        except av.error.FFmpegError:
            self.arrivals.undecodable += 1
            return None
        if not stamps or stamps[-1] is None:
            self.arrivals.unknown += 1
            return None
        if self.arrivals.first_decoded_at is None:
            self.arrivals.first_decoded_at = time.monotonic()
        return stamps[-1]


class AudioReceiver:
    def __init__(self) -> None:
        self.arrivals: list[float] = []

    def __call__(self, frame: EncodedFrame) -> None:
        self.arrivals.append(time.monotonic())


@dataclass
class Peer:
    """One side of a call as a browser would be: sends loops, receives the other side."""

    name: str
    pc: RTCPeerConnection
    video: LoopVideoTrack
    audio: LoopAudioTrack
    video_in: VideoReceiver | None = None
    audio_in: AudioReceiver = field(default_factory=AudioReceiver)
    marks: dict[str, float] = field(default_factory=dict)  # set-up step -> first reached

    def mark(self, step: str) -> None:
        self.marks.setdefault(step, time.monotonic())

    def timeline_marks(self) -> dict[str, float]:
        """Set-up steps this peer reached (``bench.timeline``), time.monotonic() readings."""
        marks = dict(self.marks)
        arrivals = self.video_in.arrivals if self.video_in else None
        if arrivals and arrivals.first_keyframe_at is not None:
            marks["first_keyframe"] = arrivals.first_keyframe_at
        if arrivals and arrivals.first_decoded_at is not None:
            marks["first_frame"] = arrivals.first_decoded_at
        return marks

    async def close(self) -> None:
        await self.pc.close()


def make_peer(
    name: str,
    loop: VideoLoop,
    audio: tuple[bytes, ...],
    incoming: Callable[[], VideoReceiver],
    browser_like: bool = True,
) -> Peer:
    """A peer sending both loops; ``incoming`` builds its video sink when the track arrives
    (the other side's sender may not exist before that). ``browser_like``: complete video
    frames on the RTP marker bit, as browsers do, not one frame late as aiortc does."""
    pc = RTCPeerConnection()
    peer = Peer(name, pc, LoopVideoTrack(loop), LoopAudioTrack(audio))
    video = pc.addTransceiver(peer.video, direction="sendrecv")
    if loop.codec != "VP8":  # offer that format only, as Safari may
        mime = f"video/{loop.codec}"
        caps = RTCRtpSender.getCapabilities("video").codecs
        video.setCodecPreferences([c for c in caps if c.mimeType in (mime, "video/rtx")])
    pc.addTransceiver(peer.audio, direction="sendrecv")
    hook_keyframe_requests(video.sender, peer.video.request_keyframe)
    watch_states(peer)

    @pc.on("track")
    def on_track(track: MediaStreamTrack) -> None:
        # Synchronous: the tap must replace the decoder queue before receive() starts.
        receiver = _receiver_of(pc, track)
        if track.kind == "video":
            if browser_like:
                use_marker_jitter_buffer(receiver)
            peer.video_in = incoming()
            mark_first_rtp(receiver, peer)
            install_tap(receiver, peer.video_in, f"bench-{name}")
        else:
            install_tap(receiver, peer.audio_in, f"bench-{name}")

    return peer


def _receiver_of(pc: RTCPeerConnection, track: MediaStreamTrack) -> RTCRtpReceiver:
    return next(t.receiver for t in pc.getTransceivers() if t.receiver.track is track)


PC_STATES = {  # (event, attribute, state) -> set-up step; aiortc's ICE has no "connected"
    ("icegatheringstatechange", "iceGatheringState", "complete"): "offers_gathered",
    ("signalingstatechange", "signalingState", "stable"): "offers_answered",
    ("iceconnectionstatechange", "iceConnectionState", "checking"): "ice_checking",
    ("iceconnectionstatechange", "iceConnectionState", "completed"): "ice_connected",
    ("connectionstatechange", "connectionState", "connected"): "dtls_connected",
}


def watch_states(peer: Peer) -> None:
    """Mark the set-up steps the peer connection reports as state changes."""
    for (event, attribute, state), step in PC_STATES.items():

        def on_change(attribute: str = attribute, state: str = state, step: str = step) -> None:
            if getattr(peer.pc, attribute) == state:
                peer.mark(step)

        peer.pc.on(event, on_change)


def mark_first_rtp(receiver: RTCRtpReceiver, peer: Peer) -> None:
    """Mark the first RTP packet of the incoming video (before the jitter buffer)."""
    handle = receiver._handle_rtp_packet

    async def first_rtp(packet: Any, arrival_time_ms: int) -> None:
        peer.mark("first_rtp")
        await handle(packet, arrival_time_ms)

    receiver._handle_rtp_packet = first_rtp  # type: ignore[method-assign]
