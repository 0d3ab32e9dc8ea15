"""py-spy over the server during a benchmark window, and a short summary of where time went."""

from __future__ import annotations

import asyncio
import shutil
import sys
from collections import Counter
from pathlib import Path

from bench.report import RESULTS_DIR


def py_spy() -> str | None:
    local = Path(sys.executable).with_name("py-spy")
    return str(local) if local.exists() else shutil.which("py-spy")


async def start_profile(pid: int, seconds: float, name: str) -> asyncio.subprocess.Process | None:
    """Sample the server's Python stacks (collapsed format) for ``seconds``; None without py-spy."""
    exe = py_spy()
    if exe is None:
        print("py-spy not installed: no profile (pip install py-spy)")
        return None
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    args = ["record", "--pid", str(pid), "--duration", str(max(1, int(seconds)))]
    # --gil: only the thread holding the GIL, i.e. where Python time goes (waits excluded).
    args += ["--rate", "50", "--nonblocking", "--gil", "--threads", "--format", "raw"]
    args += ["--output", str(RESULTS_DIR / f"{name}.txt")]
    return await asyncio.create_subprocess_exec(
        exe, *args, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL
    )


def summarize(path: Path, top: int = 25) -> list[tuple[str, float]]:
    """Share of samples per function, by self time (the innermost frame of each stack)."""
    counts: Counter[str] = Counter()
    total = 0
    for line in path.read_text().splitlines():
        stack, _, n = line.rpartition(" ")
        if not stack:
            continue
        leaf = stack.rsplit(";", 1)[-1]
        counts[leaf] += int(n)
        total += int(n)
    return [(frame, round(100 * c / total, 1)) for frame, c in counts.most_common(top)]


def inclusive(path: Path, needles: list[str]) -> dict[str, float]:
    """Share of samples whose stack passes through a frame containing each needle."""
    hits: Counter[str] = Counter()
    total = 0
    for line in path.read_text().splitlines():
        stack, _, n = line.rpartition(" ")
        total += int(n or 0)
        for needle in needles:
            if needle in stack:
                hits[needle] += int(n)
    return {k: round(100 * hits[k] / total, 1) if total else 0.0 for k in needles}


def main() -> None:
    path = Path(sys.argv[1])
    for frame, share in summarize(path):
        print(f"{share:5.1f}%  {frame}")


if __name__ == "__main__":
    main()
