"""Every benchmark with small defaults (``make bench``): under ~5 minutes on 2 cores.

Writes ``bench/results/*.json``, ``docs/benchmarks.md`` and ``docs/img/bench-*.png``.
Calls go through the real server (``--setup signalling``) when its namespaces exist;
``--setup media-only`` hosts the media call classes alone (bench/media_server.py).
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
from typing import Any

from bench import calls, queue, told
from bench.docs import (
    calls_section,
    capacity_section,
    queue_section,
    told_section,
    write_doc,
)
from bench.docs_extra import LOOP_LAG, long_run_section, setup_section, targets_section
from bench.notes import NOTES
from bench.plots import plot_calls, plot_setup_timeline
from bench.report import read_result

SWEEP = {"ours": (1, 3, 6), "aiortc-relay": (1, 2)}
SECONDS = 10.0
TOLD_WAITING, TOLD_ACCEPTS = 10_000, 5


def signalling_ready() -> bool:
    modules = ("signaling.participant", "signaling.officer", "bench.signalling")
    return all(importlib.util.find_spec(m) is not None for m in modules)


def run_queue() -> dict[str, dict[str, Any]]:
    args = queue.parse_args(["--waiting", "10000", "--officers", "500", "--backend", "both"])
    return {c.backend: asyncio.run(queue.run(c)) for c in queue.configs(args)}


def run_told() -> dict[str, Any]:
    return asyncio.run(told.run(TOLD_WAITING, TOLD_ACCEPTS, burst=False))


def run_calls(setup: str, sweep: dict[str, tuple[int, ...]]) -> dict[str, list[dict[str, Any]]]:
    runs: dict[str, list[dict[str, Any]]] = {}
    for pipeline, counts in sweep.items():
        for n in counts:
            config = calls.CallsConfig(n, SECONDS, pipeline, setup, 0, False)
            asyncio.run(calls.run_once(config))
            result = read_result(calls.result_name(config))
            assert result is not None
            runs.setdefault(pipeline, []).append(result)
    return runs


def stored(name: str) -> dict[str, Any]:
    result = read_result(name)
    if result is None:
        raise SystemExit(f"no bench/results/{name}.json: run the benchmarks first")
    return result


# Runs outside the sweep (their commands are in docs/benchmarks.md, "How it measures"): read
# when present. Label -> result file.
SPEED_RUNS = {
    "18 calls (VP8)": "calls-ours-n18",
    "15 calls set up at once (VP8)": "calls-ours-n15-at-once",
    "6 calls VP8": "calls-ours-n6-vp8",
    "6 calls H.264": "calls-ours-n6-h264",
}
AT_ONCE = "calls-ours-n15-at-once"
CHROMIUM = "chromium-setup"
LONG_RUN = "calls-ours-n6-long"


def extra_sections() -> list[str]:
    """The speed targets, the long run, the set-up timeline (with its plot), the loop lag."""
    at_once, chromium = read_result(AT_ONCE), read_result(CHROMIUM)
    plot = None
    if at_once is not None or chromium is not None:
        s = at_once["result"] if at_once else {}
        path = plot_setup_timeline(
            s.get("timeline"),
            s.get("server_timeline"),
            chromium["result"] if chromium else None,
            f"{s.get('calls', '?')} calls set up at once",
        )
        plot = f"img/{path.name}" if path is not None else None
    return [
        targets_section({label: read_result(name) for label, name in SPEED_RUNS.items()}),
        setup_section(at_once, chromium, plot),
        long_run_section(read_result(LONG_RUN)),
        LOOP_LAG,
    ]


def docs_only(setup: str) -> None:
    """Re-render docs/benchmarks.md and the plots from the stored results."""
    queues = {b: stored(f"queue-{b}") for b in ("memory", "redis")}

    def name(p: str, n: int) -> str:
        return calls.result_name(calls.CallsConfig(n, SECONDS, p, setup, 0, False))

    runs = {p: [stored(name(p, n)) for n in counts] for p, counts in SWEEP.items()}
    plot_calls({p: [r["result"] for r in rs] for p, rs in runs.items()})
    told_result = read_result(f"told-redis-w{TOLD_WAITING}")
    sections = [queue_section(queues)]
    sections += [told_section(told_result)] if told_result else []
    sections.append(calls_section(runs, setup))
    capacity = {p: r for p in SWEEP if (r := read_result(f"capacity-{p}")) is not None}
    sections.append(capacity_section(capacity))
    sections += extra_sections()
    print(f"wrote {write_doc(sections, NOTES)}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--setup", choices=("auto", "signalling", "media-only"), default="auto")
    parser.add_argument("--skip-calls", action="store_true")
    parser.add_argument("--docs-only", action="store_true", help="re-render from stored results")
    args = parser.parse_args(argv)
    setup = args.setup
    if setup == "auto":
        setup = "signalling" if signalling_ready() else "media-only"
    if args.docs_only:
        docs_only(setup)
        return
    print(f"== queue ==\n(call setup for the call benchmarks: {setup})")
    queues = run_queue()
    sections = [queue_section(queues)]
    if setup == "signalling":
        print("== accept -> told ==")
        sections.append(told_section(run_told()))
    if not args.skip_calls:
        print("== calls ==")
        runs = run_calls(setup, SWEEP)
        plot_calls({p: [r["result"] for r in rs] for p, rs in runs.items()})
        sections.append(calls_section(runs, setup))
    capacity = {p: r for p in SWEEP if (r := read_result(f"capacity-{p}")) is not None}
    sections.append(capacity_section(capacity))
    sections += extra_sections()
    print(f"wrote {write_doc(sections, NOTES)}")


if __name__ == "__main__":
    main()
