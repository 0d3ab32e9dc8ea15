"""Event-loop lag and the officer's video gap while photos are uploaded during a live call.

    python -m bench.loop_lag [--rounds 3] [--modes process,thread,inline] [--photo grey|rgb]

One server process, as in production: the real app (SQLite) on an aiohttp test server and a live
call (``MediaCall``) on the same event loop; the call's participant and officer are real aiortc
peers in another process (``bench.loop_lag_peers``, as browsers would be), on loopback.
Each round uploads the three documents of one participant at once, each a 7000 x 7000 PNG
(``grey``: the 58 KB uniform file of the report; ``rgb``: a 7000 x 7000 colour one, 160 KB);
measured from the first upload until two seconds after the last answer:

- loop lag: a task sleeping 20 ms, how late it wakes (p50, p99, max), as ``web/loop_lag.py``;
- officer video gap: the longest time between two video frames the officer's peer received
  (timed in the peers' process);
- ``/healthz`` worst answer time (polled every 50 ms) and quality warnings raised (any side).

Modes: ``process`` (the default ``WorkerPool``), ``thread`` (a ``WorkerPool`` of threads), both
for every job of the app (the assist's OCR and face models too); ``inline`` (the clean-up called
on the event loop, as before the CPU pool, assist jobs refused: the baseline of the ratios).
Writes ``bench/results/loop-lag-<photo>.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
from aiohttp import ClientSession, web
from aiohttp.test_utils import TestServer
from PIL import Image

from bench.report import environment, ms, percentile, print_table, write_result
from media.call import MediaCall, MediaSettings, Side
from server import create_app
from tests.photos import big_grey_png
from tests.support import make_nik
from videocall.adapters.cpu_pool import WorkerPool
from videocall.adapters.migrate import upgrade
from videocall.documents import clean_image
from videocall.errors import Unavailable
from videocall.quality_monitor import QualityEvent
from videocall.settings import Settings
from web import app as web_app
from web import keys

T = TypeVar("T")
KINDS = ("ktp", "selfie_with_ktp", "face")
LAG_INTERVAL_S = 0.02
AFTER_S = 2.0


class InlinePool:
    """The baseline, as before the CPU pool: the photo clean-up on the event loop itself; other
    jobs (the assist's OCR and face models, which came with the pool) are refused."""

    async def run(self, fn: Callable[..., T], /, *args: Any) -> T:
        if fn is not clean_image:
            raise Unavailable("inline baseline: only the upload clean-up", code="server_busy")
        return fn(*args)

    async def close(self) -> None:
        pass


POOLS: dict[str, Callable[[], Any]] = {
    "process": WorkerPool,
    "thread": lambda: WorkerPool("thread"),
    "inline": InlinePool,
}


def rgb_png() -> bytes:
    rng = np.random.default_rng(3)
    blocks = rng.integers(0, 255, (70, 70, 3), dtype=np.uint8)
    image = Image.fromarray(blocks, "RGB").resize((7000, 7000), Image.Resampling.NEAREST)
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()


class Watch:
    """Loop lag samples, /healthz times and quality warnings, while ``on``."""

    def __init__(self) -> None:
        self.on = False
        self.lags: list[float] = []
        self.health: list[float] = []
        self.warnings: list[str] = []

    def quality(self, side: Side, event: QualityEvent) -> None:
        if self.on and event.level != "ok":
            self.warnings.append(f"{side}:{event.measure}={event.level}")

    async def lag(self) -> None:
        while True:
            asked = time.monotonic()
            await asyncio.sleep(LAG_INTERVAL_S)
            if self.on:
                self.lags.append(max(0.0, time.monotonic() - asked - LAG_INTERVAL_S))

    async def healthz(self, http: ClientSession, url: str) -> None:
        while True:
            started = time.monotonic()
            async with http.get(f"{url}/healthz") as response:
                await response.read()
            if self.on:
                self.health.append(time.monotonic() - started)
            await asyncio.sleep(0.05)


class Peers:
    """The client peers' process (``bench.loop_lag_peers``)."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process

    @classmethod
    async def start(cls, offer_url: str) -> Peers:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bench.loop_lag_peers",
            "--url",
            offer_url,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )
        peers = cls(process)
        assert (await peers._line())["event"] == "ready"
        return peers

    async def _line(self) -> dict[str, Any]:
        assert self.process.stdout is not None
        line = await asyncio.wait_for(self.process.stdout.readline(), 60)
        return dict(json.loads(line))

    async def send(self, command: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(f"{command}\n".encode())
        await self.process.stdin.drain()

    async def stop(self) -> dict[str, Any]:
        await self.send("stop")
        return await self._line()

    async def close(self) -> None:
        await self.send("quit")
        await asyncio.wait_for(self.process.wait(), 30)


def offer_app(call: MediaCall) -> web.Application:
    async def offer(request: web.Request) -> web.Response:
        body = await request.json()
        side: Side = "officer" if request.match_info["side"] == "officer" else "participant"
        sdp, type_ = await call.accept_offer(side, body["sdp"], body["type"])
        return web.json_response({"sdp": sdp, "type": type_})

    app = web.Application()
    app.router.add_post("/offer/{side}", offer)
    return app


async def participant(http: ClientSession, url: str) -> dict[str, str]:
    body = {"nik": make_nik(female=True), "mobile": "0812-3456-7890", "email": "a@example.co.id"}
    async with http.post(f"{url}/api/participants", json=body) as response:
        assert response.status == 201, await response.text()
        auth = {"Authorization": f"Bearer {(await response.json())['token']}"}
    profile = {"full_name": "Siti Aminah", "birth_date": "1990-01-01", "sex": "female"}
    async with http.put(f"{url}/api/me/profile", json=profile, headers=auth) as response:
        assert response.status == 200, await response.text()
    return auth


async def upload_three(http: ClientSession, url: str, photo: bytes) -> float:
    auth = await participant(http, url)
    headers = {**auth, "Content-Type": "image/png"}

    async def one(kind: str) -> None:
        async with http.put(f"{url}/api/me/documents/{kind}", data=photo, headers=headers) as r:
            assert r.status == 200, await r.text()

    started = time.monotonic()
    await asyncio.gather(*(one(kind) for kind in KINDS))
    return time.monotonic() - started


def app_settings(directory: Path) -> Settings:
    url = f"sqlite+aiosqlite:///{directory / 'bench.db'}"
    upgrade(url)
    return Settings(
        data_dir=directory / "data",
        database_url=url,
        secret_key="bench-signing-key",
        service_hours="always",
    )


async def run_mode(mode: str, photo: bytes, rounds: int, directory: Path) -> dict[str, Any]:
    app = create_app(await asyncio.to_thread(app_settings, directory))
    web_app.WorkerPool = POOLS[mode]  # type: ignore[attr-defined,assignment] # made at start
    server = TestServer(app, host="127.0.0.1")
    try:
        await server.start_server()
    finally:
        web_app.WorkerPool = WorkerPool  # type: ignore[attr-defined]
    pool = app[keys.CPU_POOL]
    if isinstance(pool, WorkerPool):
        await pool.warm_up()
    url = str(server.make_url("")).rstrip("/")
    watch = Watch()
    settings = MediaSettings(directory / "rec", allow_loopback=True)
    call = MediaCall(f"bench-{mode}", settings, on_quality=watch.quality)
    offers = TestServer(offer_app(call), host="127.0.0.1")
    await offers.start_server()
    peers = await Peers.start(str(offers.make_url("")).rstrip("/"))
    gaps: list[float] = []
    async with ClientSession() as http:
        tasks = [
            asyncio.create_task(watch.lag()),
            asyncio.create_task(watch.healthz(http, url)),
        ]
        await asyncio.sleep(4.0)  # connected, quality classes settled
        upload_s = []
        try:
            for _ in range(rounds):
                watch.on = True
                await peers.send("start")
                upload_s.append(await upload_three(http, url, photo))
                await asyncio.sleep(AFTER_S)
                watch.on = False
                gaps.append((await peers.stop())["gap_max_ms"])
                await asyncio.sleep(1.0)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await peers.close()
            await call.close()
            await offers.close()
            await server.close()
    return summarise(mode, watch, upload_s, gaps)


def summarise(
    mode: str, watch: Watch, upload_s: list[float], gaps_ms: list[float]
) -> dict[str, Any]:
    return {
        "mode": mode,
        "lag_p50_ms": ms(percentile(watch.lags, 50)),
        "lag_p99_ms": ms(percentile(watch.lags, 99)),
        "lag_max_ms": ms(max(watch.lags, default=0.0)),
        "video_gap_max_ms": max(gaps_ms, default=0.0),
        "healthz_max_ms": ms(max(watch.health, default=0.0)),
        "upload_three_s_median": round(float(np.median(upload_s)), 3),
        "quality_warnings": watch.warnings,
        "samples": len(watch.lags),
    }


async def main(args: argparse.Namespace) -> None:
    photo = await asyncio.to_thread(big_grey_png if args.photo == "grey" else rgb_png)
    rows: list[dict[str, Any]] = []
    results = {"environment": environment(), "photo_bytes": len(photo), "modes": rows}
    for mode in args.modes.split(","):
        with tempfile.TemporaryDirectory(prefix="bench-lag-") as directory:
            row = await run_mode(mode, photo, args.rounds, Path(directory))
        rows.append(row)
        print(f"\n{mode} ({args.photo} 7000x7000 PNG, {len(photo)} bytes, {args.rounds} rounds)")
        print_table([(k, v) for k, v in row.items() if k != "mode"])
    base = next((r for r in rows if r["mode"] == "inline"), None)
    if base is not None:
        for row in rows:
            if row is not base and row["lag_p99_ms"]:
                ratio = base["lag_p99_ms"] / row["lag_p99_ms"]
                print(f"lag p99, inline / {row['mode']}: {ratio:.1f}x")
    print(write_result(f"loop-lag-{args.photo}", results))


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--modes", default="process,thread,inline")
    parser.add_argument("--photo", choices=("grey", "rgb"), default="grey")
    return parser.parse_args()


if __name__ == "__main__":
    asyncio.run(main(parse()))
