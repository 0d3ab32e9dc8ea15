"""Encoded-frame forwarding on top of aiortc: no decode, no re-encode on the relay path.

    install_tap(receiver, sink, session_id)   # in a *synchronous* pc.on("track") handler
    track = ForwardTrack("video", request_keyframe)  # pc.addTrack / addTransceiver(track)
    track.push(frame, source_id)              # from the sink: hands frames to the sender
    hook_keyframe_requests(sender, request)   # browser PLI/FIR -> PLI upstream
    requester = KeyframeRequester(session_id, clock.monotonic); requester.set_upstream(receiver)

aiortc internals relied on (aiortc 1.16; tests/integration/test_rtc_internals.py fails loudly
if an upgrade changes any of them):

- ``RTCRtpReceiver._RTCRtpReceiver__decoder_queue``: the ``queue.Queue`` that
  ``_handle_rtp_packet`` puts ``(codec, JitterFrame)`` on, on the event loop, and that
  ``receive()`` hands to the decoder thread; ``None`` on it stops that thread and ends the track.
- ``RTCRtpReceiver._RTCRtpReceiver__decoder_thread``: None until ``receive()`` started it.
- ``RTCRtpReceiver._RTCRtpReceiver__rtx_ssrc`` (RTX SSRC -> media SSRC) and
  ``_RTCRtpReceiver__remote_streams`` (SSRC -> ``StreamStatistics`` with ``packets_received``
  and ``packets_expected``), because the ``inbound-rtp`` stats entry of a receiver is keyed by
  receiver, not SSRC, and is overwritten by the RTX stream once retransmissions flow.
- ``RTCRtpReceiver._send_rtcp_pli(media_ssrc)``: sends a PLI on the receiver's transport.
- the same ``__jitter_buffer`` of audio receivers is replaced by ``AudioPassThrough``.
- ``RTCRtpReceiver._send_rtcp_nack(media_ssrc, lost)``: wrapped per instance to ask for each
  lost packet at most ``NACK_TRIES`` times, ``NACK_RETRY_S`` apart (``NackLimiter``).
- ``RTCRtpSender._send_keyframe()``: what the sender calls on an incoming PLI/FIR; for
  pre-encoded packets it only sets an encoder flag, so we wrap it per instance.
- ``RTCRtpSender._next_encoded_frame``: passes anything that is not an ``av.Frame`` to
  ``encoder.pack()`` (VP8/H.264: 1/90000, Opus: 1/48000 ``time_base``) without encoding.
- ``aioice.ice.get_host_addresses``: leaves 127.0.0.1 out; ``allow_loopback_candidates`` wraps it.
- ``RTCRtpReceiver._RTCRtpReceiver__jitter_buffer`` (set in ``__init__``, fed by
  ``_handle_rtp_packet`` via ``add()``) and ``JitterBuffer._remove_frame`` / ``_origin`` /
  ``_packets`` / ``remove``: aiortc only knows a video frame is complete when a packet of the
  *next* frame arrives, which adds a whole frame interval (67 ms at 15 fps) per hop. Browsers
  complete a frame on the RTP marker bit; ``MarkerJitterBuffer`` does the same for our video
  receivers (measured in bench/: e2e p95 75 -> 7 ms at 3 calls, no CPU change).

Decoding for analysis is not done by aiortc's decoder thread at all: the tap never passes frames
to it (only the ``None`` stop signal), so decoded frames do not pile up on the remote track's
asyncio queue. The analysis side (media_analysis.py) decodes every frame of the analysed stream
itself, because a VP8 decoder fed only sampled frames cannot decode inter frames; decoding costs
~0.6 ms a 640x480 frame, while conversion and measuring happen only at the sample rate.
"""

from __future__ import annotations

import asyncio
import logging
import queue
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import aioice.ice
import av
from aiortc import RTCRtpReceiver, RTCRtpSender
from aiortc.jitterbuffer import JitterBuffer, JitterFrame
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from aiortc.rtp import RtpPacket

logger = logging.getLogger(__name__)

# Frames waiting for a sender. Past this the sender is not keeping
# up: drop the backlog (video restarts at a keyframe) rather than deliver everything seconds late.
# About 0.5 s either way: 8 frames of 15 fps video, 25 packets of 20 ms audio.
MAX_QUEUED = {"video": 8, "audio": 25}
NOMINAL_STEP = {"video": 3000, "audio": 960}  # one frame at 30 fps / 20 ms, in clock units
PLI_MIN_INTERVAL_S = 0.5
# Once a keyframe answered the last PLI, no keyframe is on its way: the next request may follow
# this soon (a subscriber that just missed it, a recording segment), not a whole interval later.
PLI_AFTER_KEYFRAME_S = 0.1

_RECEIVER_QUEUE = "_RTCRtpReceiver__decoder_queue"
_RECEIVER_THREAD = "_RTCRtpReceiver__decoder_thread"
_RECEIVER_RTX = "_RTCRtpReceiver__rtx_ssrc"
_RECEIVER_STREAMS = "_RTCRtpReceiver__remote_streams"
_RECEIVER_JITTER = "_RTCRtpReceiver__jitter_buffer"


GAP_GIVE_UP_TICKS = 45000  # 0.5 s of 90 kHz video past a hole: NACK could not fill it


class MarkerJitterBuffer(JitterBuffer):
    """Hands a video frame on when its last packet (RTP marker bit) arrives, as browsers do.

    A hole that retransmission has not filled after ``GAP_GIVE_UP_TICKS`` of later media (an
    outage longer than the sender's RTX history) is skipped: aiortc would wait until 512
    packets piled up behind it. The frame after the hole is marked ``after_gap`` and a PLI is
    asked for, so the picture comes back at the next keyframe.
    """

    _after_gap = False

    def add(self, packet: RtpPacket) -> tuple[bool, JitterFrame | None]:
        pli_flag, frame = super().add(packet)
        if frame is None and self._hole_given_up(packet):
            self._skip_hole()
            frame = self._remove_frame(packet.sequence_number)
            pli_flag = True
            if frame is not None:
                frame.after_gap = True  # type: ignore[attr-defined]
            else:
                self._after_gap = True
        elif frame is not None and getattr(self, "_after_gap", False):
            frame.after_gap = True  # type: ignore[attr-defined]
            self._after_gap = False
        return pli_flag, frame

    def _after_hole(self, limit: int | None = None) -> int | None:
        """Offset from the origin of the first packet held after the first missing one,
        looking at the first ``limit`` slots (all of them by default)."""
        origin = self._origin
        if origin is None:
            return None
        hole = False
        for count in range(self.capacity if limit is None else limit):
            present = self._packets[(origin + count) % self.capacity] is not None
            if hole and present:
                return count
            hole = hole or not present
        return None

    def _hole_given_up(self, newest: RtpPacket) -> bool:
        # Only up to the packet just added: a scan of all 512 slots for every packet that did
        # not end a frame cost more than the rest of the buffer (py-spy, bench/). A hole behind
        # a retransmission is found with the next new packet.
        origin = self._origin
        if origin is None:
            return False
        span = min(self.capacity, (newest.sequence_number - origin) % 65536 + 1)
        offset = self._after_hole(span)
        if offset is None:
            return False
        first = self._packets[(origin + offset) % self.capacity]
        assert first is not None
        return (newest.timestamp - first.timestamp) % (1 << 32) >= GAP_GIVE_UP_TICKS

    def _skip_hole(self) -> None:
        offset = self._after_hole()
        if offset is None:
            return
        self.remove(offset)
        # The first frame after the hole may have lost its start: drop it, begin at the next.
        assert self._origin is not None
        partial = self._packets[self._origin % self.capacity]
        count = 0
        while count < self.capacity:
            packet = self._packets[(self._origin + count) % self.capacity]
            if packet is None or partial is None or packet.timestamp != partial.timestamp:
                break
            count += 1
        self.remove(count)

    def _remove_frame(self, sequence_number: int) -> JitterFrame | None:
        origin = self._origin
        if origin is None:
            return None
        packets: list[RtpPacket] = []
        for count in range(self.capacity):
            packet = self._packets[(origin + count) % self.capacity]
            if packet is None:
                return None  # a gap: wait for the missing packet (NACK) or a later reset
            if packets and packet.timestamp != packets[0].timestamp:
                return self._take(packets, count)  # marker lost: the next frame began
            packets.append(packet)
            if packet.marker:
                return self._take(packets, count + 1)
        return None

    def _take(self, packets: list[RtpPacket], count: int) -> JitterFrame:
        frame = JitterFrame(
            data=b"".join(p._data for p in packets),  # type: ignore[attr-defined]
            timestamp=packets[0].timestamp,
        )
        self.remove(count)
        return frame


class AudioPassThrough(JitterBuffer):
    """Hands every audio packet on as it arrives: one Opus packet is one frame.

    aiortc's audio buffer holds 4 packets (80 ms) before releasing any and, after a lost
    packet, waits until 16 more piled up, then drops packets around the hole (bench/network.py:
    5 % uplink loss lost ~25 % of the audio on the way to the officer). The receiving browser's
    own jitter buffer and loss concealment are better placed to deal with loss and reordering.
    """

    def __init__(self) -> None:
        super().__init__(capacity=16)
        self._last_seq: int | None = None

    def add(self, packet: RtpPacket) -> tuple[bool, JitterFrame | None]:
        seq = packet.sequence_number
        if self._last_seq is not None and (self._last_seq - seq) % 65536 < 1000:
            return False, None  # a duplicate or a packet older than one already passed on
        self._last_seq = seq
        return False, JitterFrame(data=packet._data, timestamp=packet.timestamp)  # type: ignore[attr-defined]


def use_marker_jitter_buffer(receiver: RTCRtpReceiver) -> None:
    """Swap a video receiver's jitter buffer; before its first packet arrives."""
    setattr(receiver, _RECEIVER_JITTER, MarkerJitterBuffer(capacity=512, is_video=True))


@dataclass(frozen=True, slots=True)
class EncodedFrame:
    kind: str  # "audio" | "video"
    codec: str  # aiortc codec name: "VP8", "H264", "opus"
    data: bytes  # one whole encoded frame (VP8 frame, Annex-B access unit, Opus packet)
    timestamp: int  # RTP timestamp relative to the first frame of this receiver
    clock_rate: int
    keyframe: bool
    after_gap: bool = False  # frames before it were lost for good: resync at a keyframe


FrameSink = Callable[[EncodedFrame], None]


def is_keyframe(codec: str, data: bytes) -> bool:
    """Whether a decoder can start at this frame."""
    if codec == "VP8":
        return len(data) > 0 and data[0] & 1 == 0
    if codec == "H264":
        return _h264_has_idr(data)
    return True  # audio frames are independent


def _h264_has_idr(data: bytes) -> bool:
    # Annex-B start codes; NAL type 5 is an IDR slice, 7 an SPS that precedes one.
    i = data.find(b"\x00\x00\x01")
    while 0 <= i < len(data) - 3:
        if data[i + 3] & 0x1F in (5, 7):
            return True
        i = data.find(b"\x00\x00\x01", i + 3)
    return False


class _TapQueue(queue.Queue[Any]):
    """Stands in for the receiver's decoder queue: fans encoded frames out, on the event loop."""

    def __init__(self, kind: str, sink: FrameSink, session_id: str) -> None:
        super().__init__()
        self._kind = kind
        self._sink = sink
        self._session_id = session_id

    def put(self, item: Any, block: bool = True, timeout: float | None = None) -> None:
        if item is None:
            super().put(None)  # the stop signal must reach aiortc's decoder thread
            return
        codec, jitter_frame = item
        data = bytes(jitter_frame.data)
        frame = EncodedFrame(
            self._kind,
            codec.name,
            data,
            jitter_frame.timestamp,
            codec.clockRate,
            is_keyframe(codec.name, data),
            getattr(jitter_frame, "after_gap", False),
        )
        try:
            self._sink(frame)
        except Exception:
            # Raising here would abort aiortc's packet handling for the whole transport.
            logger.exception("session %s: %s frame sink failed", self._session_id, self._kind)


NACK_RETRY_S = 0.15  # a lost packet is asked for again at most this often ...
NACK_TRIES = 3  # ... and this many times


class NackLimiter:
    """Asks for each lost packet a few times, spaced out, as browsers do.

    aiortc's receiver NACKs *every* packet still missing (up to 128) whenever a new one goes
    missing: on a capped uplink the retransmissions that answer it fill the bottleneck and cause
    more loss (measured with bench/network.py: a 300 kbit/s cap lost 99 % of the video).
    """

    def __init__(self, now: Callable[[], float]) -> None:
        self._now = now
        self._asked: dict[int, tuple[float, int]] = {}  # seq -> (last asked, times)

    def filter(self, lost: list[int]) -> list[int]:
        now = self._now()
        wanted = set(lost)
        self._asked = {seq: v for seq, v in self._asked.items() if seq in wanted}
        chosen = []
        for seq in lost:
            last, times = self._asked.get(seq, (float("-inf"), 0))
            if times < NACK_TRIES and now - last >= NACK_RETRY_S:
                self._asked[seq] = (now, times + 1)
                chosen.append(seq)
        return chosen


def limit_nacks(receiver: RTCRtpReceiver, now: Callable[[], float]) -> None:
    """Wrap a receiver's NACK sending with a ``NackLimiter`` (per instance)."""
    original = receiver._send_rtcp_nack
    limiter = NackLimiter(now)

    async def send_nack(media_ssrc: int, lost: list[int]) -> None:
        chosen = limiter.filter(lost)
        if chosen:
            await original(media_ssrc, chosen)

    receiver._send_rtcp_nack = send_nack  # type: ignore[method-assign]


def install_tap(receiver: RTCRtpReceiver, sink: FrameSink, session_id: str) -> None:
    """Route the receiver's encoded frames to ``sink`` instead of aiortc's decoder.

    Call it synchronously in the ``track`` handler: ``receive()`` starts the decoder thread with
    whatever queue is in place at that moment.
    """
    if getattr(receiver, _RECEIVER_THREAD, "missing") is not None:
        raise RuntimeError("install_tap must run before RTCRtpReceiver.receive() starts")
    kind = receiver.track.kind if receiver.track is not None else "video"
    setattr(receiver, _RECEIVER_QUEUE, _TapQueue(kind, sink, session_id))
    if kind == "video":
        use_marker_jitter_buffer(receiver)
        limit_nacks(receiver, asyncio.get_running_loop().time)
    else:
        setattr(receiver, _RECEIVER_JITTER, AudioPassThrough())


def media_ssrcs(receiver: RTCRtpReceiver) -> list[int]:
    """SSRCs the receiver heard media on, without RTX (Chrome ignores PLIs sent for RTX)."""
    rtx: dict[int, int] = getattr(receiver, _RECEIVER_RTX)
    return [s.source for s in receiver.getSynchronizationSources() if s.source not in rtx]


def inbound_counts(receiver: RTCRtpReceiver) -> tuple[int, int]:
    """(packets expected, packets received) over the media SSRCs, RTX excluded."""
    rtx: dict[int, int] = getattr(receiver, _RECEIVER_RTX)
    streams: dict[int, Any] = getattr(receiver, _RECEIVER_STREAMS)
    expected = received = 0
    for ssrc, stream in list(streams.items()):
        if ssrc not in rtx and stream.max_seq is not None:
            expected += stream.packets_expected
            received += stream.packets_received
    return expected, received


class KeyframeRequester:
    """Sends rate-limited PLIs to whoever currently sends us a stream."""

    def __init__(
        self,
        session_id: str,
        now: Callable[[], float],
        min_interval: float = PLI_MIN_INTERVAL_S,
    ) -> None:
        self._session_id = session_id
        self._now = now
        self._min_interval = min_interval
        self._receiver: RTCRtpReceiver | None = None
        self._last = float("-inf")
        self._answered_at = float("-inf")  # first keyframe from upstream after the last PLI
        self._tasks: set[asyncio.Task[None]] = set()
        self._deferred: asyncio.TimerHandle | None = None
        self.sent = 0

    def set_upstream(self, receiver: RTCRtpReceiver | None) -> None:
        self._receiver = receiver

    def keyframe_arrived(self) -> None:
        """The upstream sent a keyframe (video): the last PLI, if any, was answered."""
        if self._answered_at < self._last:
            self._answered_at = self._now()

    def request(self) -> None:
        """Ask the upstream sender for a keyframe; within ``min_interval`` of the last PLI the
        request is deferred (not dropped: a recording segment may be waiting for it), unless a
        keyframe answered that PLI already (then ``PLI_AFTER_KEYFRAME_S`` after it)."""
        earliest = self._last + self._min_interval
        if self._answered_at >= self._last:
            earliest = min(earliest, self._answered_at + PLI_AFTER_KEYFRAME_S)
        wait = earliest - self._now()
        if wait > 0:
            if self._deferred is None:
                loop = asyncio.get_running_loop()
                self._deferred = loop.call_later(wait, self._send_deferred)
            return
        self._send()

    def close(self) -> None:
        if self._deferred is not None:
            self._deferred.cancel()
            self._deferred = None
        self._receiver = None

    def _send_deferred(self) -> None:
        self._deferred = None
        self._send()

    def _send(self) -> None:
        receiver = self._receiver
        ssrcs = media_ssrcs(receiver) if receiver is not None else []
        if receiver is None or not ssrcs:
            return  # nothing received yet: the first frame will be a keyframe anyway
        self._last = self._now()
        self.sent += 1
        for ssrc in ssrcs:
            task = asyncio.ensure_future(receiver._send_rtcp_pli(ssrc))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        logger.debug("session %s: PLI upstream to %s", self._session_id, ssrcs)


def hook_keyframe_requests(sender: RTCRtpSender, on_request: Callable[[], None]) -> None:
    """Make a PLI/FIR that reaches ``sender`` call ``on_request`` (forwarded packets)."""
    original = sender._send_keyframe

    def send_keyframe() -> None:
        original()
        on_request()

    sender._send_keyframe = send_keyframe  # type: ignore[method-assign]


class ForwardTrack(MediaStreamTrack):
    """A track whose ``recv()`` returns encoded ``av.Packet``s for ``RTCRtpSender`` to pack.

    It starts at a keyframe, keeps its timestamps continuous when the source changes (a
    reconnect of the other side), and asks for a keyframe when its sender starts reading with
    no keyframe waiting, and whenever it had to drop frames.

    ``arm()`` (video, when the connection is answered) holds frames from the next keyframe on
    before the sender reads: the sender starts after ICE and DTLS, and its first read then
    finds a keyframe waiting instead of asking for one and waiting a PLI round trip plus up to
    a frame interval. At most ``MAX_QUEUED`` frames are held; past that the track waits for a
    fresher keyframe.
    """

    def __init__(self, kind: str, request_keyframe: Callable[[], None]) -> None:
        super().__init__()
        self.kind = kind
        self.codec: str | None = None  # negotiated codec of the sender; others are dropped
        self._request_keyframe = request_keyframe
        self._queue: asyncio.Queue[av.Packet[Any] | None] = asyncio.Queue()
        self._reading = False
        self._armed = False  # holding frames before the sender reads (``arm``)
        self._need_keyframe = kind == "video"
        self._paused = False
        self._source: int | None = None
        self._offset = 0
        self._last_ts: int | None = None
        self.forwarded = 0
        self.dropped = 0
        # Called once, when the sender takes its first frame (the call's set-up timeline).
        self.on_first_read: Callable[[], None] | None = None

    def arm(self) -> None:
        """Hold frames (from the next keyframe) until the sender starts reading."""
        self._armed = True

    def push(self, frame: EncodedFrame, source_id: int) -> None:
        if not (self._reading or self._armed) or self.readyState != "live":
            return  # the sender is not sending yet: frames would only pile up
        if self._paused:
            return
        if self.codec is not None and frame.codec != self.codec:
            return
        if self._need_keyframe and not frame.keyframe:
            return
        self._need_keyframe = False
        if self._queue.qsize() >= MAX_QUEUED[self.kind]:
            if self._reading:
                self._drop_backlog()
            else:  # held too long before the sender came: wait for a fresher keyframe
                self._clear()
                self._need_keyframe = self.kind == "video"
            return
        self._queue.put_nowait(self._packet(frame, source_id))

    def end(self) -> None:
        self._queue.put_nowait(None)

    def pause(self) -> None:
        """Stop forwarding (weak uplink: the call goes on as audio); safe twice."""
        self._paused = True

    def resume(self) -> None:
        """Forward again, from the next keyframe, which is asked for now."""
        if not self._paused:
            return
        self._paused = False
        self._need_keyframe = self.kind == "video"
        if self._reading:
            self._request_keyframe()

    async def recv(self) -> av.Packet[Any]:
        if self.readyState != "live":
            raise MediaStreamError
        if not self._reading:
            self._reading = True
            if self._queue.empty():
                self._request_keyframe()  # a new subscriber starts at the next keyframe
        packet = await self._queue.get()
        if packet is None:
            self.stop()
            raise MediaStreamError
        self.forwarded += 1
        if self.on_first_read is not None:
            first, self.on_first_read = self.on_first_read, None
            first()
        return packet

    def _packet(self, frame: EncodedFrame, source_id: int) -> av.Packet[Any]:
        if source_id != self._source:
            # A new upstream restarts its RTP clock at 0; continue ours one frame later.
            start = 0 if self._last_ts is None else self._last_ts + NOMINAL_STEP[self.kind]
            self._offset = start - frame.timestamp
            self._source = source_id
        ts = frame.timestamp + self._offset
        self._last_ts = ts
        packet = av.Packet(frame.data)
        packet.pts = ts
        packet.time_base = _time_base(frame.clock_rate)
        return packet

    def _clear(self) -> int:
        count = 0
        while not self._queue.empty():
            self._queue.get_nowait()
            count += 1
        return count

    def _drop_backlog(self) -> None:
        self.dropped += self._clear()
        self._need_keyframe = self.kind == "video"
        self._request_keyframe()

    @property
    def waiting_for_keyframe(self) -> bool:
        return self._reading and self._need_keyframe and not self._paused

    def resync(self) -> None:
        """Frames were lost upstream for good: forward again from the next keyframe."""
        self._need_keyframe = self.kind == "video"


_TIME_BASES: dict[int, Fraction] = {}


def _time_base(clock_rate: int) -> Fraction:
    """1/clock_rate, made once per rate (a Fraction per packet was measurable)."""
    base = _TIME_BASES.get(clock_rate)
    if base is None:
        base = _TIME_BASES[clock_rate] = Fraction(1, clock_rate)
    return base


_original_get_host_addresses = aioice.ice.get_host_addresses


def _with_loopback(use_ipv4: bool, use_ipv6: bool) -> list[str]:
    addresses = _original_get_host_addresses(use_ipv4=use_ipv4, use_ipv6=use_ipv6)
    if use_ipv4 and "127.0.0.1" not in addresses:
        addresses.append("127.0.0.1")
    return addresses


def allow_loopback_candidates(enabled: bool) -> None:
    """Offer 127.0.0.1 as a host candidate (tests, demo on one machine); process-wide.

    aioice leaves loopback out, so two peers on a machine without another interface never
    connect. Off again restores aioice's own function.
    """
    aioice.ice.get_host_addresses = _with_loopback if enabled else _original_get_host_addresses
