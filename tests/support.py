"""Test helpers shared by the suites: a settable clock, valid NIKs, generated photos, and the
participant journey over HTTP. No fakes of our own code: these only make inputs."""

from __future__ import annotations

import io
import os
import socket
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np
from PIL import Image

POSTGRES_ADMIN_URL = os.environ.get(
    "TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


@dataclass
class SettableClock:
    """A clock the test moves by hand."""

    current: datetime = field(default_factory=lambda: datetime(2026, 11, 24, 3, 0, tzinfo=UTC))
    mono: float = 1000.0

    def now(self) -> datetime:
        return self.current

    def monotonic(self) -> float:
        return self.mono

    def advance(self, seconds: float) -> None:
        self.current += timedelta(seconds=seconds)
        self.mono += seconds


_serial = iter(range(1, 10_000))


def make_nik(birth: date = date(1990, 1, 1), female: bool = False, province: str = "32") -> str:
    """A valid NIK with a fresh serial number (so tests never collide on the live-NIK rule)."""
    day = birth.day + (40 if female else 0)
    rnd = uuid.uuid4().int
    regency, district = rnd % 99 + 1, (rnd >> 8) % 99 + 1
    serial = (next(_serial) + (rnd >> 16)) % 9999 + 1
    return (
        f"{province}{regency:02d}{district:02d}{day:02d}{birth.month:02d}{birth.year % 100:02d}"
        f"{serial:04d}"
    )


def photo_bytes(
    width: int = 800,
    height: int = 600,
    brightness: int = 140,
    blur: bool = False,
    fmt: str = "JPEG",
    exif: bytes | None = None,
    seed: int = 1,
) -> bytes:
    """A textured photo: sharp unless ``blur``; mean luma about ``brightness``."""
    rng = np.random.default_rng(seed)
    if blur:
        grey = np.full((height, width), brightness, np.float32)
        grey += np.linspace(-10, 10, width, dtype=np.float32)[None, :]
    else:
        grey = brightness + rng.normal(0, 40, (height, width)).astype(np.float32)
    grey = np.clip(grey, 0, 255).astype(np.uint8)
    image = Image.fromarray(np.stack([grey] * 3, axis=-1), "RGB")
    out = io.BytesIO()
    kwargs: dict[str, Any] = {"exif": exif} if exif is not None else {}
    image.save(out, format=fmt, **kwargs)
    return out.getvalue()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
