"""Processes of the call benchmark: the server under test and the client workers."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
import socket
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

ROOT = Path(__file__).resolve().parent.parent
SERVER_START_TIMEOUT_S = 60.0
WORKER_READY_TIMEOUT_S = 240.0
SERVER_STOP_TIMEOUT_S = 20.0
WORKER_STOP_TIMEOUT_S = 30.0
# A worker's result is one JSON line with every frame's latency: ~200 KB for 3 calls over 7
# minutes. asyncio's default line limit (64 KiB) made readline() raise in long runs.
RESULT_LINE_LIMIT = 256 * 2**20


def descendants(pid: int) -> list[psutil.Process]:
    try:
        children: list[psutil.Process] = psutil.Process(pid).children(recursive=True)
        return children
    except psutil.NoSuchProcess:
        return []


async def stop_process(proc: asyncio.subprocess.Process, wait_s: float, term: bool) -> None:
    """Stop a process started with ``start_new_session=True`` and whatever it started.

    ``term``: SIGTERM the leader first (the server shuts down cleanly). After ``wait_s`` the
    group gets SIGKILL, and so do the children seen at the start (CPU pool workers the leader
    left behind). Tolerates a process that already exited (a crashed client worker)."""
    children = descendants(proc.pid) if proc.returncode is None else []
    if proc.returncode is None and term:
        with contextlib.suppress(ProcessLookupError):
            proc.terminate()
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(proc.wait(), wait_s)
    if proc.returncode is None:  # the leader is alive, so its group id is still its own
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        await proc.wait()
    for child in children:  # psutil refuses a pid that was reused meanwhile
        with contextlib.suppress(psutil.NoSuchProcess):
            child.kill()
    await asyncio.to_thread(psutil.wait_procs, children, timeout=5)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class ServerProcess:
    proc: asyncio.subprocess.Process
    url: str
    data_dir: Path

    @property
    def ps(self) -> psutil.Process:
        return psutil.Process(self.proc.pid)

    def cpu_seconds(self) -> float:
        times = self.ps.cpu_times()
        total: float = times.user + times.system
        return total

    def rss_mb(self) -> float | None:
        """Resident set now, read from outside; None once the server is gone."""
        try:
            rss: int = self.ps.memory_info().rss
        except psutil.NoSuchProcess:
            return None
        return round(rss / 2**20, 1)

    def peak_rss_mb(self) -> float:
        """VmHWM: the kernel's own record of the largest resident set so far."""
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
        rss: int = self.ps.memory_info().rss
        return round(rss / 2**20, 1)

    def remove_files(self) -> None:
        """Recordings and logs of a run that went well (kept after a failure)."""
        if not os.environ.get("BENCH_KEEP_FILES"):
            shutil.rmtree(self.data_dir, ignore_errors=True)

    async def stop(self) -> None:
        await stop_process(self.proc, SERVER_STOP_TIMEOUT_S, term=True)


def server_command(setup: str, pipeline: str, port: int, data_dir: Path) -> list[str]:
    if setup == "media-only":
        module = ["-m", "bench.media_server", "--pipeline", pipeline, "--data-dir", str(data_dir)]
        return [sys.executable, *module, "--port", str(port)]
    return [sys.executable, "server.py", "--port", str(port)]


def server_env(pipeline: str, data_dir: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        DATA_DIR=str(data_dir),
        SERVICE_HOURS="always",
        MEDIA_PIPELINE=pipeline,
        ALLOW_LOOPBACK_ICE="true",
        LOG_LEVEL="WARNING",
        PYTHONPATH=str(ROOT),
        # Hundreds of registrations and uploads from one address in minutes: not abuse here.
        RATE_LIMIT_REGISTER="off",
        RATE_LIMIT_UPLOAD="off",
        RATE_LIMIT_LOGIN="off",
    )
    env.pop("REDIS_URL", None)  # the in-process queue unless asked: BENCH_REDIS_URL
    if "BENCH_REDIS_URL" in env:
        env["REDIS_URL"] = env["BENCH_REDIS_URL"]
    return env


async def wait_port(port: int, proc: asyncio.subprocess.Process) -> None:
    deadline = time.monotonic() + SERVER_START_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.returncode is not None:
            raise RuntimeError(f"server exited with {proc.returncode} before listening")
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.close()
            return
        except OSError:
            await asyncio.sleep(0.1)
    raise RuntimeError("server did not start listening in time")


async def start_server(setup: str, pipeline: str) -> ServerProcess:
    port = free_port()
    data_dir = Path(tempfile.mkdtemp(prefix=f"bench-{pipeline}-"))
    with (data_dir / "server.log").open("wb") as log:  # the server keeps its own descriptor
        proc = await asyncio.create_subprocess_exec(
            *server_command(setup, pipeline, port, data_dir),
            cwd=ROOT,
            env=server_env(pipeline, data_dir),
            stdout=log,
            stderr=log,
            start_new_session=True,  # one group: stopping it stops the CPU pool processes too
        )
    try:
        await wait_port(port, proc)
    except BaseException:
        await stop_process(proc, SERVER_STOP_TIMEOUT_S, term=True)
        raise
    return ServerProcess(proc, f"http://127.0.0.1:{port}", data_dir)


@dataclass
class Worker:
    proc: asyncio.subprocess.Process

    async def send(self, message: dict[str, Any]) -> bool:
        """False when the worker is gone (its stdin closed)."""
        assert self.proc.stdin is not None
        try:
            self.proc.stdin.write((json.dumps(message) + "\n").encode())
            await self.proc.stdin.drain()
        except (BrokenPipeError, ConnectionResetError):
            return False
        return True

    async def event(self, name: str, wait_s: float) -> dict[str, Any]:
        assert self.proc.stdout is not None
        deadline = time.monotonic() + wait_s
        while True:
            remaining = deadline - time.monotonic()
            line = await asyncio.wait_for(self.proc.stdout.readline(), max(remaining, 0.01))
            if not line:
                raise RuntimeError(f"worker exited ({await self.proc.wait()}) before {name}")
            message: dict[str, Any] = json.loads(line)
            if message.get("event") == name:
                return message

    def pid(self) -> int:
        return self.proc.pid

    @property
    def exited(self) -> bool:
        return self.proc.returncode is not None

    async def stop(self) -> None:
        """Let it finish (it closes its calls after the result), then make sure it is gone."""
        await stop_process(self.proc, WORKER_STOP_TIMEOUT_S, term=False)


async def start_worker(
    setup: str,
    url: str,
    calls: int,
    first: int,
    tag: str,
    decode_all: bool,
    log: Path,
    at_once: bool = False,
    codec: str = "VP8",
) -> Worker:
    args = ["--setup", setup, "--url", url, "--calls", str(calls), "--first", str(first)]
    args += ["--tag", tag] + (["--decode-all"] if decode_all else [])
    args += ["--at-once"] if at_once else []
    args += ["--codec", codec]
    return Worker(await start_python(["-m", "bench.worker", *args], log))


async def start_python(args: list[str], log: Path) -> asyncio.subprocess.Process:
    """A client process talking JSON lines on stdin/stdout, stderr to ``log``."""
    with log.open("ab") as stderr:  # the child keeps its own descriptor
        return await asyncio.create_subprocess_exec(
            sys.executable,
            *args,
            cwd=ROOT,
            env=dict(
                os.environ, PYTHONPATH=str(ROOT), BENCH_PAIR_LOCK=str(log.parent / "pair.lock")
            ),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=stderr,
            start_new_session=True,  # Ctrl-C reaches the driver only; it stops everyone
            limit=RESULT_LINE_LIMIT,
        )
