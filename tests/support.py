"""Test helpers shared by the suites: a settable clock, valid NIKs, generated photos, and the
participant journey over HTTP. No fakes of our own code: these only make inputs."""

from __future__ import annotations

import io
import os
import random
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


# Ports for servers a test starts itself (subprocesses, webhook receivers). Not the kernel's
# ephemeral range (32768-60999): a port handed out there and closed again may be given to any
# outgoing connection or bind(0) before the test's server binds it. Each xdist worker draws from
# a slice of its own, so workers never hand out the same port.
_PORTS_LOW, _PORTS_HIGH = 20000, 32000
_handed_out: set[int] = set()


def _port_slice() -> range:
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    count = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    index = int(worker[2:]) if worker.startswith("gw") and worker[2:].isdigit() else 0
    size = (_PORTS_HIGH - _PORTS_LOW) // max(count, 1)
    start = _PORTS_LOW + (index % max(count, 1)) * size
    return range(start, start + size)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free now and not handed out before by this process."""
    ports = _port_slice()
    for _ in range(200):
        port = random.choice(ports)
        if port in _handed_out:
            continue
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        _handed_out.add(port)
        return port
    raise RuntimeError(f"no free port in {ports}")
