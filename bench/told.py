"""Accept -> both sides told, through the real server with a long queue on Redis.

    python -m bench.told --waiting 10000 --accepts 20 [--burst]

The server runs with ``REDIS_URL`` (queue and Socket.IO manager on Redis, a throw-away
prefix). ``--accepts`` real participants join first, then ``--waiting`` placeholders are put
straight into the Redis queue behind them (the server sees them as waiting participants who
are not connected to this process: every position change is still emitted to their rooms).
Officers then accept one after the other (or all at once with ``--burst``); for each accept we
time the officer's acknowledgement and the participant's ``paired`` event.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
from datetime import UTC, datetime
from typing import Any

import aiohttp
import socketio

from bench.procs import start_server
from bench.queue import card
from bench.report import environment, ms, percentile, print_table, write_result
from bench.signalling import SignallingSetup, ack, create_officers, settle
from videocall.adapters.redis_queue import RedisQueueStore, connect

REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")


async def prefill(prefix: str, waiting: int) -> None:
    redis = connect(REDIS_URL)
    store = RedisQueueStore(redis, prefix=prefix)
    now = datetime.now(UTC)
    gate = asyncio.Semaphore(64)

    async def one(n: int) -> None:
        async with gate:
            await store.join(card(n), now)

    await asyncio.gather(*(one(n) for n in range(waiting)))
    await redis.aclose()


async def clear(prefix: str) -> None:
    redis = connect(REDIS_URL)
    await RedisQueueStore(redis, prefix=prefix).clear()
    await redis.aclose()


class Pair:
    """One real participant and one officer, connected and ready."""

    def __init__(self, setup: SignallingSetup, n: int) -> None:
        self.setup, self.n = setup, n
        self.participant = socketio.AsyncClient(reconnection=False)
        self.officer = socketio.AsyncClient(reconnection=False)
        self.paired: asyncio.Future[tuple[float, dict[str, Any]]] | None = None

    async def open(self, http: aiohttp.ClientSession) -> None:
        self.paired = asyncio.get_running_loop().create_future()
        token, self.record_id = await self.setup.register_participant(http)
        cookie = await self.setup.officer_cookie(http, self.n)
        paired = self.paired
        self.participant.on("paired", lambda d: settle(paired, d), namespace="/participant")
        await self.setup.connect_socket(self.participant, "/participant", auth={"token": token})
        await self.setup.connect_socket(self.officer, "/officer", headers={"Cookie": cookie})
        await ack(self.officer, "set_presence", {"presence": "available"}, "/officer")

    async def accept(self) -> dict[str, float]:
        assert self.paired is not None
        start = time.monotonic()
        await ack(self.officer, "accept_next", {}, "/officer")
        officer = time.monotonic() - start
        participant_at, _ = await asyncio.wait_for(self.paired, 60)
        participant = participant_at - start
        return {"officer": officer, "participant": participant, "both": max(officer, participant)}

    async def close(self) -> None:
        await self.participant.disconnect()
        await self.officer.disconnect()


async def open_pairs(setup: SignallingSetup, count: int) -> list[Pair]:
    pairs = [Pair(setup, n) for n in range(count)]
    async with aiohttp.ClientSession() as http:
        for pair in pairs:
            await pair.open(http)
            await ack(pair.participant, "join_queue", {}, "/participant")
    return pairs


async def accept_all(pairs: list[Pair], burst: bool) -> list[dict[str, float]]:
    if burst:
        return list(await asyncio.gather(*(p.accept() for p in pairs)))
    return [await p.accept() for p in pairs]


def summary(times: list[dict[str, float]]) -> dict[str, Any]:
    out: dict[str, Any] = {"accepts": len(times)}
    for key in ("officer", "participant", "both"):
        values = [t[key] for t in times]
        out[f"{key}_p50_ms"] = ms(percentile(values, 50))
        out[f"{key}_p99_ms"] = ms(percentile(values, 99))
    return out


async def run(waiting: int, accepts: int, burst: bool) -> dict[str, Any]:
    env, prefix = environment(), f"bench-told-{os.getpid()}"
    os.environ.update(BENCH_REDIS_URL=REDIS_URL, REDIS_PREFIX=prefix)
    server = await start_server("signalling", "ours")
    pairs: list[Pair] = []
    try:
        await create_officers(server.data_dir, accepts)
        setup = SignallingSetup(server.url)
        pairs = await open_pairs(setup, accepts)
        await prefill(prefix, waiting)
        result = summary(await accept_all(pairs, burst))
    finally:
        for pair in pairs:
            await pair.close()
        await server.stop()
        await clear(prefix)
    server.remove_files()
    config = {"waiting": waiting, "accepts": accepts, "burst": burst, "backend": "redis"}
    data = {"benchmark": "told", "config": config, "env": env, "result": result}
    write_result(f"told-redis-w{waiting}{'-burst' if burst else ''}", data)
    print(f"accept -> told, {waiting} waiting on Redis, {accepts} accepts, burst={burst}")
    print_table([(k, v) for k, v in result.items()])
    return data


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--waiting", type=int, default=10_000)
    parser.add_argument("--accepts", type=int, default=20)
    parser.add_argument("--burst", action="store_true", help="all officers accept at once")
    args = parser.parse_args(argv)
    asyncio.run(run(args.waiting, args.accepts, args.burst))


if __name__ == "__main__":
    main()
