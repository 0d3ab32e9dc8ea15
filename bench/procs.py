"""Processes of the call benchmark: the server under test and the client workers."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
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
        if self.proc.returncode is None:
            self.proc.terminate()
            try:
                await asyncio.wait_for(self.proc.wait(), 20)
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()


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
    log = (data_dir / "server.log").open("wb")
    proc = await asyncio.create_subprocess_exec(
        *server_command(setup, pipeline, port, data_dir),
        cwd=ROOT,
        env=server_env(pipeline, data_dir),
        stdout=log,
        stderr=log,
    )
    await wait_port(port, proc)
    return ServerProcess(proc, f"http://127.0.0.1:{port}", data_dir)


@dataclass
class Worker:
    proc: asyncio.subprocess.Process

    async def send(self, message: dict[str, Any]) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write((json.dumps(message) + "\n").encode())
        await self.proc.stdin.drain()

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


async def start_worker(
    setup: str, url: str, calls: int, first: int, tag: str, decode_all: bool, log: Path
) -> Worker:
    args = ["--setup", setup, "--url", url, "--calls", str(calls), "--first", str(first)]
    args += ["--tag", tag] + (["--decode-all"] if decode_all else [])
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bench.worker",
        *args,
        cwd=ROOT,
        env=dict(os.environ, PYTHONPATH=str(ROOT), BENCH_PAIR_LOCK=str(log.parent / "pair.lock")),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=log.open("ab"),
    )
    return Worker(proc)
