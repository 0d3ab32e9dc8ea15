"""A cluster of real ``python server.py`` processes on loopback for the scale-out tests: one
PostgreSQL database and one Redis prefix per test, sockets and aiortc peers that talk to a chosen
node's own URL, and clean-up that kills every process it started."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import socketio
from aiortc import RTCPeerConnection, RTCSessionDescription

from tests.conftest import Participant
from tests.integration.media_peers import PatternTrack, Received, ToneTrack, _consume
from tests.integration.outcomes_support import Staff, make_account
from tests.support import free_port, make_nik
from videocall.accounts import Account, Role
from videocall.adapters.redis_queue import connect
from videocall.adapters.sql_records import Database
from videocall.placement import NodeInfo

ROOT = Path(__file__).resolve().parents[1]
NODE_TTL_SECONDS = 3.0
HEARTBEAT_SECONDS = 0.5
KEEP_ENV = ("PATH", "HOME", "LANG", "PYTHONPATH", "TMPDIR")


class Node:
    """One server process with its own port, NODE_ID, PUBLIC_URL and data directory."""

    def __init__(self, name: str, env: dict[str, str], workdir: Path) -> None:
        self.name = name
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.data_dir = workdir / name
        self.log = workdir / f"{name}.log"
        self.env = {
            **env,
            "NODE_ID": name,
            "PUBLIC_URL": self.url,
            "PORT": str(self.port),
            "DATA_DIR": str(self.data_dir),
        }
        self.proc: subprocess.Popen[bytes] | None = None

    def spawn(self) -> None:
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "server.py", "--no-migrate"],
                cwd=ROOT,
                env=self.env,
                stdout=out,
                stderr=out,
            )

    async def ready(self, timeout: float = 30) -> None:  # noqa: ASYNC109
        async with aiohttp.ClientSession() as session, asyncio.timeout(timeout):
            while True:
                assert self.alive, f"{self.name} exited:\n{self.tail()}"
                try:
                    async with session.get(self.url + "/healthz") as resp:
                        if resp.status == 200:
                            return
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.1)

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def tail(self, chars: int = 4000) -> str:
        return self.log.read_text(errors="replace")[-chars:] if self.log.exists() else ""

    def kill(self) -> None:
        if self.alive:
            assert self.proc is not None
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def term(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)

    def recordings(self) -> list[Path]:
        return sorted((self.data_dir / "recordings").rglob("*.*"))


class Rig:
    """Nodes of one test sharing Redis (under a fresh prefix) and one PostgreSQL database."""

    def __init__(self, workdir: Path, database_url: str, redis_url: str, **env: str) -> None:
        self.workdir = workdir
        self.database_url = database_url
        self.redis_url = redis_url
        self.prefix = f"test-cluster-{uuid.uuid4().hex[:10]}"
        self.env = {
            **{k: v for k, v in os.environ.items() if k in KEEP_ENV},
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url,
            "REDIS_PREFIX": self.prefix,
            "SECRET_KEY": "cluster-test-signing-key",
            "SERVICE_HOURS": "always",
            "HOST": "127.0.0.1",
            "NODE_TTL_SECONDS": str(NODE_TTL_SECONDS),
            "HEARTBEAT_SECONDS": str(HEARTBEAT_SECONDS),
            "SHUTDOWN_GRACE_SECONDS": "3",
            "ALLOW_LOOPBACK_ICE": "true",
            **env,
        }
        self.nodes: list[Node] = []
        self.database = Database.from_url(database_url)
        # Participants send bearer tokens and staff their own cookie: no jar to mix them up.
        self.http = aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar())
        self.socks: list[Sock] = []
        self.peers: list[MediaPeer] = []

    async def start(self, count: int, **env: str) -> list[Node]:
        """Start ``count`` nodes at once (two cores: starting them together halves the wait)."""
        nodes = [
            Node(f"node-{len(self.nodes) + i}", {**self.env, **env}, self.workdir)
            for i in range(count)
        ]
        for node in nodes:
            node.spawn()
        self.nodes.extend(nodes)
        await asyncio.gather(*(n.ready() for n in nodes))
        await self.wait_registered([n.name for n in nodes])
        return nodes

    async def registry(self) -> dict[str, NodeInfo]:
        redis = connect(self.redis_url, retries=1)
        try:
            ids = await redis.smembers(f"{self.prefix}:nodes")
            raw = [await redis.get(f"{self.prefix}:node:{i}") for i in ids]
        finally:
            await redis.aclose()
        infos = [NodeInfo.from_dict(json.loads(r)) for r in raw if r]
        return {n.node_id: n for n in infos}

    async def wait_registered(self, names: list[str], timeout: float = 10) -> None:  # noqa: ASYNC109
        async with asyncio.timeout(timeout):
            while not set(names) <= set(await self.registry()):  # noqa: ASYNC110 - lives in Redis
                await asyncio.sleep(0.1)

    def node_at(self, url: str) -> Node:
        return next(n for n in self.nodes if n.url == url)

    async def participant(self, node: Node) -> tuple[Participant, Sock]:
        person = Participant(_Http(self.http, node.url), make_nik(female=True))  # type: ignore[arg-type]
        await person.to_ready()
        return person, await self.participant_socket(person, node)

    async def participant_socket(self, person: Participant, node: Node) -> Sock:
        return await self.sock(node, "/participant", auth={"token": person.token})

    async def officer(self, node: Node) -> tuple[Staff, Sock]:
        now = datetime.now(UTC)
        account = await make_account(self.database, Role.OFFICER, now)
        staff = await Staff.open(_Http(self.http, node.url), self.database, account, now)
        return staff, await self.officer_socket(staff.account, staff, node)

    async def officer_socket(self, account: Account, staff: Staff, node: Node) -> Sock:
        # A copy: the Socket.IO client takes the Cookie header out of the dict it is given.
        return await self.sock(node, "/officer", headers=dict(staff.headers))

    async def sock(self, node: Node, namespace: str, **connect_args: Any) -> Sock:
        sock = Sock(node.url, namespace, **connect_args)
        self.socks.append(sock)
        return await sock.connect()

    async def media(self, ticket: dict[str, Any]) -> MediaPeer:
        peer = MediaPeer(ticket)
        self.peers.append(peer)
        await peer.connect()
        await peer.start()
        return peer

    async def close(self) -> None:
        """Kill every process first: nothing may outlive the test, whatever failed."""
        for node in self.nodes:
            node.kill()
        for peer in self.peers:
            await peer.close()
        for sock in self.socks:
            await sock.close()
        await self.http.close()
        await self.database.close()
        await _delete_prefix(self.redis_url, self.prefix)


async def _delete_prefix(redis_url: str, prefix: str) -> None:
    redis = connect(redis_url, retries=1)
    try:
        keys = [k async for k in redis.scan_iter(f"{prefix}:*")]
        if keys:
            await redis.delete(*keys)
    except Exception:
        pass
    finally:
        await redis.aclose()


class _Http:
    """Just enough of TestClient's interface for ``Participant`` and ``Staff``, at a node."""

    def __init__(self, session: aiohttp.ClientSession, base: str) -> None:
        self.session = session
        self.base = base

    def get(self, path: str, **kw: Any) -> Any:
        return self.session.get(self.base + path, **kw)

    def post(self, path: str, **kw: Any) -> Any:
        return self.session.post(self.base + path, **kw)

    def put(self, path: str, **kw: Any) -> Any:
        return self.session.put(self.base + path, **kw)


class Sock:
    """One browser tab's Socket.IO connection to one node, recording every event."""

    def __init__(self, url: str, namespace: str, **connect_args: Any) -> None:
        self.url = url
        self.namespace = namespace
        self.connect_args = connect_args
        self.sio = socketio.AsyncClient(reconnection=False)
        self.events: list[tuple[str, Any]] = []
        self.sio.on("*", self._record, namespace=namespace)

    async def _record(self, event: str, data: Any = None) -> None:
        self.events.append((event, data))

    async def connect(self) -> Sock:
        await self.sio.connect(
            self.url, namespaces=[self.namespace], transports=["websocket"], **self.connect_args
        )
        return self

    async def call(self, event: str, data: Any = None) -> Any:
        return await self.sio.call(event, {} if data is None else data, self.namespace, timeout=15)

    async def next(
        self,
        event: str,
        where: Callable[[Any], bool] = lambda _: True,
        timeout: float = 10,  # noqa: ASYNC109
    ) -> Any:
        """Wait for (and consume) the first ``event`` matching ``where``."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while loop.time() < deadline:
            for i, (name, data) in enumerate(self.events):
                if name == event and where(data):
                    del self.events[i]
                    return data
            await asyncio.sleep(0.02)
        raise AssertionError(f"no {event} on {self.namespace} at {self.url}; got {self.events}")

    async def close(self) -> None:
        await self.sio.disconnect()


class MediaPeer:
    """A browser stand-in for one side: /media at the ticket's URL and an aiortc peer."""

    def __init__(self, ticket: dict[str, Any]) -> None:
        self.ticket = ticket
        self.sio = socketio.AsyncClient(reconnection=False)
        self.pc = RTCPeerConnection()
        self.received = Received()
        self.tasks: list[asyncio.Task[Any]] = []
        self.ended = asyncio.Event()

        async def on_ended(_data: Any) -> None:
            self.ended.set()

        self.sio.on("ended", on_ended, namespace="/media")

    async def connect(self) -> None:
        await self.sio.connect(
            self.ticket["url"],
            namespaces=["/media"],
            transports=["websocket"],
            auth={"token": self.ticket["token"]},
        )

    async def start(self) -> None:
        self.pc.addTransceiver(PatternTrack(), direction="sendrecv")
        self.pc.addTransceiver(ToneTrack(), direction="sendrecv")

        @self.pc.on("track")
        def on_track(track: Any) -> None:
            self.tasks.append(asyncio.create_task(_consume(track, self.received)))

        await self.pc.setLocalDescription(await self.pc.createOffer())
        offer = {"sdp": self.pc.localDescription.sdp, "type": "offer"}
        answer = await self.sio.call("offer", offer, namespace="/media", timeout=20)
        assert answer["ok"], answer
        await self.pc.setRemoteDescription(RTCSessionDescription(answer["sdp"], answer["type"]))

    def video_frames(self) -> int:
        return self.received.frames["video"]

    async def close(self) -> None:
        await self.pc.close()
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        self.tasks.clear()
        await self.sio.disconnect()


async def pair(participant: Sock, officer: Sock) -> tuple[dict[str, Any], dict[str, Any]]:
    """The officer takes the head of the queue: (officer's reply, participant's ``paired``)."""
    assert (await officer.call("set_presence", {"presence": "available"}))["ok"]
    reply = await officer.call("accept_next")
    assert reply.get("session_id"), reply
    paired = await participant.next("paired", lambda m: m["session_id"] == reply["session_id"])
    return reply, paired
