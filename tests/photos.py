"""Big photo files for the upload tests and ``bench/loop_lag.py``."""

from __future__ import annotations

import zlib

from videocall.documents import MAX_PIXELS

BIG = 7000  # 49 000 000 pixels: just under the limit


def png_chunk(name: bytes, payload: bytes) -> bytes:
    crc = zlib.crc32(name + payload).to_bytes(4, "big")
    return len(payload).to_bytes(4, "big") + name + payload + crc


def big_grey_png(size: int = BIG, level: int = 128) -> bytes:
    """A uniform grey ``size`` x ``size`` PNG, deflated about as far as zlib goes (58 KB at
    7000; the report's file was 47 KB)."""
    assert size * size <= MAX_PIXELS and size % 500 == 0
    deflate = zlib.compressobj(9, zlib.DEFLATED, 15, 9, zlib.Z_RLE)
    rows = (b"\x00" + bytes([level]) * size) * 500  # filter type 0, then the pixels
    body = b"".join(deflate.compress(rows) for _ in range(size // 500)) + deflate.flush()
    header = size.to_bytes(4, "big") * 2 + b"\x08\x00\x00\x00\x00"  # 8-bit grey
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", header)
        + png_chunk(b"IDAT", body)
        + png_chunk(b"IEND", b"")
    )
