"""PNG plots of the call benchmark: server CPU per call and in total, against the call count."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # no display; must precede pyplot
import matplotlib.pyplot as plt

from bench.chromium_setup import PAGE_STEPS
from bench.server_timeline import STEPS as SERVER_STEPS
from bench.timeline import STEPS as CLIENT_STEPS

IMG_DIR = Path(__file__).resolve().parent.parent / "docs" / "img"
Runs = Mapping[str, Sequence[dict[str, Any]]]  # pipeline -> summaries, by number of calls


def _series(runs: Sequence[dict[str, Any]], key: str) -> tuple[list[int], list[float]]:
    ordered = sorted(runs, key=lambda r: r["calls"])
    return [r["calls"] for r in ordered], [r[key] for r in ordered]


def plot_metric(runs: Runs, key: str, ylabel: str, title: str, path: Path) -> Path:
    fig, ax = plt.subplots(figsize=(6.4, 4.0), dpi=100)
    for pipeline, summaries in runs.items():
        xs, ys = _series(summaries, key)
        ax.plot(xs, ys, marker="o", label=pipeline)
    ax.set_xlabel("concurrent calls")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.set_ylim(bottom=0)
    ax.grid(True, alpha=0.3)
    ax.legend()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path


def plot_calls(runs: Runs) -> list[Path]:
    """The two plots docs/benchmarks.md shows."""
    return [
        plot_metric(
            runs,
            "cpu_per_call_s",
            "server CPU-seconds per call-second",
            "Server CPU per call",
            IMG_DIR / "bench-cpu-per-call.png",
        ),
        plot_metric(
            runs,
            "server_cores_used",
            "server cores used",
            "Server CPU in total (one process: at most ~1 core)",
            IMG_DIR / "bench-server-cores.png",
        ),
    ]


TARGET_MS = 500.0  # issue 20: accept -> first frame p95


def _waterfall(ax: Any, title: str, steps: list[tuple[str, float, float | None]]) -> None:
    """One bar per step from the previous step's p50 to its own; a tick at its p95."""
    previous = 0.0
    for row, (_step, p50, p95) in enumerate(steps):
        start = min(previous, p50)
        ax.barh(row, max(p50 - start, 1.0), left=start, color="tab:blue", alpha=0.75)
        if p95 is not None:
            ax.plot([p95], [row], marker="|", markersize=12, color="tab:red")
        previous = max(previous, p50)
    ax.set_yticks(range(len(steps)), [s for s, _, _ in steps])
    ax.invert_yaxis()
    ax.axvline(TARGET_MS, color="grey", linestyle="--", linewidth=1)
    ax.set_title(title, fontsize=10)
    ax.grid(True, axis="x", alpha=0.3)


def plot_setup_timeline(
    client: Mapping[str, Any] | None,
    server: Mapping[str, Any] | None,
    chromium: Mapping[str, Any] | None,
    label: str,
    path: Path = IMG_DIR / "bench-setup-timeline.png",
) -> Path | None:
    """Where accept -> first frame goes: the benchmark's client and server timelines (bars:
    step p50 since the accept; red tick: p95; dashed: the 500 ms target) and Chromium's."""
    panels: list[tuple[str, list[tuple[str, float, float | None]]]] = []
    if client:  # result files keep keys sorted: back to the order of the steps
        client = {s: client[s] for s in CLIENT_STEPS if s in client}
        steps = [(s, v["at_p50_ms"], v["at_p95_ms"]) for s, v in client.items()]
        panels.append((f"{label}: client peers (p50 bar, p95 tick)", steps))
    if server:
        server = {s: server[s] for s in SERVER_STEPS if s in server}
        steps = [(s, v["p50_ms"], v["p95_ms"]) for s, v in server.items()]
        panels.append((f"{label}: server /metrics (bucket p50, p95)", steps))
    if chromium:
        o = chromium["officer_page_steps"]
        steps = [(f"officer {s}", o[s]["p50_ms"], o[s]["p95_ms"]) for s in PAGE_STEPS if s in o]
        steps += [
            (
                "officer sees video",
                chromium["officer_first_frame_p50_ms"],
                chromium["officer_first_frame_p95_ms"],
            ),
            (
                "participant sees video",
                chromium["participant_first_frame_p50_ms"],
                chromium["participant_first_frame_p95_ms"],
            ),
        ]
        panels.append((f"Chromium, {chromium['calls']} calls in sequence (officer's page)", steps))
    if not panels:
        return None
    heights = [max(2.0, 0.32 * len(s) + 0.8) for _, s in panels]
    fig, axes = plt.subplots(
        len(panels), 1, figsize=(7.5, sum(heights)), dpi=100, gridspec_kw={"height_ratios": heights}
    )
    for ax, (title, steps) in zip(axes if len(panels) > 1 else [axes], panels, strict=True):
        _waterfall(ax, title, steps)
    axes_list = axes if len(panels) > 1 else [axes]
    axes_list[-1].set_xlabel("ms since the officer's accept")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path
