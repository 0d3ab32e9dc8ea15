"""A real coturn on loopback for relay tests, with a TURN REST secret (``use-auth-secret``)."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

SECRET = "relay-test-secret-0123456789abcdef"
AVAILABLE = shutil.which("turnserver") is not None


@dataclass(frozen=True, slots=True)
class Coturn:
    port: int
    secret: str
    log: Path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def running_coturn(directory: Path) -> Iterator[Coturn]:
    """Start ``turnserver`` on 127.0.0.1 (UDP and TCP on one port, relaying to loopback)."""
    port = _free_port()
    log = directory / "turn.log"
    process = subprocess.Popen(
        [
            "turnserver",
            "-n",  # no configuration file: everything is on this command line
            "--listening-ip=127.0.0.1",
            "--relay-ip=127.0.0.1",
            f"--listening-port={port}",
            "--min-port=40000",
            "--max-port=40999",
            "--use-auth-secret",
            f"--static-auth-secret={SECRET}",
            "--realm=test.local",
            "--no-tls",
            "--no-dtls",
            "--no-cli",
            "--allow-loopback-peers",  # the media server is on 127.0.0.1 here
            f"--log-file={log}",
            "--simple-log",
            f"--pidfile={directory / 'turn.pid'}",
            f"--db={directory / 'turndb'}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(200):
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            if process.poll() is not None:
                output = log.read_text() if log.exists() else ""
                raise RuntimeError(f"turnserver exited: {output}")
            time.sleep(0.05)
        yield Coturn(port, SECRET, log)
    finally:
        process.terminate()
        process.wait(timeout=10)
