"""The call benchmark's teardown: a client worker that already exited does not stop the run
from reporting, and the server under test and the processes it started are always stopped."""

from __future__ import annotations

import asyncio
import sys
import tempfile
from pathlib import Path

import psutil
import pytest

from bench import procs
from bench.calls import stop_all
from bench.procs import ServerProcess, Worker
from bench.window import collect

# A worker that follows the protocol: reads the window's end, prints its result, exits.
REPORTING = (
    "import json, sys; sys.stdin.readline(); "
    "print(json.dumps({'event': 'result', 'calls': [{'call_id': 'a'}], 'client_cpu_s': 0.1}), "
    "flush=True)"
)
# A long run's result: 3 calls x 2 directions x 6300 latencies (7 minutes at 15 fps) on one line.
LONG_RUN = (
    "import json, sys; sys.stdin.readline(); "
    "calls = [{'latencies_ms': [12.34] * 6300} for _ in range(6)]; "
    "print(json.dumps({'event': 'result', 'calls': calls, 'client_cpu_s': 9.9}), flush=True)"
)
CRASHED = "import sys; sys.exit(3)"
HUNG = "import time; time.sleep(600)"  # never reads stdin, never exits on its own
# A server that starts a child of its own (like the CPU pool) and ignores nothing.
SERVER = (
    "import subprocess, sys, time; "
    "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)']); "
    "time.sleep(600)"
)


async def spawn(code: str, stdout: int = asyncio.subprocess.PIPE) -> asyncio.subprocess.Process:
    """Workers talk through pipes; the server writes a log file (no pipe its child inherits)."""
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        code,
        stdin=asyncio.subprocess.PIPE,
        stdout=stdout,
        start_new_session=True,
    )


def gone(pid: int) -> bool:
    try:
        return bool(psutil.Process(pid).status() == psutil.STATUS_ZOMBIE)
    except psutil.NoSuchProcess:
        return True


async def server_with_child() -> tuple[ServerProcess, int]:
    proc = await spawn(SERVER, asyncio.subprocess.DEVNULL)
    for _ in range(200):
        children = procs.descendants(proc.pid)
        if children:
            return ServerProcess(proc, "http://unused", Path(tempfile.mkdtemp())), children[0].pid
        await asyncio.sleep(0.05)
    raise AssertionError("the stand-in server did not start its child")


async def test_results_of_live_workers_are_kept_when_one_exited() -> None:
    reporting, crashed = Worker(await spawn(REPORTING)), Worker(await spawn(CRASHED))
    await crashed.proc.wait()

    results, lost = await collect([reporting, crashed], t1=0.0)

    assert [r["calls"] for r in results] == [[{"call_id": "a"}]]
    assert lost == [crashed]
    await stop_all([reporting, crashed], (await server_with_child())[0])


async def test_a_long_runs_result_line_is_read() -> None:
    worker = await procs.start_python(["-c", LONG_RUN], Path(tempfile.mkdtemp()) / "w.log")

    results, lost = await collect([Worker(worker)], t1=0.0)

    assert lost == [] and len(results[0]["calls"][0]["latencies_ms"]) == 6300
    await stop_all([Worker(worker)], (await server_with_child())[0])


async def test_teardown_tolerates_exited_workers_and_stops_the_server_group(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(procs, "WORKER_STOP_TIMEOUT_S", 0.5)
    crashed, hung = Worker(await spawn(CRASHED)), Worker(await spawn(HUNG))
    await crashed.proc.wait()
    server, server_child = await server_with_child()

    await stop_all([crashed, hung], server)

    for pid in (crashed.pid(), hung.pid(), server.proc.pid, server_child):
        assert gone(pid), pid


async def test_the_server_is_stopped_when_stopping_a_worker_fails() -> None:
    server, server_child = await server_with_child()

    class Broken(Worker):
        async def stop(self) -> None:
            raise psutil.NoSuchProcess(self.pid())

    broken = Broken(await spawn(CRASHED))
    await stop_all([broken], server)

    assert server.proc.returncode is not None
    assert gone(server.proc.pid) and gone(server_child)
