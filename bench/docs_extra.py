"""Sections of docs/benchmarks.md beyond the sweep: the set-up timeline (client, server,
Chromium), the speed targets of issue 20 (18 calls, 15 set up at once, H.264 beside VP8, the
long run) and the photo-upload loop-lag results. Each reads its result file when present."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from bench.chromium_setup import PAGE_STEPS
from bench.docs import _fmt, table
from bench.server_timeline import STEPS as SERVER_STEPS
from bench.timeline import STEPS as CLIENT_STEPS
from bench.timeline import slowest_step

# Hand-written (results of bench.loop_lag): kept in bench/loop_lag.md.
LOOP_LAG = (Path(__file__).resolve().parent / "loop_lag.md").read_text()


def _pair(a: Any, b: Any) -> str:
    return f"{_fmt(a)} / {_fmt(b)}"


def setup_section(
    at_once: dict[str, Any] | None, chromium: dict[str, Any] | None, plot: str | None
) -> str:
    """Where the set-up time goes: the client's and the server's timeline of the run with
    calls set up at once, and Chromium's pages."""
    if at_once is None and chromium is None:
        return ""
    out = ["## Set-up timeline: where accept -> first frame goes\n"]
    if at_once is not None:
        s, env = at_once["result"], at_once["env"]
        out.append(
            f"`python -m bench.calls --calls {s['calls_asked']} --at-once "
            f"--seconds {at_once['config']['seconds']:g}` ({s['calls']} calls set up at once, "
            f"load average {env['load_avg_1m_before']} before the run): accept -> first frame "
            "at the officer p50 / p95 **"
            f"{_pair(s['accept_to_first_frame_p50_ms'], s['accept_to_first_frame_p95_ms'])} ms**.\n"
        )
        timeline: Mapping[str, Any] = s.get("timeline", {})
        slow = slowest_step(timeline)
        rows = [
            [
                step + (" (slowest)" if step == slow else ""),
                _pair(t["at_p50_ms"], t["at_p95_ms"]),
                _pair(t["step_p50_ms"], t["step_p95_ms"]),
            ]
            for step in CLIENT_STEPS
            if (t := timeline.get(step)) is not None
        ]
        out.append("Client side (the worker holding both peers):\n")
        out.append(table(["step", "since accept p50 / p95 ms", "step p50 / p95 ms"], rows))
        server = s.get("server_timeline") or {}
        if server:
            out.append("\nServer side (`/metrics` at the end of the same run):\n")
            out.append(server_table(server))
    if chromium is not None:
        out.append(chromium_part(chromium))
    if plot:
        out.append(f"\n![set-up timeline]({plot})\n")
    return "\n".join(out) + "\n"


def server_table(server: Mapping[str, Any]) -> str:
    worst = max(server, key=lambda k: server[k]["step_mean_ms"], default=None)
    rows = [
        [
            step + (" (slowest)" if step == worst else ""),
            v["calls"],
            f"{_fmt(v['mean_ms'])} / {_fmt(v['p50_ms'])} / {_fmt(v['p95_ms'])}",
            v["step_mean_ms"],
        ]
        for step in SERVER_STEPS  # result files keep keys sorted: back to the steps' order
        if (v := server.get(step)) is not None
    ]
    header = ["step", "calls", "since accept mean / p50 / p95 ms", "step mean ms"]
    return table(header, rows)


def chromium_part(r: dict[str, Any]) -> str:
    s, env = r["result"], r["env"]
    lines = [
        f"\n### Chromium, {s['calls']} calls in sequence\n",
        f"`python -m bench.chromium_setup --calls {r['config']['calls']}` (load average "
        f"{env['load_avg_1m_before']} before the run; {len(s['failures'])} calls failed):\n",
        table(
            ["who sees whom", "accept -> first frame p50 / p95 / max ms"],
            [
                [
                    "officer sees the participant",
                    f"{_fmt(s['officer_first_frame_p50_ms'])} / "
                    f"{_fmt(s['officer_first_frame_p95_ms'])} / "
                    f"{_fmt(s['officer_first_frame_max_ms'])}",
                ],
                [
                    "participant sees the officer",
                    f"{_fmt(s['participant_first_frame_p50_ms'])} / "
                    f"{_fmt(s['participant_first_frame_p95_ms'])} / "
                    f"{_fmt(s['participant_first_frame_max_ms'])}",
                ],
            ],
        ),
        "\nEach page's own steps, ms after the officer's click (p50 / p95; the participant's "
        "camera was opened by the pre-call check, before the call):\n",
    ]
    officer, participant = s["officer_page_steps"], s["participant_page_steps"]
    steps = [s for s in PAGE_STEPS if s in officer or s in participant]
    rows = [
        [
            step,
            _pair(officer[step]["p50_ms"], officer[step]["p95_ms"]) if step in officer else "-",
            _pair(participant[step]["p50_ms"], participant[step]["p95_ms"])
            if step in participant
            else "-",
        ]
        for step in steps
    ]
    lines.append(table(["page step", "officer's page", "participant's page"], rows))
    server = s.get("server_timeline") or {}
    if server:
        lines.append("\nThe server's timeline over the same calls:\n")
        lines.append(server_table(server))
    return "\n".join(lines)


def _row(label: str, r: dict[str, Any]) -> list[Any]:
    s, env = r["result"], r["env"]
    p2o, o2p = s["participant_to_officer"], s["officer_to_participant"]
    return [
        label,
        s["calls"],
        s["window_s"],
        s["cpu_per_call_s"],
        s["server_cores_used"],
        f"{p2o['video_delivered_ratio']:.3f} / {o2p['video_delivered_ratio']:.3f}",
        f"{p2o['audio_delivered_ratio']:.3f} / {o2p['audio_delivered_ratio']:.3f}",
        _pair(p2o["latency_p50_ms"], p2o["latency_p95_ms"]),
        _pair(s["accept_to_first_frame_p50_ms"], s["accept_to_first_frame_p95_ms"]),
        _pair(
            s.get("accept_to_participant_first_frame_p50_ms"),
            s.get("accept_to_participant_first_frame_p95_ms"),
        ),
        s["server_peak_rss_mb"],
        env["load_avg_1m_before"],
    ]


TARGET_HEADER = [
    "run",
    "calls",
    "window s",
    "server CPU-s per call-s",
    "server cores",
    "video delivered p→o / o→p",
    "audio delivered p→o / o→p",
    "e2e p50/p95 ms p→o",
    "accept→first frame at the officer p50/p95 ms",
    "accept→first frame at the participant p50/p95 ms",
    "peak RSS MB",
    "load before",
]


def targets_section(results: Mapping[str, dict[str, Any] | None]) -> str:
    """One row per named run (label -> result file contents), those that exist."""
    rows = [_row(label, r) for label, r in results.items() if r is not None]
    if not rows:
        return ""
    return "## Speed runs (issue 20) and H.264 (issue 17)\n\n" + table(TARGET_HEADER, rows) + "\n"


def long_run_section(r: dict[str, Any] | None) -> str:
    if r is None:
        return ""
    s = r["result"]
    series = ", ".join(f"{t:g} s: {mb:g}" for t, mb in s["server_rss_series_mb"])
    lost = f"; workers lost: {len(s['workers_lost'])}" if s["workers_lost"] else ""
    return (
        "## Long run: server memory over time\n\n"
        f"`python -m bench.calls --calls {s['calls_asked']} --seconds {r['config']['seconds']:g}`"
        f" ({s['calls']} calls reported{lost}; load average {r['env']['load_avg_1m_before']} "
        f"before): server RSS idle {s['server_idle_rss_mb']} MB, "
        f"peak {s['server_peak_rss_mb']} MB; "
        f"over the window (s into it: MB): {series}.\n\n"
        + table(TARGET_HEADER, [_row("long run", r)])
        + "\n"
    )
