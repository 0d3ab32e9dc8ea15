"""Encoded media for recording tests, made with PyAV (no network)."""

from __future__ import annotations

import fractions
from collections.abc import Iterator

import av
import numpy as np

from recording.writer import MediaPacket


def vp8_packets(
    track: str, seconds: float, fps: int = 30, start: float = 0.0
) -> Iterator[MediaPacket]:
    enc = av.CodecContext.create("libvpx", "w")
    enc.width, enc.height, enc.pix_fmt = 640, 480, "yuv420p"
    enc.time_base = fractions.Fraction(1, fps)
    enc.bit_rate = 400_000
    for i in range(int(seconds * fps)):
        img = np.zeros((480, 640, 3), np.uint8)
        img[:, (i * 8) % 640 :] = 200  # a moving edge
        frame = av.VideoFrame.from_ndarray(img, format="rgb24").reformat(format="yuv420p")
        frame.pts = i
        for p in enc.encode(frame):
            data = bytes(p)
            yield MediaPacket(
                track, data, i * 90000 // fps, 90000, not data[0] & 1, start + i / fps
            )


def opus_packets(track: str, seconds: float, start: float = 0.0) -> Iterator[MediaPacket]:
    enc = av.CodecContext.create("libopus", "w")
    enc.sample_rate, enc.layout, enc.format = 48000, "stereo", "s16"
    enc.time_base = fractions.Fraction(1, 48000)
    t = np.arange(960) / 48000
    for i in range(int(seconds * 50)):
        tone = (np.sin(2 * np.pi * 440 * (t + i * 0.02)) * 8000).astype(np.int16)
        frame = av.AudioFrame.from_ndarray(
            np.repeat(tone, 2)[None, :], format="s16", layout="stereo"
        )
        frame.sample_rate, frame.pts = 48000, i * 960
        for p in enc.encode(frame):
            yield MediaPacket(track, bytes(p), i * 960, 48000, True, start + i * 0.02)


def interleave(*streams: Iterator[MediaPacket]) -> list[MediaPacket]:
    return sorted((p for s in streams for p in s), key=lambda p: p.arrival)
