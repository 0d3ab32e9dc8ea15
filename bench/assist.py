"""Officer assist: CPU-seconds per KTP read and per face comparison, and the event loop's lag
while they run through a process pool (the shared ``CpuPool`` kind) and a thread pool.

    python -m bench.assist [--reads 6] [--faces 6]

Writes ``bench/results/assist.json``. CPU time counts this process and its children (Tesseract
runs as a child process); the lag is how late a 10 ms timer on the loop fires.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import multiprocessing
import resource
import statistics
import time
from collections.abc import Callable
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from datetime import date
from pathlib import Path
from typing import Any

from PIL import Image
from skimage import data

from tests.assist_support import Card, photograph, render_ktp, variants
from videocall.adapters.assist_jobs import analyse_document
from videocall.adapters.face_model import find_faces
from videocall.adapters.ktp_ocr import read_ktp
from videocall.faces import Face, distance, largest

RESULTS = Path(__file__).parent / "results" / "assist.json"
TODAY = date(2026, 11, 25)


def _cpu() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def _jpeg(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.convert("RGB").save(out, format="JPEG", quality=88)
    return out.getvalue()


def photos(n: int) -> tuple[list[bytes], bytes]:
    person = Image.fromarray(data.astronaut())  # type: ignore[no-untyped-call]
    card = render_ktp(Card(), face=person.crop((120, 30, 330, 300)))
    return [photograph(card, v) for v in variants(n, seed=21)], _jpeg(person)


def cpu_per_call(fn: Callable[[], Any], n: int) -> float:
    fn()  # warm: models loaded, caches filled
    start = _cpu()
    for _ in range(n):
        fn()
    return (_cpu() - start) / n


def compare_faces(a: bytes, b: bytes) -> float:
    fa = largest([Face.from_dict(f) for f in find_faces(a) or []])
    fb = largest([Face.from_dict(f) for f in find_faces(b) or []])
    assert fa is not None and fb is not None
    return distance(fa.embedding, fb.embedding)


async def _lag_while(executor: Executor | None, jobs: list[bytes]) -> dict[str, float]:
    """The loop's timer lag while ``jobs`` run in ``executor``; with no executor, the machine's
    own noise over 5 s (the baseline)."""
    loop = asyncio.get_running_loop()
    lags: list[float] = []
    done = asyncio.Event()

    async def ticker() -> None:
        while not done.is_set():
            before = loop.time()
            await asyncio.sleep(0.01)
            lags.append(max(0.0, loop.time() - before - 0.01) * 1000)

    tick = asyncio.create_task(ticker())
    started = time.perf_counter()
    if executor is None:
        await asyncio.sleep(5)
    else:
        await asyncio.gather(
            *(loop.run_in_executor(executor, analyse_document, "ktp", j, TODAY) for j in jobs)
        )
    wall = time.perf_counter() - started
    done.set()
    await tick
    lags.sort()
    return {
        "jobs": len(jobs) if executor is not None else 0,
        "wall_seconds": round(wall, 2),
        "lag_p50_ms": round(statistics.median(lags), 1),
        "lag_p99_ms": round(lags[int(0.99 * (len(lags) - 1))], 1),
        "lag_max_ms": round(lags[-1], 1),
    }


async def loop_lag(jobs: list[bytes]) -> dict[str, Any]:
    """KTP analyses (OCR + faces) through 1 worker of each kind, the loop timed meanwhile."""
    context = multiprocessing.get_context("forkserver")
    out: dict[str, Any] = {"idle": await _lag_while(None, [])}
    with ProcessPoolExecutor(1, mp_context=context) as procs:
        await asyncio.get_running_loop().run_in_executor(
            procs, analyse_document, "ktp", jobs[0], TODAY
        )
        out["process_pool"] = await _lag_while(procs, jobs)
    with ThreadPoolExecutor(1) as threads:
        out["thread_pool"] = await _lag_while(threads, jobs)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--reads", type=int, default=6)
    parser.add_argument("--faces", type=int, default=6)
    args = parser.parse_args()
    ktps, face = photos(max(args.reads, args.faces))
    result: dict[str, Any] = {
        "cpu_seconds_per_ktp_read": round(
            cpu_per_call(lambda: [read_ktp(k, TODAY) for k in ktps[: args.reads]], 1) / args.reads,
            3,
        ),
        "cpu_seconds_per_face_comparison": round(
            cpu_per_call(lambda: compare_faces(ktps[0], face), args.faces), 3
        ),
        "cpu_seconds_per_face_photo": round(cpu_per_call(lambda: find_faces(face), args.faces), 3),
        "loop_lag": asyncio.run(loop_lag(ktps[: args.reads])),
        "machine": {"cpus": multiprocessing.cpu_count(), "load_avg_1m": _load()},
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


def _load() -> float:
    import os

    return round(os.getloadavg()[0], 2)


if __name__ == "__main__":
    main()
