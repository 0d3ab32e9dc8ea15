"""The measurement window of the call benchmark: server CPU and RSS read from outside, the
workers' results collected whatever happened to some of them.

A client worker that exits early (crash, OOM, killed) loses its calls from the result but not
the run: the others still report, the run prints what was gathered and says which workers
were lost.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

import psutil

from bench.procs import ServerProcess, Worker
from bench.profile import start_profile

RSS_SAMPLE_S = 0.5
RSS_SERIES_EVERY_S = 30.0  # one point of the RSS-over-time series
RESULT_TIMEOUT_S = 120.0


@dataclass
class ServerTrace:
    """What was read of the server from outside over the window."""

    rss_series: list[tuple[float, float]] = field(default_factory=list)  # (s into window, MB)
    rss_max_mb: float | None = None
    exited_at_s: float | None = None

    def sample(self, server: ServerProcess, at_s: float, series_due: bool) -> None:
        mb = server.rss_mb()
        if mb is None:
            if self.exited_at_s is None:
                self.exited_at_s = round(at_s, 1)
            return
        self.rss_max_mb = max(mb, self.rss_max_mb or 0.0)
        if series_due:
            self.rss_series.append((round(at_s, 1), mb))


def server_cpu(server: ServerProcess) -> float | None:
    try:
        return server.cpu_seconds()
    except psutil.NoSuchProcess:
        return None


def lost(worker: Worker, stage: str, at_s: float | None = None) -> dict[str, Any]:
    return {"pid": worker.pid(), "returncode": worker.proc.returncode, "stage": stage, "at_s": at_s}


async def watch(
    server: ServerProcess, workers: list[Worker], t0: float, seconds: float
) -> tuple[ServerTrace, dict[int, float]]:
    """Sample the server's RSS until the window closes; note when a worker exits."""
    trace, exits = ServerTrace(), dict[int, float]()
    next_point = 0.0
    while (at := time.monotonic() - t0) < seconds:
        due = at >= next_point
        next_point += RSS_SERIES_EVERY_S if due else 0.0
        trace.sample(server, at, due)
        for w in workers:
            if w.exited and w.pid() not in exits:
                exits[w.pid()] = round(at, 1)
        await asyncio.sleep(RSS_SAMPLE_S)
    trace.sample(server, time.monotonic() - t0, True)  # the last point: the window's end
    return trace, exits


async def collect(workers: list[Worker], t1: float) -> tuple[list[dict[str, Any]], list[Worker]]:
    """Close the window at every worker and read its result; (results, workers lost)."""
    told = [w for w in workers if await w.send({"t1": t1})]
    results, gone = [], [w for w in workers if w not in told]
    for w in told:
        try:
            results.append(await w.event("result", RESULT_TIMEOUT_S))
        except (RuntimeError, TimeoutError, ValueError):  # ValueError: JSON, line too long
            gone.append(w)
    return results, gone


async def measure_window(
    server: ServerProcess, workers: list[Worker], seconds: float, profile: str | None = None
) -> dict[str, Any]:
    """Open the window, sample the server, close it; server CPU and the workers' results."""
    spy = await start_profile(server.proc.pid, seconds, profile) if profile else None
    t0 = time.monotonic()
    cpu0 = server_cpu(server)
    running = [w for w in workers if await w.send({"t0": t0})]
    trace, exits = await watch(server, running, t0, seconds)
    cpu1, t1 = server_cpu(server), time.monotonic()
    results, gone = await collect(running, t1)
    if spy is not None:
        await spy.wait()
    missing = [lost(w, "before the window") for w in workers if w not in running]
    missing += [lost(w, "in the window", exits.get(w.pid())) for w in gone]
    return {
        "window_s": t1 - t0,
        "server_cpu_s": None if cpu0 is None or cpu1 is None else cpu1 - cpu0,
        "rss_mb_max_in_window": trace.rss_max_mb,
        "rss_series": trace.rss_series,
        "server_exited_at_s": trace.exited_at_s,
        "calls": [c for r in results for c in r["calls"]],
        "client_cpu_s": sum(r["client_cpu_s"] for r in results),
        "workers_lost": missing,
    }
