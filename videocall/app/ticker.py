"""Periodic background work of the services (grace windows, queue refresh, reconciliation):
one task per job, stopped by a flag so that a library that swallows a cancellation mid-command
(redis-py on Python 3.11) cannot hang the shutdown."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

logger = logging.getLogger(__name__)


class Ticker:
    def __init__(self) -> None:
        self._jobs: list[tuple[str, float, Callable[[], Awaitable[object]]]] = []
        self._tasks: set[asyncio.Task[None]] = set()
        self._stopping = asyncio.Event()

    def every(self, name: str, seconds: float, job: Callable[[], Awaitable[object]]) -> None:
        self._jobs.append((name, seconds, job))

    def start(self) -> None:
        for name, seconds, job in self._jobs:
            self._tasks.add(asyncio.create_task(self._loop(name, seconds, job), name=name))

    async def _loop(self, name: str, seconds: float, job: Callable[[], Awaitable[object]]) -> None:
        # The first run waits one interval too: start-up already did its own work, and a job
        # cut off by an early shutdown could leave a half-open connection behind.
        while not await self._stopped_within(seconds):
            try:
                await job()
            except Exception:
                # Redis away for longer than the client's retries: try again next round.
                logger.exception("%s failed; trying again in %.0f s", name, seconds)

    async def _stopped_within(self, seconds: float) -> bool:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), seconds)
        return self._stopping.is_set()

    async def close(self) -> None:
        self._stopping.set()
        if not self._tasks:
            return
        _, pending = await asyncio.wait(self._tasks, timeout=5)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        self._tasks.clear()
