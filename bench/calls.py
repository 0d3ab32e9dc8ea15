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
import json
import math
import os
import signal
import time
from collections.abc import Coroutine
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, TypeVar

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
from bench.server_timeline import read_server_timeline, server_timeline_rows
from bench.signalling import create_officers
from bench.timeline import summarize_timeline, timeline_rows
from bench.window import lost, measure_window

CALLS_PER_WORKER = 5
SETUP_PROFILE_S = 8
CAPACITY_DELIVERED = 0.97
CAPACITY_P95_MS = 300.0
DIRECTIONS = ("participant_to_officer", "officer_to_participant")
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class CallsConfig:
    calls: int
    seconds: float
    pipeline: str
    setup: str
    workers: int
    decode_all: bool
    profile: bool = False  # py-spy the server over the window
    at_once: bool = False  # every call prepared first, then all accepted together
    profile_setup: bool = False  # py-spy the server over the set-up (from the go, --at-once)
    codec: str = "VP8"  # the peers' video: VP8, or H264 only (libx264 constrained baseline)


EXPERIMENTS = {"BENCH_NO_RECORDING": "norec", "BENCH_SERVER_MARKER_JITTER": "marker"}


def experiments() -> list[str]:
    """Experiment switches of the media-only stand-in that are on (bench/media_server.py)."""
    return [tag for var, tag in EXPERIMENTS.items() if os.environ.get(var)]


def result_name(config: CallsConfig) -> str:
    """``calls-<pipeline>-n<N>``, suffixed for anything but the real server as it is."""
    suffix = "-media-only" if config.setup == "media-only" else ""
    suffix += "-at-once" if config.at_once else ""
    suffix += "-h264" if config.codec == "H264" else ""
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
        await start_worker(
            config.setup,
            server.url,
            n,
            first,
            tag,
            config.decode_all,
            log,
            config.at_once,
            config.codec,
        )
        for n, first in zip(shares, firsts, strict=True)
        if n
    ]


async def go_at_once(config: CallsConfig, workers: list[Worker], server: ServerProcess) -> None:
    """``--at-once``: when every worker has prepared its calls, tell them all to accept."""
    for w in workers:
        await w.event("prepared", WORKER_READY_TIMEOUT_S)
    if config.profile_setup:
        await start_profile(server.proc.pid, SETUP_PROFILE_S, f"{result_name(config)}-setup")
    for w in workers:
        await w.send({"go": time.monotonic()})


def summarize(
    config: CallsConfig, window: dict[str, Any], peak_rss: float | None, idle_rss: float | None
) -> dict[str, Any]:
    calls = window["calls"]
    call_seconds = len(calls) * window["window_s"]
    cpu = window["server_cpu_s"]
    out: dict[str, Any] = {
        "calls": len(calls),
        "calls_asked": config.calls,
        "workers_lost": window["workers_lost"],
        "window_s": round(window["window_s"], 2),
        "server_cpu_s": None if cpu is None else round(cpu, 3),
        "cpu_per_call_s": round(cpu / call_seconds, 4) if cpu and call_seconds else None,
        "server_cores_used": None if cpu is None else round(cpu / window["window_s"], 3),
        "client_cores_used": round(window["client_cpu_s"] / window["window_s"], 3),
        "server_peak_rss_mb": peak_rss,
        "server_idle_rss_mb": idle_rss,
        "server_rss_series_mb": window["rss_series"],
        "server_exited_at_s": window["server_exited_at_s"],
    }
    for direction in DIRECTIONS:
        out[direction] = direction_summary([c[direction] for c in calls])
    first = [c["accept_to_first_frame_ms"] for c in calls if c["accept_to_first_frame_ms"]]
    out["accept_to_first_frame_p50_ms"] = percentile(first, 50)
    out["accept_to_first_frame_p95_ms"] = percentile(first, 95)
    back = [
        c["accept_to_participant_first_frame_ms"]
        for c in calls
        if c.get("accept_to_participant_first_frame_ms")
    ]
    out["accept_to_participant_first_frame_p50_ms"] = percentile(back, 50)
    out["accept_to_participant_first_frame_p95_ms"] = percentile(back, 95)
    told = [c["accept_to_told_ms"] for c in calls if c.get("accept_to_told_ms") is not None]
    out["accept_to_told_p50_ms"] = percentile(told, 50)
    out["accept_to_told_p99_ms"] = percentile(told, 99)
    out["accept_to_first_frame_missing"] = len(calls) - len(first)
    out["timeline"] = summarize_timeline(calls)
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


async def run_once(config: CallsConfig, out: Path | None = None) -> dict[str, Any]:
    """One run: start the server and the workers, measure, stop everything (always)."""
    env = environment()
    check_pipeline_selectable(config)
    server = await start_server(config.setup, config.pipeline)
    workers: list[Worker] = []
    try:
        idle_rss = server.rss_mb()
        if config.setup == "signalling":
            await create_officers(server.data_dir, config.calls)
        workers = await start_workers(config, server)
        if config.at_once:
            await go_at_once(config, workers, server)
        ready = await wait_ready(workers)
        profile = f"profile-{config.pipeline}-n{config.calls}" if config.profile else None
        window = await measure_window(server, ready, config.seconds, profile)
        window["workers_lost"] += [lost(w, "setting up") for w in workers if w not in ready]
        peak_rss = server.peak_rss_mb() if server.proc.returncode is None else None
        server_timeline = {}
        if config.setup == "signalling" and server.proc.returncode is None:
            server_timeline = await read_server_timeline(server.url)
    finally:
        await stop_all(workers, server)
    summary = summarize(config, window, peak_rss, idle_rss)
    summary["server_timeline"] = server_timeline
    data = {"benchmark": "calls", "config": asdict(config), "env": env, "result": summary}
    data["raw_calls"] = window["calls"]
    data["experiments"] = experiments()
    path = save(result_name(config), data, out)
    print_summary(config, summary)
    if summary["workers_lost"] or summary["server_exited_at_s"] is not None:
        print(f"  incomplete run: files kept in {server.data_dir} (workers.log, server.log)")
    else:
        server.remove_files()
    print(f"  result: {path}")
    return summary


async def wait_ready(workers: list[Worker]) -> list[Worker]:
    """The workers whose calls all run; the run goes on without one that failed."""
    ready = []
    for w in workers:
        try:
            await w.event("ready", WORKER_READY_TIMEOUT_S)
            ready.append(w)
        except (RuntimeError, TimeoutError) as e:
            print(f"  worker {w.pid()} lost while setting up its calls: {e!r}")
    if not ready:
        raise RuntimeError("no worker got its calls running (see workers.log)")
    return ready


def save(name: str, data: dict[str, Any], out: Path | None) -> Path:
    """``bench/results/<name>.json``, or ``out`` (a trial run keeps the committed results)."""
    if out is None:
        return write_result(name, data)
    out.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    return out


async def stop_all(workers: list[Worker], server: ServerProcess) -> None:
    """Workers first (they close their calls), then the server, whatever failed before."""
    try:
        await asyncio.gather(*(w.stop() for w in workers), return_exceptions=True)
    finally:
        await server.stop()


def print_summary(config: CallsConfig, s: dict[str, Any]) -> None:
    p2o, o2p = s["participant_to_officer"], s["officer_to_participant"]
    setup = f"{config.codec}, {'all at once' if config.at_once else 'staggered'} set-up"
    print(f"calls benchmark: {config.pipeline}, {s['calls']} calls, {s['window_s']} s ({setup})")
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
                "accept -> first officer frame at the participant p50/p95 ms",
                f"{s.get('accept_to_participant_first_frame_p50_ms')} / "
                f"{s.get('accept_to_participant_first_frame_p95_ms')}",
            ),
            (
                "accept -> both told p50/p99 ms",
                f"{s['accept_to_told_p50_ms']} / {s['accept_to_told_p99_ms']}",
            ),
            (
                "client sender late max ms",
                max(p2o["sender_late_max_ms"], o2p["sender_late_max_ms"]),
            ),
            *timeline_rows(s["timeline"]),
            *server_timeline_rows(s.get("server_timeline", {})),
            *rss_rows(s),
            *lost_rows(s),
        ]
    )


def rss_rows(s: dict[str, Any]) -> list[tuple[str, Any]]:
    """Server RSS read from outside: idle (before any client), then every 30 s of the window."""
    series = " ".join(f"{t:g}s:{mb:g}" for t, mb in s["server_rss_series_mb"])
    return [("server RSS MB idle / over the window", f"{s['server_idle_rss_mb']} / {series}")]


def lost_rows(s: dict[str, Any]) -> list[tuple[str, Any]]:
    rows: list[tuple[str, Any]] = []
    if s["server_exited_at_s"] is not None:
        rows.append(("SERVER EXITED at s", s["server_exited_at_s"]))
    for w in s["workers_lost"]:
        when = f"{w['stage']}, exited at {w['at_s']} s" if w["at_s"] is not None else w["stage"]
        rows.append((f"WORKER LOST pid {w['pid']}", f"rc {w['returncode']}, {when}"))
    if s["workers_lost"]:
        rows.append(("calls reported / asked", f"{s['calls']} / {s['calls_asked']}"))
        rows.append(("  (CPU per call-second above counts the reported calls only)", ""))
    return rows


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
    parser.add_argument(
        "--at-once",
        action="store_true",
        help="prepare every call first (register, log in), then all officers accept together",
    )
    parser.add_argument(
        "--profile-setup", action="store_true", help="with --at-once: py-spy the set-up"
    )
    parser.add_argument(
        "--codec", choices=("VP8", "H264"), default="VP8", help="the peers' video format"
    )
    parser.add_argument("--find-capacity", action="store_true")
    parser.add_argument("--start", type=int, default=5, help="capacity search: first N")
    parser.add_argument("--step", type=int, default=5, help="capacity search: N increment")
    parser.add_argument("--max-calls", type=int, default=40, help="capacity search: last N")
    parser.add_argument("--out", type=Path, help="write the result here, not bench/results/")
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
        args.at_once,
        args.profile_setup,
        args.codec,
    )
    if args.find_capacity:
        pipelines = ("ours", "aiortc-relay") if args.pipeline == "both" else (args.pipeline,)
        for p in pipelines:
            run(find_capacity(replace_pipeline(config, p), args.start, args.step, args.max_calls))
    elif args.pipeline == "both":
        run(run_both(config))
    else:
        run(run_once(config, args.out))


def run(main: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run`` where SIGTERM (``timeout``, ``kill``) cancels like Ctrl-C does, so the
    teardown still stops the server and the workers (they run in sessions of their own)."""

    async def stoppable() -> T:
        loop, task = asyncio.get_running_loop(), asyncio.current_task()
        assert task is not None
        loop.add_signal_handler(signal.SIGTERM, task.cancel)
        try:
            return await main
        finally:
            loop.remove_signal_handler(signal.SIGTERM)

    return asyncio.run(stoppable())


if __name__ == "__main__":
    main()
