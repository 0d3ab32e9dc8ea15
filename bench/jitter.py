"""A video jitter buffer that hands a frame on when its last packet (RTP marker) arrives.

aiortc's ``JitterBuffer`` only knows a frame is complete when a packet of the *next* frame
arrives, so every aiortc receiver adds one frame interval (66.7 ms at 15 fps) to the latency.
Browsers complete a frame on the marker bit. The benchmark's client peers stand in for browsers,
so they use this; the server's receivers still use aiortc's (see docs/benchmarks.md).
"""

from __future__ import annotations

from aiortc.jitterbuffer import JitterBuffer, JitterFrame
from aiortc.rtcrtpreceiver import RTCRtpReceiver
from aiortc.rtp import RtpPacket

_RECEIVER_JITTER = "_RTCRtpReceiver__jitter_buffer"


class MarkerJitterBuffer(JitterBuffer):
    def _remove_frame(self, sequence_number: int) -> JitterFrame | None:
        origin = self._origin
        if origin is None:
            return None
        packets: list[RtpPacket] = []
        for count in range(self.capacity):
            packet = self._packets[(origin + count) % self.capacity]
            if packet is None:
                return None  # a gap: wait for the missing packet (or a later reset)
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


def use_marker_jitter_buffer(receiver: RTCRtpReceiver) -> None:
    """Swap a video receiver's jitter buffer; call before its first packet arrives."""
    setattr(receiver, _RECEIVER_JITTER, MarkerJitterBuffer(capacity=512, is_video=True))
