"""Real headless Chromium against the real server, started as a subprocess on a free port.

Needs Debian chromium (`make chromium`) and the Socket.IO client (`make web-deps`); the tests
are skipped, saying why, when either is missing.
"""

from __future__ import annotations

import asyncio
import io
import os
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.support import free_port
from videocall.accounts import Role
from videocall.adapters.sql_accounts import SqlAccounts
from videocall.adapters.sql_records import Database
from videocall.clock import SystemClock

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = ROOT / "test-output" / "screenshots"
OFFICER = ("e2e.officer", "Petugas-E2E-2026x")
SUPERVISOR = ("e2e.supervisor", "Supervisor-E2E-2026x")
CHROMIUM_ARGS = [
    "--use-fake-ui-for-media-stream",
    "--use-fake-device-for-media-stream",
    "--allow-loopback-in-peer-connection",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def _wait_healthy(url: str, proc: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/healthz", timeout=1) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("server did not become healthy")


@dataclass(frozen=True)
class Server:
    url: str
    data_dir: Path
    env: dict[str, str]


def _create_accounts(data_dir: Path, *accounts: tuple[str, str, str]) -> None:
    """``(username, password, role)`` each, as ``accounts_cli create --if-missing`` makes them,
    in the server's database (SQLite in its DATA_DIR), through the same adapter. In this process:
    a command per account cost a Python start-up each (~2 s on a loaded machine)."""
    url = f"sqlite+aiosqlite:///{(data_dir / 'videocall.db').resolve()}"

    async def create() -> None:
        database = Database.from_url(url)
        try:
            store = SqlAccounts(database)
            for username, password, role in accounts:
                if await store.by_username(username) is None:
                    await store.create(
                        username=username,
                        password=password,
                        role=Role(role),
                        display_name=username.title(),
                        now=SystemClock().now(),
                    )
        finally:
            await database.close()

    # A thread of its own: Playwright's sync API may have an event loop running on this one.
    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, create()).result(timeout=60)


_stopping: list[threading.Thread] = []


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def stop_servers_still_stopping() -> None:
    """Wait for the servers whose shutdown runs in the background (at the end of the session)."""
    while _stopping:
        _stopping.pop().join()


@contextmanager
def run_server(
    data_dir: Path, extra_env: dict[str, str] | None = None, log_name: str = "e2e-server.log"
) -> Iterator[Server]:
    """The real server as a subprocess on a free port, with its demo accounts and extra settings."""
    port = free_port()
    env = {
        **os.environ,
        "DATA_DIR": str(data_dir),
        "SERVICE_HOURS": "always",
        "PORT": str(port),
        "HOST": "127.0.0.1",
        "LOG_LEVEL": "INFO",
        "UPSTREAM_API_KEYS": "e2e:e2e-upstream-key",
        **(extra_env or {}),
    }
    env.pop("DATABASE_URL", None)
    env.pop("REDIS_URL", None)
    (ROOT / "test-output").mkdir(exist_ok=True)
    with (ROOT / "test-output" / log_name).open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "server.py", "--port", str(port)],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            url = f"http://127.0.0.1:{port}"
            _wait_healthy(url, proc)
            _create_accounts(
                Path(env["DATA_DIR"]), (*OFFICER, "officer"), (*SUPERVISOR, "supervisor")
            )
            yield Server(url, data_dir, env)
        finally:
            # SIGTERM now; its graceful shutdown (~2 s) goes on beside the next test, which has
            # a server, port and data directory of its own. Waited for at the session's end.
            stopper = threading.Thread(target=_stop, args=(proc,), name=f"stop-{proc.pid}")
            stopper.start()
            _stopping.append(stopper)


@pytest.fixture(scope="session", autouse=True)
def _servers_stopped() -> Iterator[None]:
    yield
    stop_servers_still_stopping()


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    if not (ROOT / "web" / "node_modules" / "socket.io-client").is_dir():
        pytest.skip("web/node_modules missing: run `make web-deps`")
    # The log is kept after the run (tmp dirs are pruned): the first place to look when a page
    # misbehaves.
    with run_server(tmp_path_factory.mktemp("e2e-data")) as server:
        yield server


# Package scope, not session: Playwright's sync API runs an event loop on the main thread while it
# is open, and the asyncio tests that come after this package need that thread's loop free.
@pytest.fixture(scope="package")
def playwright_instance() -> Iterator[object]:
    if not CHROMIUM.exists():
        pytest.skip("Debian chromium missing: run `make chromium`")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        yield p


def launch(playwright: object, extra_args: list[str] | None = None) -> object:
    return playwright.chromium.launch(  # type: ignore[attr-defined]
        executable_path=str(CHROMIUM), args=CHROMIUM_ARGS + (extra_args or [])
    )


@pytest.fixture(scope="package")
def browser(playwright_instance: object) -> Iterator[object]:
    b = launch(playwright_instance)
    yield b
    b.close()  # type: ignore[attr-defined]


class Shots:
    """Screenshots of each step under test-output/screenshots/<test>/NN-name.png."""

    def __init__(self, name: str) -> None:
        self.dir = SCREENSHOTS / name
        self.dir.mkdir(parents=True, exist_ok=True)
        for old in self.dir.glob("*.png"):
            old.unlink()
        self.n = 0

    def __call__(self, page: object, name: str, full_page: bool = True) -> Path:
        self.n += 1
        path = self.dir / f"{self.n:02d}-{name}.png"
        page.screenshot(path=str(path), full_page=full_page)  # type: ignore[attr-defined]
        return path


@pytest.fixture
def shots(request: pytest.FixtureRequest) -> Shots:
    return Shots(request.node.name.replace("[", "-").replace("]", ""))


# -- test media ------------------------------------------------------------------------------


def photo_jpeg(mean: float = 150.0, size: tuple[int, int] = (800, 600), seed: int = 1) -> bytes:
    """A sharp (noisy, textured) photo of the given mean brightness."""
    rng = np.random.default_rng(seed)
    w, h = size
    yy, xx = np.mgrid[0:h, 0:w]
    pattern = 40.0 * np.sin(xx / 7.0) * np.cos(yy / 9.0)
    noise = rng.normal(0, 25, size=(h, w))
    grey = np.clip(mean + pattern + noise, 0, 255)
    rgb = np.stack([grey, np.clip(grey * 0.95, 0, 255), np.clip(grey * 0.9, 0, 255)], axis=-1)
    out = io.BytesIO()
    Image.fromarray(rgb.astype(np.uint8)).save(out, format="JPEG", quality=90)
    return out.getvalue()


def dark_y4m(path: Path, frames: int = 30, size: tuple[int, int] = (640, 480)) -> Path:
    """A dark but textured Y4M clip for --use-file-for-fake-video-capture."""
    w, h = size
    rng = np.random.default_rng(7)
    header = f"YUV4MPEG2 W{w} H{h} F15:1 Ip A1:1 C420jpeg\n".encode()
    chroma = np.full((h // 2) * (w // 2), 128, dtype=np.uint8).tobytes()
    with path.open("wb") as f:
        f.write(header)
        for _ in range(frames):
            luma = np.clip(rng.normal(22, 8, size=(h, w)), 0, 255).astype(np.uint8)
            f.write(b"FRAME\n" + luma.tobytes() + chroma + chroma)
    return path


def bright_y4m(path: Path, frames: int = 45, size: tuple[int, int] = (640, 480)) -> Path:
    """A well-lit, sharp, moving Y4M clip: the server's analysis rates it good, so snapshots
    from it are usable evidence (Chromium's own fake camera is a dark green)."""
    w, h = size
    rng = np.random.default_rng(11)
    yy, xx = np.mgrid[0:h, 0:w]
    header = f"YUV4MPEG2 W{w} H{h} F15:1 Ip A1:1 C420jpeg\n".encode()
    u = np.full((h // 2) * (w // 2), 120, dtype=np.uint8).tobytes()
    v = np.full((h // 2) * (w // 2), 136, dtype=np.uint8).tobytes()
    with path.open("wb") as f:
        f.write(header)
        for i in range(frames):
            stripes = 45.0 * np.sign(np.sin((xx + 6 * i) / 9.0) * np.cos(yy / 11.0))
            luma = np.clip(135 + stripes + rng.normal(0, 12, size=(h, w)), 0, 255)
            f.write(b"FRAME\n" + luma.astype(np.uint8).tobytes() + u + v)
    return path


@pytest.fixture(scope="session")
def photos(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("photos")
    out = {}
    for i, name in enumerate(("ktp", "selfie_with_ktp", "face", "dark")):
        path = base / f"{name}.jpg"
        path.write_bytes(photo_jpeg(mean=30.0 if name == "dark" else 150.0, seed=i))
        out[name] = path
    return out


@pytest.fixture(autouse=True)
def _no_leaked_tasks() -> Iterator[None]:
    """The browser tests are synchronous (Playwright's sync API runs its own event loop), so
    the suite-wide asyncio leak check does not apply; the server runs in another process."""
    yield
