"""PNG plots of the call benchmark: server CPU per call and in total, against the call count."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # no display; must precede pyplot
import matplotlib.pyplot as plt

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
