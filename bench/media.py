"""Pre-encoded test media: a panning 640x480 picture with its frame index stamped in, as VP8
or H.264 (libx264, constrained baseline, as Safari sends), and a tone as Opus. Encoded once per
machine, then looped by the sending peers for free.

The stamp is two rows of 16 blocks of 16x16 pixels in the top-left corner: row 0 holds the
16 bits of the frame index (white = 1), row 1 the same bits inverted. Reading compares each
block with the one below it, so no absolute threshold is involved and VP8's blurring of flat
macroblock-aligned blocks does not flip a bit.
"""

from __future__ import annotations

import os
import pickle
import tempfile
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from aiortc import RTCRtpCodecParameters
from aiortc.codecs import depayload
from aiortc.codecs.h264 import H264Encoder
from av.video.frame import PictureType

WIDTH, HEIGHT = 640, 480
FPS = 15
VIDEO_CLOCK = 90_000
AUDIO_RATE = 48_000
AUDIO_FRAME = 960  # 20 ms
STAMP_BITS = 16
BLOCK = 16
MIN_CONTRAST = 40  # grey levels between a bit block and its inverse; less means unreadable
VIDEO_BITRATE = 500_000


@dataclass(frozen=True, slots=True)
class VideoLoop:
    """``inter[i]`` continues the sequence (``inter[0]`` is a keyframe); ``key[i]`` is the same
    picture as an independent keyframe, sent instead when the receiver asks for one."""

    inter: tuple[bytes, ...]
    key: tuple[bytes, ...]
    codec: str = "VP8"  # aiortc codec name: "VP8" or "H264"

    def __len__(self) -> int:
        return len(self.inter)

    def index_of(self) -> dict[bytes, int]:
        """Encoded bytes -> frame index: what a passthrough receiver gets is byte-identical
        (H.264: as aiortc's depayloader rebuilds an access unit, 4-byte start codes)."""
        received = h264_as_received if self.codec == "H264" else bytes
        table = {received(data): i for i, data in enumerate(self.key)}
        table.update({received(data): i for i, data in enumerate(self.inter)})
        return table


def texture(seed: int = 7) -> np.ndarray:
    """A blocky grey texture twice as wide as the picture, to pan over."""
    rng = np.random.default_rng(seed)
    blocks = rng.integers(60, 200, (HEIGHT // 8, WIDTH // 4), dtype=np.uint8)
    return np.kron(blocks, np.ones((8, 8), np.uint8))[:HEIGHT, : WIDTH * 2]


def stamp(picture: np.ndarray, index: int) -> None:
    """Write ``index`` into the top-left corner of a grey picture, in place."""
    for bit in range(STAMP_BITS):
        on = (index >> bit) & 1
        x = bit * BLOCK
        picture[0:BLOCK, x : x + BLOCK] = 255 if on else 0
        picture[BLOCK : 2 * BLOCK, x : x + BLOCK] = 0 if on else 255


def read_stamp(luma: np.ndarray) -> int | None:
    """The index stamped into a picture's luma plane; None when the stamp is unreadable."""
    top = luma[4 : BLOCK - 4, : STAMP_BITS * BLOCK].astype(np.int16)
    bottom = luma[BLOCK + 4 : 2 * BLOCK - 4, : STAMP_BITS * BLOCK].astype(np.int16)
    diff = (top - bottom).reshape(BLOCK - 8, STAMP_BITS, BLOCK).mean(axis=(0, 2))
    if np.abs(diff).min() < MIN_CONTRAST:
        return None
    return int(sum(1 << bit for bit in range(STAMP_BITS) if diff[bit] > 0))


def luma_of(frame: av.VideoFrame) -> np.ndarray:
    """The Y plane as a (height, width) view, without copying."""
    plane = frame.planes[0]
    rows: np.ndarray = np.frombuffer(memoryview(plane), np.uint8)
    return rows.reshape(frame.height, plane.line_size)[:, : frame.width]


def picture(base: np.ndarray, index: int) -> np.ndarray:
    shift = (index * 6) % WIDTH  # a steady pan: every frame differs from the last
    out = np.ascontiguousarray(base[:, shift : shift + WIDTH])
    stamp(out, index)
    return out


def _vp8_encoder(bitrate: int) -> av.VideoCodecContext:
    encoder = av.CodecContext.create("libvpx", "w")
    encoder.width, encoder.height = WIDTH, HEIGHT
    encoder.pix_fmt = "yuv420p"
    encoder.time_base = Fraction(1, FPS)
    encoder.bit_rate = bitrate
    # Realtime, no look-ahead: one packet per frame, like a browser's encoder. Error resilient:
    # no entropy state carried between frames, so a keyframe of the other encoder can stand
    # in for any frame of the sequence (our answer to a PLI).
    encoder.options = {
        "deadline": "realtime",
        "lag-in-frames": "0",
        "cpu-used": "8",
        "error-resilient": "1",
    }
    return encoder


def _encode_one(encoder: av.VideoCodecContext, grey: np.ndarray, pts: int, key: bool) -> bytes:
    frame = av.VideoFrame.from_ndarray(grey, format="gray").reformat(format="yuv420p")
    frame.pts = pts
    if key:
        frame.pict_type = PictureType.I
    packets = encoder.encode(frame)
    if len(packets) != 1:
        raise RuntimeError(f"expected one video packet per frame, got {len(packets)}")
    return bytes(packets[0])


def _h264_encoder(bitrate: int, keyint: int) -> av.VideoCodecContext:
    encoder = av.CodecContext.create("libx264", "w")
    encoder.width, encoder.height = WIDTH, HEIGHT
    encoder.pix_fmt = "yuv420p"
    encoder.time_base = Fraction(1, FPS)
    encoder.bit_rate = bitrate
    # Constrained baseline (profile-level-id 42e0xx, what aiortc negotiates), no B-frames, no
    # look-ahead: one access unit per frame; SPS/PPS with every keyframe. A keyframe of the
    # other encoder can stand in for any frame: FFmpeg decodes the P-frames after it (checked).
    encoder.options = {
        "preset": "ultrafast",
        "tune": "zerolatency",
        "profile": "baseline",
        "bframes": "0",
        "keyint": str(keyint),
        "min-keyint": str(keyint),
        "scenecut": "0",
        "repeat-headers": "1",
    }
    return encoder


H264_CODEC = RTCRtpCodecParameters(mimeType="video/H264", clockRate=VIDEO_CLOCK, payloadType=102)


def h264_as_received(data: bytes) -> bytes:
    """An access unit as an aiortc receiver hands it on: packed (STAP-A/FU-A) as aiortc's
    sender does, then depayloaded."""
    packet = av.Packet(data)
    packet.pts, packet.time_base = 0, Fraction(1, VIDEO_CLOCK)
    payloads, _ = H264Encoder().pack(packet)
    return b"".join(depayload(H264_CODEC, p) for p in payloads)


def encode_video_loop(
    frames: int = 150, bitrate: int = VIDEO_BITRATE, codec: str = "VP8"
) -> VideoLoop:
    """Encode ``frames`` stamped pictures twice: as a sequence and as keyframes."""
    base = texture()
    pictures = [picture(base, i) for i in range(frames)]
    if codec == "H264":
        inter_encoder = _h264_encoder(bitrate, keyint=100_000)
        key_encoder = _h264_encoder(bitrate * 3, keyint=1)
    else:
        inter_encoder, key_encoder = _vp8_encoder(bitrate), _vp8_encoder(bitrate * 3)
    inter = tuple(_encode_one(inter_encoder, p, i, i == 0) for i, p in enumerate(pictures))
    key = tuple(_encode_one(key_encoder, p, i, True) for i, p in enumerate(pictures))
    return VideoLoop(inter, key, codec)


def encode_audio_loop(packets: int = 50, hz: float = 440.0) -> tuple[bytes, ...]:
    """A tone as 20 ms Opus packets (mono, 48 kHz)."""
    encoder = av.CodecContext.create("libopus", "w")
    encoder.sample_rate = AUDIO_RATE
    encoder.layout = "mono"
    encoder.format = "s16"
    encoder.bit_rate = 32_000
    out: list[bytes] = []
    for n in range(packets + 4):
        t = (n * AUDIO_FRAME + np.arange(AUDIO_FRAME)) / AUDIO_RATE
        tone = (np.sin(2 * np.pi * hz * t) * 6000).astype(np.int16).reshape(1, -1)
        frame = av.AudioFrame.from_ndarray(tone, format="s16", layout="mono")
        frame.sample_rate, frame.pts = AUDIO_RATE, n * AUDIO_FRAME
        out.extend(bytes(p) for p in encoder.encode(frame))
    return tuple(out[:packets])


def decode_stamps(decoder: av.CodecContext, data: bytes) -> list[int | None]:
    """Decode one video frame; the stamps of the pictures that came out."""
    frames = decoder.decode(av.Packet(data))  # type: ignore[attr-defined]  # video context
    return [read_stamp(luma_of(f)) for f in frames]


def vp8_decoder() -> av.CodecContext:
    return av.CodecContext.create("vp8", "r")


def video_decoder(codec: str) -> av.CodecContext:
    return av.CodecContext.create("h264" if codec == "H264" else "vp8", "r")


CACHE_DIR = Path(tempfile.gettempdir()) / "videocall-bench"
CACHE_VERSION = 2  # 2: VideoLoop.codec


def cached_media(frames: int = 150, codec: str = "VP8") -> tuple[VideoLoop, tuple[bytes, ...]]:
    """The encoded loops, encoded once per machine (encoding takes seconds, more when busy)."""
    name = "" if codec == "VP8" else f"-{codec.lower()}"
    path = CACHE_DIR / f"media-v{CACHE_VERSION}-{frames}-{VIDEO_BITRATE}{name}.pkl"
    if path.exists():
        with path.open("rb") as f:
            loaded: tuple[VideoLoop, tuple[bytes, ...]] = pickle.load(f)
        return loaded
    media = (encode_video_loop(frames, codec=codec), encode_audio_loop())
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(f".{os.getpid()}.tmp")
    with partial.open("wb") as f:
        pickle.dump(media, f)
    partial.replace(path)  # atomic: parallel workers never read half a file
    return media
