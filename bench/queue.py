"""Queue store benchmark: joins per second, accept latency under concurrent accepts, fan-out cost.

    python -m bench.queue --waiting 10000 --officers 500 --backend memory|redis|both

Measures the real ``QueueStore`` implementations (``videocall.adapters.memory_queue`` and
``redis_queue``) in this process; Redis runs the same Lua scripts as in production, under a
throw-away key prefix that is deleted afterwards. What it cannot see: the Socket.IO emits of
the signalling layer (``accept -> both sides told`` adds two emits to the accept latency).
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import os
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from bench.report import environment, ms, percentile, print_table, write_result
from videocall.adapters.memory_queue import MemoryQueueStore
from videocall.adapters.redis_queue import RedisQueueStore, connect
from videocall.presence import Presence
from videocall.queue import (
    ParticipantCard,
    QueueStore,
    WaitStatus,
    changed_statuses,
    wait_statuses,
)

DOCUMENTS = ("face", "ktp", "selfie_with_ktp")


@dataclass(frozen=True, slots=True)
class QueueBenchConfig:
    waiting: int
    officers: int
    backend: str
    concurrency: int  # joins / accepts in flight at once
    fanouts: int  # position-update fan-outs measured
    redis_url: str


def card(n: int) -> ParticipantCard:
    return ParticipantCard.of(f"rec-{n:06d}", f"Peserta {n}", f"3201{n:012d}", DOCUMENTS)


def now() -> datetime:
    return datetime.now(UTC)


async def timed(op: Callable[[], Awaitable[Any]]) -> float:
    start = time.perf_counter()
    await op()
    return time.perf_counter() - start


async def bounded(ops: Sequence[Callable[[], Awaitable[Any]]], limit: int) -> list[float]:
    """Run ``ops`` with at most ``limit`` in flight; each op's own latency."""
    gate = asyncio.Semaphore(limit)

    async def one(op: Callable[[], Awaitable[Any]]) -> float:
        async with gate:
            return await timed(op)

    return list(await asyncio.gather(*(one(op) for op in ops)))


async def bench_joins(store: QueueStore, waiting: int, concurrency: int) -> dict[str, Any]:
    ops = [functools.partial(store.join, card(n), now()) for n in range(waiting)]
    start = time.perf_counter()
    latencies = await bounded(ops, concurrency)
    elapsed = time.perf_counter() - start
    return {
        "joins": waiting,
        "concurrency": concurrency,
        "joins_per_s": round(waiting / elapsed, 1),
        "join_p50_ms": ms(percentile(latencies, 50)),
        "join_p99_ms": ms(percentile(latencies, 99)),
    }


async def make_available(store: QueueStore, officers: Sequence[str]) -> None:
    for officer in officers:
        await store.set_presence(officer, Presence.AVAILABLE)


async def accept_burst(
    store: QueueStore, officers: Sequence[str], tag: str, in_flight: int
) -> list[float]:
    """Every officer accepts at the same moment; each accept's latency, queueing included.

    At most ``in_flight`` run at once: redis-py's default pool (100 connections) raises
    MaxConnectionsError instead of waiting when one process sends more commands at once.
    """
    gate = asyncio.Semaphore(in_flight)
    start = time.perf_counter()

    async def accept(officer: str) -> float:
        async with gate:
            await store.accept_next(officer, f"call-{tag}-{officer}", now())
        return time.perf_counter() - start

    return list(await asyncio.gather(*(accept(o) for o in officers)))


async def accept_one_by_one(store: QueueStore, officers: Sequence[str], tag: str) -> list[float]:
    """Uncontended accepts, one after the other."""
    return [
        await timed(functools.partial(store.accept_next, o, f"call-{tag}-{o}", now()))
        for o in officers
    ]


def status_message(status: WaitStatus) -> str:
    """What a participant's socket would carry for a position update."""
    return json.dumps(
        {
            "position": status.position,
            "estimated_wait_seconds": status.estimated_wait_seconds,
            "lane": status.lane.value,
        }
    )


async def one_fanout(
    store: QueueStore, officer: str, previous: dict[str, WaitStatus]
) -> tuple[dict[str, float], dict[str, WaitStatus]]:
    """One accept moves everyone up: re-read, recompute, diff, encode one message each."""
    await store.set_presence(officer, Presence.AVAILABLE)
    await store.accept_next(officer, f"call-fan-{officer}", now())
    t0 = time.perf_counter()
    snapshot = await store.snapshot()
    t1 = time.perf_counter()
    current = wait_statuses(snapshot)
    t2 = time.perf_counter()
    changed = changed_statuses(previous, current)
    t3 = time.perf_counter()
    messages = [status_message(s) for s in changed.values()]
    t4 = time.perf_counter()
    cost = {
        "snapshot": t1 - t0,
        "statuses": t2 - t1,
        "diff": t3 - t2,
        "encode": t4 - t3,
        "total": t4 - t0,
        "changed": float(len(messages)),
    }
    return cost, current


async def bench_fanout(store: QueueStore, rounds: int) -> dict[str, Any]:
    previous = wait_statuses(await store.snapshot())
    costs: list[dict[str, float]] = []
    for n in range(rounds):
        cost, previous = await one_fanout(store, f"fan-officer-{n}", previous)
        costs.append(cost)
    out: dict[str, Any] = {"rounds": rounds, "changed": int(costs[-1]["changed"])}
    for part in ("snapshot", "statuses", "diff", "encode", "total"):
        out[f"{part}_p50_ms"] = ms(percentile([c[part] for c in costs], 50))
    out["total_max_ms"] = ms(max(c["total"] for c in costs))
    return out


async def bench_accepts(store: QueueStore, officers: int, in_flight: int) -> dict[str, Any]:
    """Half the officers accept one by one, then the other half all at once."""
    names = [f"officer-{n:04d}" for n in range(officers)]
    single, burst = names[: officers // 2], names[officers // 2 :]
    await make_available(store, names)
    one_by_one = await accept_one_by_one(store, single, "seq")
    start = time.perf_counter()
    concurrent = await accept_burst(store, burst, "burst", in_flight)
    elapsed = time.perf_counter() - start
    return {
        "sequential_accepts": len(single),
        "sequential_p50_ms": ms(percentile(one_by_one, 50)),
        "sequential_p99_ms": ms(percentile(one_by_one, 99)),
        "concurrent_accepts": len(burst),
        "concurrent_in_flight": in_flight,
        "concurrent_p50_ms": ms(percentile(concurrent, 50)),
        "concurrent_p99_ms": ms(percentile(concurrent, 99)),
        "concurrent_accepts_per_s": round(len(burst) / elapsed, 1),
    }


async def open_store(config: QueueBenchConfig) -> tuple[QueueStore, Callable[[], Awaitable[None]]]:
    """The store under test and how to clean it up."""
    if config.backend == "memory":
        return MemoryQueueStore(), _nothing
    redis = connect(config.redis_url)
    store = RedisQueueStore(redis, prefix=f"bench-{os.getpid()}")
    await store.clear()

    async def cleanup() -> None:
        await store.clear()
        await redis.aclose()

    return store, cleanup


async def _nothing() -> None:
    return None


async def run_backend(config: QueueBenchConfig) -> dict[str, Any]:
    store, cleanup = await open_store(config)
    try:
        joins = await bench_joins(store, config.waiting, config.concurrency)
        fanout = await bench_fanout(store, config.fanouts)
        accepts = await bench_accepts(store, config.officers, config.concurrency)
    finally:
        await cleanup()
    return {"joins": joins, "fanout": fanout, "accepts": accepts}


def summary_rows(backend: str, result: dict[str, Any]) -> list[tuple[str, Any]]:
    j, f, a = result["joins"], result["fanout"], result["accepts"]
    return [
        ("backend", backend),
        ("joins/s", j["joins_per_s"]),
        ("join p50 / p99 ms", f"{j['join_p50_ms']} / {j['join_p99_ms']}"),
        (
            "accept p50 / p99 ms (one by one)",
            f"{a['sequential_p50_ms']} / {a['sequential_p99_ms']}",
        ),
        (
            f"accept p50 / p99 ms ({a['concurrent_accepts']} at once)",
            f"{a['concurrent_p50_ms']} / {a['concurrent_p99_ms']}",
        ),
        (f"fan-out to {f['changed']} ms (p50 total)", f["total_p50_ms"]),
        (
            "  snapshot / statuses / diff / encode ms",
            f"{f['snapshot_p50_ms']} / {f['statuses_p50_ms']} / {f['diff_p50_ms']} / "
            f"{f['encode_p50_ms']}",
        ),
    ]


async def run(config: QueueBenchConfig) -> dict[str, Any]:
    """Run one backend, print a summary and write ``bench/results/queue-<backend>.json``."""
    env = environment()
    result = await run_backend(config)
    data = {"benchmark": "queue", "config": asdict(config), "env": env, **result}
    path = write_result(f"queue-{config.backend}", data)
    print(f"queue benchmark, {config.waiting} waiting, {config.officers} officers -> {path}")
    print_table(summary_rows(config.backend, result))
    return data


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--waiting", type=int, default=10_000)
    parser.add_argument("--officers", type=int, default=500)
    parser.add_argument("--backend", choices=("memory", "redis", "both"), default="both")
    parser.add_argument(
        "--concurrency", type=int, default=64, help="joins and accepts in flight at once"
    )
    parser.add_argument("--fanouts", type=int, default=5)
    parser.add_argument(
        "--redis-url", default=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
    )
    return parser.parse_args(argv)


def configs(args: argparse.Namespace) -> list[QueueBenchConfig]:
    backends = ("memory", "redis") if args.backend == "both" else (args.backend,)
    return [
        QueueBenchConfig(
            args.waiting, args.officers, b, args.concurrency, args.fanouts, args.redis_url
        )
        for b in backends
    ]


def main(argv: list[str] | None = None) -> None:
    for config in configs(parse_args(argv)):
        asyncio.run(run(config))


if __name__ == "__main__":
    main()
