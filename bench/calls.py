"""Call benchmark: N complete calls through a separate server process, measured from outside.

    python -m bench.calls --calls N --seconds S --pipeline ours|aiortc-relay|both
    python -m bench.calls --find-capacity --pipeline ours
    [--setup signalling|media-only] [--workers W] [--decode-all]

Client peers (``bench.worker``, in W processes of their own) send pre-encoded 640x480 15 fps
VP8 and Opus both ways; the server forwards, records and samples. Server CPU is read from the
server process alone (psutil ``cpu_times``), its peak RSS from ``VmHWM``.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import time
from dataclasses import asdict, dataclass
from typing import Any

import psutil

from bench.procs import (
    ROOT,
    WORKER_READY_TIMEOUT_S,
    ServerProcess,
    Worker,
    start_server,
    start_worker,
)
from bench.profile import start_profile
from bench.report import environment, percentile, print_table, write_result
from bench.signalling import create_officers

CALLS_PER_WORKER = 5
CAPACITY_DELIVERED = 0.97
CAPACITY_P95_MS = 300.0
DIRECTIONS = ("participant_to_officer", "officer_to_participant")


@dataclass(frozen=True, slots=True)
class CallsConfig:
    calls: int
    seconds: float
    pipeline: str
    setup: str
    workers: int
    decode_all: bool
    profile: bool = False  # py-spy the server over the window


EXPERIMENTS = {"BENCH_NO_RECORDING": "norec", "BENCH_SERVER_MARKER_JITTER": "marker"}


def experiments() -> list[str]:
    """Experiment switches of the media-only stand-in that are on (bench/media_server.py)."""
    return [tag for var, tag in EXPERIMENTS.items() if os.environ.get(var)]


def result_name(config: CallsConfig) -> str:
    """``calls-<pipeline>-n<N>``, suffixed for anything but the real server as it is."""
    suffix = "-media-only" if config.setup == "media-only" else ""
    suffix += "".join(f"-{tag}" for tag in experiments())
    return f"calls-{config.pipeline}-n{config.calls}{suffix}"


def check_pipeline_selectable(config: CallsConfig) -> None:
    """The real server must pick its media class from MEDIA_PIPELINE, or the baseline run
    would silently measure our pipeline."""
    if config.setup != "signalling" or config.pipeline == "ours":
        return
    hub = (ROOT / "signaling" / "media.py").read_text()
    if "media_pipeline" not in hub and "media_call_class" not in hub:
        raise SystemExit(
            "the server does not select MEDIA_PIPELINE yet (signaling/media.py MediaHub builds "
            "MediaCall directly): run the baseline with --setup media-only"
        )


def workers_for(calls: int, asked: int) -> int:
    return asked or max(1, math.ceil(calls / CALLS_PER_WORKER))


async def start_workers(config: CallsConfig, server: ServerProcess) -> list[Worker]:
    count = workers_for(config.calls, config.workers)
    shares = [config.calls // count + (1 if i < config.calls % count else 0) for i in range(count)]
    firsts = [sum(shares[:i]) for i in range(count)]
    log = server.data_dir / "workers.log"
    tag = f"{config.pipeline}-{int(time.time())}"
    return [
        await start_worker(config.setup, server.url, n, first, tag, config.decode_all, log)
        for n, first in zip(shares, firsts, strict=True)
        if n
    ]


async def measure_window(
    server: ServerProcess, workers: list[Worker], seconds: float, profile: str | None = None
) -> dict[str, Any]:
    """Open the window, sample the server, close it; server CPU and the workers' results."""
    spy = await start_profile(server.proc.pid, seconds, profile) if profile else None
    t0 = time.monotonic()
    cpu0 = server.cpu_seconds()
    for w in workers:
        await w.send({"t0": t0})
    rss: list[float] = []
    while time.monotonic() - t0 < seconds:
        rss.append(server.ps.memory_info().rss / 2**20)
        await asyncio.sleep(0.5)
    cpu1, t1 = server.cpu_seconds(), time.monotonic()
    for w in workers:
        await w.send({"t1": t1})
    results = [await w.event("result", 120) for w in workers]
    if spy is not None:
        await spy.wait()
    return {
        "window_s": t1 - t0,
        "server_cpu_s": cpu1 - cpu0,
        "rss_mb_max_in_window": round(max(rss), 1),
        "calls": [c for r in results for c in r["calls"]],
        "client_cpu_s": sum(r["client_cpu_s"] for r in results),
    }


def summarize(config: CallsConfig, window: dict[str, Any], peak_rss: float) -> dict[str, Any]:
    calls = window["calls"]
    call_seconds = len(calls) * window["window_s"]
    out: dict[str, Any] = {
        "calls": len(calls),
        "window_s": round(window["window_s"], 2),
        "server_cpu_s": round(window["server_cpu_s"], 3),
        "cpu_per_call_s": round(window["server_cpu_s"] / call_seconds, 4),
        "server_cores_used": round(window["server_cpu_s"] / window["window_s"], 3),
        "client_cores_used": round(window["client_cpu_s"] / window["window_s"], 3),
        "server_peak_rss_mb": peak_rss,
    }
    for direction in DIRECTIONS:
        out[direction] = direction_summary([c[direction] for c in calls])
    first = [c["accept_to_first_frame_ms"] for c in calls if c["accept_to_first_frame_ms"]]
    out["accept_to_first_frame_p50_ms"] = percentile(first, 50)
    out["accept_to_first_frame_p95_ms"] = percentile(first, 95)
    told = [c["accept_to_told_ms"] for c in calls if c.get("accept_to_told_ms") is not None]
    out["accept_to_told_p50_ms"] = percentile(told, 50)
    out["accept_to_told_p99_ms"] = percentile(told, 99)
    out["accept_to_first_frame_missing"] = len(calls) - len(first)
    out["delivered_min"] = min(out[d]["video_delivered_ratio"] for d in DIRECTIONS)
    out["latency_p95_max_ms"] = max(out[d]["latency_p95_ms"] or math.inf for d in DIRECTIONS)
    return out


def direction_summary(stats: list[dict[str, Any]]) -> dict[str, Any]:
    sent = sum(s["video_sent"] for s in stats)
    delivered = sum(s["video_delivered"] for s in stats)
    audio_sent = sum(s["audio_sent"] for s in stats)
    latencies = [x for s in stats for x in s["latencies_ms"]]
    return {
        "video_sent": sent,
        "video_delivered": delivered,
        "video_delivered_ratio": round(delivered / sent, 4) if sent else 0.0,
        "audio_delivered_ratio": round(sum(s["audio_delivered"] for s in stats) / audio_sent, 4)
        if audio_sent
        else 0.0,
        "latency_p50_ms": percentile(latencies, 50),
        "latency_p95_ms": percentile(latencies, 95),
        "latency_max_ms": max(latencies, default=None),
        "undecodable": sum(s["undecodable"] for s in stats),
        "sender_late_max_ms": max((s["sender_late_max_ms"] for s in stats), default=0.0),
    }


async def run_once(config: CallsConfig) -> dict[str, Any]:
    """One run: start the server and the workers, measure, stop everything."""
    env = environment()
    check_pipeline_selectable(config)
    server = await start_server(config.setup, config.pipeline)
    workers: list[Worker] = []
    try:
        if config.setup == "signalling":
            await create_officers(server.data_dir, config.calls)
        workers = await start_workers(config, server)
        for w in workers:
            await w.event("ready", WORKER_READY_TIMEOUT_S)
        profile = f"profile-{config.pipeline}-n{config.calls}" if config.profile else None
        window = await measure_window(server, workers, config.seconds, profile)
        summary = summarize(config, window, server.peak_rss_mb())
    finally:
        await stop_all(workers, server)
    server.remove_files()
    data = {"benchmark": "calls", "config": asdict(config), "env": env, "result": summary}
    data["raw_calls"] = window["calls"]
    data["experiments"] = experiments()
    write_result(result_name(config), data)
    print_summary(config, summary)
    return summary


async def stop_all(workers: list[Worker], server: ServerProcess) -> None:
    for w in workers:
        try:
            await asyncio.wait_for(w.proc.wait(), 30)
        except TimeoutError:
            psutil.Process(w.pid()).kill()
    await server.stop()


def print_summary(config: CallsConfig, s: dict[str, Any]) -> None:
    p2o, o2p = s["participant_to_officer"], s["officer_to_participant"]
    print(f"calls benchmark: {config.pipeline}, {s['calls']} calls, {s['window_s']} s")
    print_table(
        [
            ("server CPU-s per call-second", s["cpu_per_call_s"]),
            (
                "server cores used / client cores used",
                f"{s['server_cores_used']} / {s['client_cores_used']}",
            ),
            ("server peak RSS MB", s["server_peak_rss_mb"]),
            (
                "video delivered p->o / o->p",
                f"{p2o['video_delivered_ratio']} / {o2p['video_delivered_ratio']}",
            ),
            (
                "audio delivered p->o / o->p",
                f"{p2o['audio_delivered_ratio']} / {o2p['audio_delivered_ratio']}",
            ),
            ("e2e latency p50/p95 ms p->o", f"{p2o['latency_p50_ms']} / {p2o['latency_p95_ms']}"),
            ("e2e latency p50/p95 ms o->p", f"{o2p['latency_p50_ms']} / {o2p['latency_p95_ms']}"),
            (
                "accept -> first frame p50/p95 ms",
                f"{s['accept_to_first_frame_p50_ms']} / {s['accept_to_first_frame_p95_ms']}",
            ),
            (
                "accept -> both told p50/p99 ms",
                f"{s['accept_to_told_p50_ms']} / {s['accept_to_told_p99_ms']}",
            ),
            (
                "client sender late max ms",
                max(p2o["sender_late_max_ms"], o2p["sender_late_max_ms"]),
            ),
        ]
    )


def held(summary: dict[str, Any]) -> bool:
    return bool(
        summary["delivered_min"] >= CAPACITY_DELIVERED
        and summary["latency_p95_max_ms"] <= CAPACITY_P95_MS
        and summary["accept_to_first_frame_missing"] == 0
    )


async def find_capacity(config: CallsConfig, start: int, step: int, limit: int) -> dict[str, Any]:
    """Raise N until delivery or latency fails; the largest N that held."""
    best, runs = 0, []
    n = start
    while n <= limit:
        summary = await run_once(replace_calls(config, n))
        runs.append({"calls": n, **{k: summary[k] for k in CAPACITY_KEYS}})
        if not held(summary):
            break
        best, n = n, n + step
    data = {"benchmark": "capacity", "pipeline": config.pipeline, "capacity": best, "runs": runs}
    write_result(f"capacity-{config.pipeline}", data)
    print(f"capacity ({config.pipeline}): {best} concurrent calls held")
    return data


CAPACITY_KEYS = ("cpu_per_call_s", "server_cores_used", "delivered_min", "latency_p95_max_ms")


def replace_calls(config: CallsConfig, calls: int) -> CallsConfig:
    return CallsConfig(**(asdict(config) | {"calls": calls}))


async def run_both(config: CallsConfig) -> dict[str, Any]:
    ours = await run_once(replace_pipeline(config, "ours"))
    relay = await run_once(replace_pipeline(config, "aiortc-relay"))
    ratio = relay["cpu_per_call_s"] / ours["cpu_per_call_s"] if ours["cpu_per_call_s"] else None
    print(f"aiortc-relay / ours CPU per call-second: {ratio and round(ratio, 2)}")
    return {"ours": ours, "aiortc-relay": relay, "ratio": ratio}


def replace_pipeline(config: CallsConfig, pipeline: str) -> CallsConfig:
    return CallsConfig(**(asdict(config) | {"pipeline": pipeline}))


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--pipeline", choices=("ours", "aiortc-relay", "both"), default="ours")
    parser.add_argument("--setup", choices=("signalling", "media-only"), default="signalling")
    parser.add_argument("--workers", type=int, default=0, help="client processes (0: auto)")
    parser.add_argument("--decode-all", action="store_true", help="decode every received frame")
    parser.add_argument("--profile", action="store_true", help="py-spy the server (raw stacks)")
    parser.add_argument("--find-capacity", action="store_true")
    parser.add_argument("--start", type=int, default=5, help="capacity search: first N")
    parser.add_argument("--step", type=int, default=5, help="capacity search: N increment")
    parser.add_argument("--max-calls", type=int, default=40, help="capacity search: last N")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    config = CallsConfig(
        args.calls,
        args.seconds,
        args.pipeline,
        args.setup,
        args.workers,
        args.decode_all,
        args.profile,
    )
    if args.find_capacity:
        pipelines = ("ours", "aiortc-relay") if args.pipeline == "both" else (args.pipeline,)
        for p in pipelines:
            asyncio.run(
                find_capacity(replace_pipeline(config, p), args.start, args.step, args.max_calls)
            )
    elif args.pipeline == "both":
        asyncio.run(run_both(config))
    else:
        asyncio.run(run_once(config))


if __name__ == "__main__":
    main()
