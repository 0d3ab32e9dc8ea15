"""The CPU pool on real worker processes (and threads): results and domain errors come back,
the queue is bounded, a dead worker is replaced, and the event loop lag is on /metrics."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from prometheus_client import CollectorRegistry

from tests.support import photo_bytes
from videocall.adapters.cpu_pool import PoolKind, WorkerPool
from videocall.documents import DocumentRules, clean_image
from videocall.errors import Unavailable, ValidationError
from web.loop_lag import LoopLagMonitor

Client = TestClient[web.Request, web.Application]


def hold_until(gate: str) -> int:
    while not os.path.exists(gate):
        os.sched_yield()
    return os.getpid()


def release(gate: Path) -> None:
    gate.touch()


def die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def logged_line(message: str) -> str:
    """What this worker's root handler writes for a warning (its formatter after its filters)."""
    record = logging.LogRecord("worker", logging.WARNING, __file__, 1, message, None, None)
    (handler,) = logging.getLogger().handlers
    assert handler.filter(record)
    return handler.format(record)


@pytest.fixture(params=["process", "thread"])
async def pool(request: pytest.FixtureRequest) -> AsyncIterator[WorkerPool]:
    kind: PoolKind = request.param
    pool = WorkerPool(kind, workers=1, queue=2)
    yield pool
    await pool.close()


async def test_results_and_domain_errors_come_back(pool: WorkerPool) -> None:
    cleaned = await pool.run(clean_image, photo_bytes(), DocumentRules())
    assert (cleaned.width, cleaned.height) == (800, 600)
    with pytest.raises(ValidationError) as exc:
        await pool.run(clean_image, b"%PDF-1.7", DocumentRules())
    assert exc.value.code == "image_unreadable" and exc.value.field == "file"
    if pool.kind == "process":
        assert await pool.run(os.getpid) != os.getpid()


async def test_past_the_queue_bound_a_job_is_refused(pool: WorkerPool, tmp_path: Path) -> None:
    gate = tmp_path / "gate"
    admitted = [asyncio.create_task(pool.run(hold_until, str(gate))) for _ in range(3)]
    while pool.busy < 3:  # noqa: ASYNC110 - a counter, no event to wait on
        await asyncio.sleep(0.01)
    with pytest.raises(Unavailable) as exc:
        await pool.run(hold_until, str(gate))
    assert exc.value.code == "server_busy" and exc.value.status == 503
    release(gate)
    assert len(await asyncio.gather(*admitted)) == 3
    assert pool.busy == 0


async def test_a_dead_worker_fails_its_job_and_is_replaced() -> None:
    pool = WorkerPool("process", workers=1)
    try:
        first = await pool.run(os.getpid)
        with pytest.raises(Unavailable) as exc:
            await pool.run(die)
        assert exc.value.code == "server_busy"
        assert await pool.run(os.getpid) not in (first, os.getpid())
    finally:
        await pool.close()


async def test_workers_log_as_the_server_does_with_nik_and_tokens_masked() -> None:
    pool = WorkerPool("process", workers=1, log_level="INFO", log_json=True)
    try:
        line = await pool.run(logged_line, "hashing for 3201011501900001, Bearer abc.def")
    finally:
        await pool.close()
    entry = json.loads(line)
    assert entry["level"] == "WARNING" and entry["logger"] == "worker"
    assert "3201011501900001" not in line and "abc.def" not in line
    assert "[redacted]" in entry["message"]


async def test_close_twice_and_refuse_after() -> None:
    pool = WorkerPool("process", workers=1)
    await pool.run(os.getpid)
    await pool.close()
    await pool.close()
    with pytest.raises(Unavailable):
        await pool.run(os.getpid)


def test_lag_past_the_threshold_warns_once_per_period(caplog: pytest.LogCaptureFixture) -> None:
    now = [100.0]
    monitor = LoopLagMonitor(CollectorRegistry(), warn_seconds=0.1, clock=lambda: now[0])
    caplog.set_level(logging.WARNING, logger="web.loop_lag")
    monitor.observe(0.05)
    assert caplog.records == []
    monitor.observe(0.4)
    monitor.observe(0.9)  # within the same period: counted, not logged
    assert len(caplog.records) == 1 and "400 ms" in caplog.records[0].getMessage()
    now[0] += 11
    monitor.observe(0.2)
    assert len(caplog.records) == 2
    assert "2 sample(s)" in caplog.records[1].getMessage()  # 0.9 and 0.2
    assert "worst 900 ms" in caplog.records[1].getMessage()
    assert next(iter(monitor.histogram.collect())).samples  # observed into the histogram


async def test_loop_lag_histogram_on_metrics(client: Client) -> None:
    count = "videocall_event_loop_lag_seconds_count"
    while True:  # until the monitor has taken its first sample
        body = await (await client.get("/metrics")).text()
        lines = [line for line in body.splitlines() if line.startswith(count)]
        if lines and float(lines[0].split()[-1]) >= 1:
            break
        await asyncio.sleep(0.02)
    assert 'videocall_event_loop_lag_seconds_bucket{le="0.1"}' in body
