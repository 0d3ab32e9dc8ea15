"""Event-loop lag: how late the loop wakes a task that asked to sleep a short, fixed time.

Everything of one process (HTTP, Socket.IO, every call's media forwarding) shares one event
loop, so CPU-heavy work on it (an image decoded inline) stalls them all at once. The monitor
sleeps ``interval`` seconds in a loop and measures how much later than asked it woke up:

- every sample goes into ``videocall_event_loop_lag_seconds`` (a histogram on ``/metrics``);
- a lag past the threshold logs a warning, at most one every ``WARN_EVERY_SECONDS``, with how
  many samples were over it and the worst since the last warning.

The threshold is the ``LOOP_LAG_WARN_SECONDS`` setting (0.1 s by default).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable

from aiohttp import web
from prometheus_client import CollectorRegistry, Histogram

from web import keys
from web.metrics import METRICS, NS

logger = logging.getLogger(__name__)

INTERVAL_SECONDS = 0.02
DEFAULT_WARN_SECONDS = 0.1
WARN_EVERY_SECONDS = 10.0
LAG_BUCKETS = (0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class LoopLagMonitor:
    """Samples the running loop's lag; ``start``/``close`` are safe to call twice."""

    def __init__(
        self,
        registry: CollectorRegistry,
        *,
        warn_seconds: float = DEFAULT_WARN_SECONDS,
        interval: float = INTERVAL_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.histogram = Histogram(
            f"{NS}_event_loop_lag_seconds",
            "How much later than asked the event loop woke a sleeping task",
            buckets=LAG_BUCKETS,
            registry=registry,
        )
        self.warn_seconds = warn_seconds
        self.interval = interval
        self._clock = clock
        self._task: asyncio.Task[None] | None = None
        self._over = 0  # samples past the threshold since the last warning
        self._worst = 0.0
        self._last_warning = float("-inf")

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="loop-lag-monitor")

    async def _run(self) -> None:
        while True:
            asked = self._clock()
            await asyncio.sleep(self.interval)
            self.observe(self._clock() - asked - self.interval)

    def observe(self, lag: float) -> None:
        """Record one sample (seconds late); warn if past the threshold and not warned lately."""
        lag = max(0.0, lag)
        self.histogram.observe(lag)
        if lag < self.warn_seconds:
            return
        self._over += 1
        self._worst = max(self._worst, lag)
        now = self._clock()
        if now - self._last_warning >= WARN_EVERY_SECONDS:
            logger.warning(
                "event loop lag %.0f ms (%d sample(s) over %.0f ms, worst %.0f ms): "
                "CPU-heavy work on the loop?",
                lag * 1000,
                self._over,
                self.warn_seconds * 1000,
                self._worst * 1000,
            )
            self._last_warning, self._over, self._worst = now, 0, 0.0

    async def close(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                pass


LOOP_LAG = web.AppKey("loop_lag", LoopLagMonitor)


async def _monitor_ctx(app: web.Application) -> AsyncIterator[None]:
    warn = app[keys.SETTINGS].loop_lag_warn_seconds
    monitor = LoopLagMonitor(app[METRICS].registry, warn_seconds=warn)
    app[LOOP_LAG] = monitor
    monitor.start()
    try:
        yield
    finally:
        await monitor.close()


def install(app: web.Application) -> None:
    """Start the monitor with the app (after ``web.metrics.install``: it uses its registry)."""
    app.cleanup_ctx.append(_monitor_ctx)
