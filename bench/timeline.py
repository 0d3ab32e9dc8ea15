"""The set-up timeline of a call as the benchmark's client peers see it.

Every step is a ``time.monotonic()`` reading taken in the worker that holds both peers of the
call, given in ms since the officer's ``accept_next`` was sent:

- ``accept_ack``: the officer's ``accept_next`` acknowledged (signalling only)
- ``both_told``: the officer acknowledged and the participant had ``paired`` (signalling only)
- ``offers_gathered``: both peers gathered their ICE candidates (the offers can go out)
- ``offers_answered``: both peers applied the server's answer (signalling state ``stable``)
- ``ice_checking`` / ``ice_connected``: both peers' ICE started checking / completed
- ``dtls_connected``: both peers' connection state ``connected`` (DTLS done)
- ``first_rtp`` / ``first_keyframe`` / ``first_frame``: the participant's video at the
  officer: first RTP packet, first complete keyframe, first frame decoded

A step of "both peers" is the later of the two. Each step's own duration is the time since
the previous step, so the slowest step stands out (its p95 is the largest).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bench.report import percentile

SIGNALLING_STEPS = ("accept_ack", "both_told")
BOTH_PEERS_STEPS = (
    "offers_gathered",
    "offers_answered",
    "ice_checking",
    "ice_connected",
    "dtls_connected",
)
AT_OFFICER_STEPS = ("first_rtp", "first_keyframe", "first_frame")
STEPS = SIGNALLING_STEPS + BOTH_PEERS_STEPS + AT_OFFICER_STEPS


def call_timeline(
    accept_at: float,
    signalling: Mapping[str, float],
    participant: Mapping[str, float],
    officer: Mapping[str, float],
) -> dict[str, float | None]:
    """Step -> ms since the accept (None: not reached, or not measured in this set-up)."""
    at: dict[str, float | None] = {s: signalling.get(s) for s in SIGNALLING_STEPS}
    for step in BOTH_PEERS_STEPS:
        sides = (participant.get(step), officer.get(step))
        at[step] = None if None in sides else max(t for t in sides if t is not None)
    at |= {s: officer.get(s) for s in AT_OFFICER_STEPS}
    return {s: None if t is None else round((t - accept_at) * 1000, 1) for s, t in at.items()}


def step_durations(timeline: Mapping[str, float | None]) -> dict[str, float]:
    """Step -> ms since the previous step that was measured."""
    out, previous = {}, 0.0
    for step in STEPS:
        at = timeline.get(step)
        if at is not None:
            out[step] = round(at - previous, 1)
            previous = at
    return out


def summarize_timeline(calls: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per step: p50/p95 of its time since the accept and of its own duration."""
    timelines = [c["timeline"] for c in calls if c.get("timeline")]
    durations = [step_durations(t) for t in timelines]
    out: dict[str, dict[str, Any]] = {}
    for step in STEPS:
        at = [t[step] for t in timelines if t.get(step) is not None]
        own = [d[step] for d in durations if step in d]
        if not at:
            continue
        out[step] = {
            "at_p50_ms": percentile(at, 50),
            "at_p95_ms": percentile(at, 95),
            "step_p50_ms": percentile(own, 50),
            "step_p95_ms": percentile(own, 95),
            "missing": len(timelines) - len(at),
        }
    return out


def slowest_step(summary: Mapping[str, Mapping[str, Any]]) -> str | None:
    return max(summary, key=lambda s: summary[s]["step_p95_ms"] or 0.0, default=None)


def timeline_rows(summary: Mapping[str, Mapping[str, Any]]) -> list[tuple[str, str]]:
    """Rows for ``print_table``: since accept p50/p95, the step itself p50/p95."""
    slowest = slowest_step(summary)
    rows = [("step: since accept p50/p95 ms | step p50/p95 ms", "")]
    for step, s in summary.items():
        mark = "  <- slowest" if step == slowest else ""
        missing = f"  ({s['missing']} missing)" if s["missing"] else ""
        rows.append(
            (
                f"  {step}",
                f"{s['at_p50_ms']} / {s['at_p95_ms']} | "
                f"{s['step_p50_ms']} / {s['step_p95_ms']}{mark}{missing}",
            )
        )
    return rows
