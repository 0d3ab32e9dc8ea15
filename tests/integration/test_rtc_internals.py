"""Fails loudly when an aiortc/aioice upgrade breaks an internal that rtc_forward.py relies on."""

from __future__ import annotations

import asyncio
import inspect
import queue

import aioice.ice
import pytest
from aiortc import RTCPeerConnection, RTCRtpReceiver, RTCRtpSender
from aiortc.jitterbuffer import JitterBuffer
from aiortc.rtcrtpreceiver import StreamStatistics
from aiortc.rtp import RtpPacket
from media_peers import PatternTrack, wait_for

from media import ice_consent, rtc_forward

UPGRADE_HINT = (
    "aiortc internals used by media/rtc_forward.py changed ({what}); "
    "re-read the module docstring's list and adapt before upgrading aiortc/aioice"
)


def require(condition: bool, what: str) -> None:
    if not condition:
        pytest.fail(UPGRADE_HINT.format(what=what))


def test_receiver_internals_exist() -> None:
    source = inspect.getsource(RTCRtpReceiver)
    require("self.__decoder_queue.put((codec, encoded_frame))" in source, "decoder queue put")
    require("self.__decoder_queue.put(None)" in source, "decoder stop signal")
    require("self.__decoder_queue," in inspect.getsource(RTCRtpReceiver.receive), "receive() queue")
    require(hasattr(RTCRtpReceiver, "_send_rtcp_pli"), "RTCRtpReceiver._send_rtcp_pli")
    require(
        {"packets_expected", "packets_received", "max_seq"} <= set(dir(StreamStatistics(90000))),
        "StreamStatistics counters",
    )


async def test_ice_consent_guard_internals_and_effect() -> None:
    """media/ice_consent.py: connect() starts query_consent after the checks, close() sets
    _closing first; a consent task started on a closing connection ends at once."""
    connect = inspect.getsource(aioice.ice.Connection.connect)
    require("self.query_consent()" in connect, "Connection.connect starts query_consent")
    close = inspect.getsource(aioice.ice.Connection.close)
    require("self._closing = True" in close, "Connection.close sets _closing")
    ice_consent.guard_consent_after_close()
    connection = aioice.ice.Connection(ice_controlling=True)
    await connection.close()
    task = asyncio.ensure_future(connection.query_consent())
    await asyncio.wait_for(task, 1)  # without the guard: sleeps ~5 s, then loops for ever


def test_jitter_buffer_internals_exist() -> None:
    init = inspect.getsource(RTCRtpReceiver.__init__)
    require("self.__jitter_buffer = JitterBuffer(" in init, "receiver jitter buffer attribute")
    handle = inspect.getsource(RTCRtpReceiver._handle_rtp_packet)
    require("self.__jitter_buffer.add(packet)" in handle, "jitter buffer add()")
    add = inspect.getsource(JitterBuffer.add)
    require("self._remove_frame(packet.sequence_number)" in add, "JitterBuffer._remove_frame")
    buffer = JitterBuffer(capacity=16, is_video=True)
    require(
        {"_origin", "_packets"} <= set(vars(buffer)) and hasattr(buffer, "remove"),
        "JitterBuffer _origin/_packets/remove",
    )


def test_marker_jitter_buffer_completes_frames_on_the_marker_bit() -> None:
    buffer = rtc_forward.MarkerJitterBuffer(capacity=16, is_video=True)
    first = [RtpPacket(sequence_number=10 + i, timestamp=3000, marker=i == 2) for i in range(3)]
    for packet, data in zip(first, (b"a", b"b", b"c"), strict=True):
        packet._data = data
    assert buffer.add(first[0])[1] is None
    assert buffer.add(first[1])[1] is None
    frame = buffer.add(first[2])[1]  # aiortc's own buffer would wait for the next frame here
    assert frame is not None and frame.data == b"abc" and frame.timestamp == 3000
    lost_marker = RtpPacket(sequence_number=13, timestamp=6000)
    lost_marker._data = b"d"
    assert buffer.add(lost_marker)[1] is None
    nxt = RtpPacket(sequence_number=14, timestamp=9000, marker=True)
    nxt._data = b"e"
    assert buffer.add(nxt)[1].data == b"d"  # the next frame's start completes the last one


def test_sender_internals_exist() -> None:
    require(hasattr(RTCRtpSender, "_send_keyframe"), "RTCRtpSender._send_keyframe")
    handler = inspect.getsource(RTCRtpSender._handle_rtcp_packet)
    require("self._send_keyframe()" in handler, "PLI/FIR -> _send_keyframe")
    next_frame = inspect.getsource(RTCRtpSender._next_encoded_frame)
    require("self.__encoder.pack(data)" in next_frame, "pre-encoded packets packed, not encoded")


def test_aioice_host_addresses() -> None:
    require(callable(getattr(aioice.ice, "get_host_addresses", None)), "get_host_addresses")
    rtc_forward.allow_loopback_candidates(True)
    try:
        require("127.0.0.1" in aioice.ice.get_host_addresses(True, False), "loopback wrapper")
    finally:
        rtc_forward.allow_loopback_candidates(False)
    require("127.0.0.1" not in aioice.ice.get_host_addresses(True, False), "restored")


async def test_tap_sees_encoded_frames_on_a_live_receiver() -> None:
    """The private attributes exist on a real receiver and the tap really gets frames."""
    rtc_forward.allow_loopback_candidates(True)
    sender_pc, receiver_pc = RTCPeerConnection(), RTCPeerConnection()
    frames: list[rtc_forward.EncodedFrame] = []
    receivers: list[RTCRtpReceiver] = []

    @receiver_pc.on("track")
    def on_track(track: object) -> None:
        receiver = next(
            t.receiver for t in receiver_pc.getTransceivers() if t.receiver.track is track
        )
        for name in ("_RTCRtpReceiver__decoder_queue", "_RTCRtpReceiver__decoder_thread"):
            require(hasattr(receiver, name), name)
        require(
            isinstance(getattr(receiver, rtc_forward._RECEIVER_QUEUE), queue.Queue), "queue type"
        )
        rtc_forward.install_tap(receiver, frames.append, "internals")
        receivers.append(receiver)

    try:
        sender_pc.addTrack(PatternTrack())
        await sender_pc.setLocalDescription(await sender_pc.createOffer())
        await receiver_pc.setRemoteDescription(sender_pc.localDescription)
        await receiver_pc.setLocalDescription(await receiver_pc.createAnswer())
        await sender_pc.setRemoteDescription(receiver_pc.localDescription)
        await wait_for(lambda: len(frames) >= 5, timeout=10)
        require(frames[0].codec == "VP8" and frames[0].keyframe, "first frame is a VP8 keyframe")
        [receiver] = receivers
        require(hasattr(receiver, rtc_forward._RECEIVER_RTX), "RTX SSRC map")
        require(rtc_forward.media_ssrcs(receiver) != [], "media SSRCs")
        expected, received = rtc_forward.inbound_counts(receiver)
        require(expected >= received > 0, "per-SSRC statistics")
    finally:
        await sender_pc.close()
        await receiver_pc.close()
        rtc_forward.allow_loopback_candidates(False)
