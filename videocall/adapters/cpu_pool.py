"""A bounded pool for CPU-heavy work (the ``CpuPool`` port): image decode and clean-up, scoring,
snapshot encoding, hashing of big files, and later OCR or face models.

Two kinds, one interface:

- ``process`` (the default): worker processes started by ``forkserver`` (never a ``fork`` of the
  running server with its threads and sockets). The event loop keeps the GIL to itself, a decode
  that runs out of memory kills one worker and not the server, and a broken pool is replaced. The
  function and its arguments cross a pipe, so both must be picklable: a module-level function.
  A worker exits when the server process does, even one killed with SIGKILL.
- ``thread``: threads in this process; for work that needs shared objects. Pillow and numpy release
  the GIL for most of their work, but the Python parts between still compete with the event loop.

``bench/loop_lag.py`` measures both (docs/benchmarks.md). At most ``workers`` jobs run at once
and at most ``queue`` more wait for a worker; past that ``run`` refuses with ``server_busy``
(503) rather than holding yet more uploads in memory.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import select
import threading
import time
from collections.abc import Callable
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, Literal, TypeVar

from videocall.errors import Unavailable
from videocall.logsetup import configure_logging

logger = logging.getLogger(__name__)

T = TypeVar("T")
PoolKind = Literal["process", "thread"]
# Imported once by the fork server, so each worker starts with them loaded.
PRELOAD = ["numpy", "PIL.Image", "PIL.PngImagePlugin", "PIL.JpegImagePlugin"]


# Added to the workers' niceness: CPU-heavy jobs yield the CPU to the event loop's process.
WORKER_NICENESS = 10


def default_workers() -> int:
    """One worker per core beyond the event loop's, at least one and at most four."""
    return max(1, min(4, (os.cpu_count() or 1) - 1))


def _warm_up() -> int:
    return os.getpid()


def _start_workers(executor: Executor, count: int) -> None:
    for future in [executor.submit(_warm_up) for _ in range(count)]:
        future.result()


def _worker_init(server_pid: int, log_level: str | None, log_json: bool) -> None:
    """Worker initializer: the server's logging (same format, the same NIK and token masking;
    without it a worker's warnings went to stderr unformatted and unmasked and its info lines
    were lost); a lower CPU priority, so that on a busy machine the scheduler runs the server's
    event loop (and its media threads) first; and exit when the server process ends, however it
    ends. A worker waits on a pipe it holds both ends of, so it would never notice a server
    killed with SIGKILL, and would keep its memory forever."""
    if log_level is not None:
        configure_logging(log_level, log_json)
    try:
        os.nice(WORKER_NICENESS)
    except OSError:
        pass

    def watch() -> None:
        try:
            fd = os.pidfd_open(server_pid)
            select.select([fd], [], [])  # readable once the process has exited
        except OSError:  # no pidfd (old kernel): look every second
            while os.getppid() != 1 and _alive(server_pid):
                time.sleep(1.0)
        os._exit(0)

    threading.Thread(target=watch, name="cpu-pool-watch", daemon=True).start()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    return True


class WorkerPool:
    """``CpuPool`` on a process or thread executor, started by the first job."""

    def __init__(
        self,
        kind: PoolKind = "process",
        *,
        workers: int | None = None,
        queue: int = 16,
        log_level: str | None = None,
        log_json: bool = False,
    ) -> None:
        """``log_level``: configure logging in each worker process as the server does (None:
        leave the workers' logging alone, e.g. in a program with its own set-up)."""
        self.kind = kind
        self._logging = (log_level, log_json)
        self.workers = workers or default_workers()
        self.queue = queue
        self._executor: Executor | None = None
        self._starting = asyncio.Lock()
        self._slots = asyncio.Semaphore(self.workers)
        self._admitted = 0  # running + waiting for a worker
        self._closed = False

    @property
    def busy(self) -> int:
        """Jobs running or waiting now."""
        return self._admitted

    def _make_executor(self) -> Executor:
        if self.kind == "thread":
            return ThreadPoolExecutor(self.workers, thread_name_prefix="cpu-pool")
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(PRELOAD)
        return ProcessPoolExecutor(
            self.workers,
            mp_context=context,
            initializer=_worker_init,
            initargs=(os.getpid(), *self._logging),
        )

    async def warm_up(self) -> None:
        """Start every worker now, so the first upload does not pay for process start-up."""
        await asyncio.gather(*(self.run(_warm_up) for _ in range(self.workers)))

    async def run(self, fn: Callable[..., T], /, *args: Any) -> T:
        """Run ``fn(*args)`` in a worker; waits for a free one, refuses past the queue bound."""
        if self._closed:
            raise Unavailable("the server is shutting down", code="server_busy")
        if self._admitted >= self.workers + self.queue:
            logger.warning("cpu pool full (%d running or waiting): job refused", self._admitted)
            raise Unavailable("the server is busy; try again in a moment", code="server_busy")
        self._admitted += 1
        try:
            async with self._slots:
                return await self._submit(fn, args)
        finally:
            self._admitted -= 1

    async def _started(self) -> Executor:
        """The executor, its workers started. Starting a worker process waits for the fork
        server (which imports numpy and Pillow first): hundreds of milliseconds, never on the
        event loop, so the first job (and the first after a worker died) starts them in a
        thread."""
        async with self._starting:
            if self._closed:
                raise Unavailable("the server is shutting down", code="server_busy")
            if self._executor is None:
                executor = self._make_executor()
                if self.kind == "process":
                    await asyncio.to_thread(_start_workers, executor, self.workers)
                self._executor = executor
            return self._executor

    async def _submit(self, fn: Callable[..., T], args: tuple[Any, ...]) -> T:
        executor = await self._started()
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(executor, fn, *args)
        except BrokenProcessPool:
            # A worker died (killed for memory, most likely): this job fails, the next get a
            # fresh pool. Only the first of several jobs that saw the same break replaces it.
            logger.error("cpu pool: a worker died; starting a new pool")
            if self._executor is executor:
                self._executor = None
                executor.shutdown(wait=False, cancel_futures=True)
            raise Unavailable(
                "the server could not process this; try again", code="server_busy"
            ) from None

    async def close(self) -> None:
        """Wait for running jobs, then stop the workers; safe to call twice."""
        self._closed = True
        async with self._starting:
            executor, self._executor = self._executor, None
        if executor is not None:
            await asyncio.to_thread(executor.shutdown, wait=True, cancel_futures=True)
