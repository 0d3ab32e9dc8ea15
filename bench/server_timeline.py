"""The server's own set-up timeline, read from its ``/metrics`` at the end of a call benchmark.

The server observes, per call, each set-up step in seconds since the officer's accept
(``videocall_call_setup_seconds{step=...}``, ``videocall.app.setup_timeline``). A histogram
keeps no single calls, so per step we report the count, the mean and p50/p95 interpolated
within the buckets (as Prometheus' ``histogram_quantile`` does), and the step's own mean
duration: the difference of consecutive means (exact when every call reached both steps).
The step with the largest own mean is marked ``<- slowest``.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from typing import Any

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

HISTOGRAM = "videocall_call_setup_seconds"
STEPS = (
    "accept_ack",
    "both_told",
    "offers_received",
    "ice_checking",
    "ice_connected",
    "dtls_connected",
    "first_rtp",
    "first_keyframe",
    "first_frame_forwarded",
)


async def read_metrics(url: str) -> str:
    token = os.environ.get("METRICS_TOKEN", "")
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    timeout = aiohttp.ClientTimeout(total=20)
    async with aiohttp.ClientSession(timeout=timeout) as http:
        async with http.get(url.rstrip("/") + "/metrics", headers=headers) as response:
            response.raise_for_status()
            return await response.text()


def histograms(text: str) -> dict[str, dict[str, Any]]:
    """step -> {"buckets": [(le, cumulative count)], "count": n, "sum": seconds}."""
    out: dict[str, dict[str, Any]] = {}
    for family in text_string_to_metric_families(text):
        if family.name != HISTOGRAM:
            continue
        for sample in family.samples:
            step = sample.labels.get("step")
            if step is None:
                continue
            entry = out.setdefault(step, {"buckets": [], "count": 0.0, "sum": 0.0})
            if sample.name.endswith("_bucket"):
                entry["buckets"].append((float(sample.labels["le"]), sample.value))
            elif sample.name.endswith("_count"):
                entry["count"] = sample.value
            elif sample.name.endswith("_sum"):
                entry["sum"] = sample.value
    for entry in out.values():
        entry["buckets"].sort()
    return out


def bucket_quantile(q: float, buckets: list[tuple[float, float]]) -> float | None:
    """Prometheus' ``histogram_quantile``: linear within the bucket holding the rank."""
    if not buckets or buckets[-1][1] == 0:
        return None
    total = buckets[-1][1]
    rank = q * total
    lower, below = 0.0, 0.0
    for upper, cumulative in buckets:
        if cumulative >= rank:
            if math.isinf(upper):
                return lower  # beyond the last finite bound: its bound is what we know
            inside = cumulative - below
            return lower + (upper - lower) * ((rank - below) / inside if inside else 1.0)
        lower, below = upper, cumulative
    return lower


def summarize(text: str) -> dict[str, dict[str, Any]]:
    """Per step (in order): calls, mean / p50 / p95 ms since the accept, own mean ms."""
    data = histograms(text)
    out: dict[str, dict[str, Any]] = {}
    previous_mean = 0.0
    for step in STEPS:
        entry = data.get(step)
        if entry is None or not entry["count"]:
            continue
        mean = entry["sum"] / entry["count"]
        p50, p95 = (bucket_quantile(q, entry["buckets"]) for q in (0.5, 0.95))
        out[step] = {
            "calls": int(entry["count"]),
            "mean_ms": round(mean * 1000, 1),
            "p50_ms": None if p50 is None else round(p50 * 1000, 1),
            "p95_ms": None if p95 is None else round(p95 * 1000, 1),
            "step_mean_ms": round((mean - previous_mean) * 1000, 1),
        }
        previous_mean = mean
    return out


async def read_server_timeline(url: str) -> dict[str, dict[str, Any]]:
    """The summary, or {} when the server has no such metric (or does not answer)."""
    try:
        return summarize(await read_metrics(url))
    except (aiohttp.ClientError, TimeoutError) as exc:
        print(f"  could not read the server's /metrics: {exc!r}")
        return {}


def slowest(summary: Mapping[str, Mapping[str, Any]]) -> str | None:
    return max(summary, key=lambda s: summary[s]["step_mean_ms"], default=None)


def server_timeline_rows(summary: Mapping[str, Mapping[str, Any]]) -> list[tuple[str, str]]:
    """Rows for ``print_table``."""
    if not summary:
        return []
    worst = slowest(summary)
    rows = [("server step (/metrics): calls, since accept mean/p50/p95 ms | step mean ms", "")]
    for step, s in summary.items():
        mark = "  <- slowest" if step == worst else ""
        rows.append(
            (
                f"  {step}",
                f"{s['calls']}, {s['mean_ms']} / {s['p50_ms']} / {s['p95_ms']} | "
                f"{s['step_mean_ms']}{mark}",
            )
        )
    return rows
