"""Call setup through the real server: HTTP API for the participant's journey and the officer's
log-in, Socket.IO ``/participant`` and ``/officer`` for queue and pairing, ``/media`` for SDP.

The queue is shared by every worker process, so the join -> accept step runs under a file lock
(``BENCH_PAIR_LOCK``): the officer of a call then always gets that call's participant, whose
peers live in the same process (the latency tables need that).
"""

from __future__ import annotations

import asyncio
import fcntl
import io
import itertools
import os
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import numpy as np
import socketio
from aiortc import RTCPeerConnection, RTCSessionDescription
from PIL import Image

from bench.setup import Gate, SetupTimes, local_offer

OFFICER_PASSWORD = "Bench-Petugas-2026!"
DOCUMENT_KINDS = ("ktp", "selfie_with_ktp", "face")
ACK_TIMEOUT_S = 30.0
CONNECT_TIMEOUT_S = 30.0
_serial = itertools.count(1)


def officer_name(n: int) -> str:
    return f"bench-officer-{n:03d}"


def make_nik(birth_year: int = 1990) -> str:
    """A valid NIK with a fresh serial (province 32, born 1 January, female)."""
    rnd = uuid.uuid4().int
    regency, district = rnd % 99 + 1, (rnd >> 8) % 99 + 1
    serial = (next(_serial) + (rnd >> 16)) % 9999 + 1
    return f"32{regency:02d}{district:02d}4101{birth_year % 100:02d}{serial:04d}"


def photo(seed: int) -> bytes:
    rng = np.random.default_rng(seed)
    grey = np.clip(140 + rng.normal(0, 40, (600, 800)), 0, 255).astype(np.uint8)
    out = io.BytesIO()
    Image.fromarray(np.stack([grey] * 3, axis=-1), "RGB").save(out, format="JPEG")
    return out.getvalue()


async def create_officers(data_dir: Path, count: int) -> None:
    """Officer accounts straight through the account repository (the CLI costs a process
    start per account)."""
    from videocall.accounts import Role
    from videocall.adapters.sql_accounts import SqlAccounts
    from videocall.adapters.sql_records import Database

    database = Database.from_url(f"sqlite+aiosqlite:///{(data_dir / 'videocall.db').resolve()}")
    accounts = SqlAccounts(database)
    try:
        for n in range(count):
            await accounts.create(
                username=officer_name(n),
                password=OFFICER_PASSWORD,
                role=Role.OFFICER,
                display_name=f"Petugas {n}",
                now=datetime.now(UTC),
            )
    finally:
        await database.close()


class PairLock:
    """One pairing at a time across all worker processes."""

    def __init__(self, path: str) -> None:
        self._fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o600)
        self._local = asyncio.Lock()

    async def __aenter__(self) -> None:
        await self._local.acquire()
        await asyncio.to_thread(fcntl.flock, self._fd, fcntl.LOCK_EX)

    async def __aexit__(self, *exc: object) -> None:
        fcntl.flock(self._fd, fcntl.LOCK_UN)
        self._local.release()


@dataclass
class Sockets:
    clients: list[socketio.AsyncClient] = field(default_factory=list)

    def new(self) -> socketio.AsyncClient:
        client = socketio.AsyncClient(reconnection=False)
        self.clients.append(client)
        return client


class SignallingSetup:
    def __init__(self, url: str) -> None:
        self._url = url.rstrip("/")
        self._lock = PairLock(os.environ.get("BENCH_PAIR_LOCK", "/tmp/videocall-bench.lock"))
        self._sockets: dict[str, Sockets] = {}
        self._photos = [photo(i) for i in range(len(DOCUMENT_KINDS))]

    async def register_participant(self, http: aiohttp.ClientSession) -> tuple[str, str]:
        """Register and get to ready for the call; (token, record id)."""
        body = {"nik": make_nik(), "mobile": "0812-3456-7890", "email": "bench@example.co.id"}
        reply = await _json(http.post(self._url + "/api/participants", json=body))
        token, record_id = reply["token"], reply["record"]["id"]
        auth = {"Authorization": f"Bearer {token}"}
        profile = {"full_name": "Peserta Bench", "birth_date": "1990-01-01", "sex": "female"}
        await _json(http.put(self._url + "/api/me/profile", json=profile, headers=auth))
        for kind, data in zip(DOCUMENT_KINDS, self._photos, strict=True):
            headers = {**auth, "Content-Type": "image/jpeg"}
            await _json(
                http.put(f"{self._url}/api/me/documents/{kind}", data=data, headers=headers)
            )
        await _json(http.post(self._url + "/api/me/consent", headers=auth))
        return token, record_id

    async def officer_cookie(self, http: aiohttp.ClientSession, n: int) -> str:
        body = {"username": officer_name(n), "password": OFFICER_PASSWORD}
        async with http.post(self._url + "/api/auth/login", json=body) as response:
            response.raise_for_status()
            return f"vc_session={response.cookies['vc_session'].value}"

    async def connect_socket(
        self, client: socketio.AsyncClient, namespace: str, **kwargs: Any
    ) -> None:
        # wait_timeout: python-socketio gives a namespace 1 s to connect by default; on a loaded
        # machine that failed whole workers (``Unexpected connection error``).
        await client.connect(
            self._url,
            namespaces=[namespace],
            transports=["websocket"],
            wait_timeout=CONNECT_TIMEOUT_S,
            **kwargs,
        )

    async def connect(
        self,
        call_id: str,
        participant: RTCPeerConnection,
        officer: RTCPeerConnection,
        gate: Gate | None = None,
    ) -> SetupTimes:
        n = int(call_id.rsplit("-", 1)[1])
        sockets = self._sockets[call_id] = Sockets()
        async with aiohttp.ClientSession() as http:
            token, record_id = await self.register_participant(http)
            cookie = await self.officer_cookie(http, n)
        p_sio, o_sio = sockets.new(), sockets.new()
        paired: asyncio.Future[tuple[float, dict[str, Any]]] = asyncio.Future()
        p_sio.on("paired", lambda data: settle(paired, data), namespace="/participant")
        await self.connect_socket(p_sio, "/participant", auth={"token": token})
        await self.connect_socket(o_sio, "/officer", headers={"Cookie": cookie})
        await ack(o_sio, "set_presence", {"presence": "available"}, "/officer")
        if gate is not None:
            await gate()
        async with self._lock:
            await ack(p_sio, "join_queue", {}, "/participant")
            accept_at = time.monotonic()
            mine = await ack(o_sio, "accept_next", {}, "/officer")
            officer_told = time.monotonic()
            participant_told, theirs = await asyncio.wait_for(paired, ACK_TIMEOUT_S)
        if mine.get("record_id") != record_id:
            raise RuntimeError(f"call {call_id}: officer was paired with someone else")
        await asyncio.gather(
            self._media(sockets, theirs["media"], participant),
            self._media(sockets, mine["media"], officer),
        )
        both_told = max(officer_told, participant_told)
        marks = {"accept_ack": officer_told, "both_told": both_told}
        return SetupTimes(accept_at, round((both_told - accept_at) * 1000, 2), marks)

    async def _media(self, sockets: Sockets, ticket: dict[str, Any], pc: RTCPeerConnection) -> None:
        client = sockets.new()
        await self.connect_socket(client, "/media", auth={"token": ticket["token"]})
        offer = {"sdp": await local_offer(pc), "type": "offer"}
        answer = await ack(client, "offer", offer, "/media")
        await pc.setRemoteDescription(RTCSessionDescription(answer["sdp"], answer["type"]))

    async def close(self, call_ids: list[str]) -> None:
        for call_id in call_ids:
            for client in self._sockets.pop(call_id, Sockets()).clients:
                await client.disconnect()


def settle(future: asyncio.Future[tuple[float, dict[str, Any]]], data: dict[str, Any]) -> None:
    if not future.done():
        future.set_result((time.monotonic(), data))


async def ack(
    client: socketio.AsyncClient, event: str, data: dict[str, Any], namespace: str
) -> dict[str, Any]:
    reply: dict[str, Any] = await client.call(
        event, data, namespace=namespace, timeout=ACK_TIMEOUT_S
    )
    if not reply.get("ok"):
        raise RuntimeError(f"{namespace} {event}: {reply.get('error')}")
    return reply


async def _json(request: Any) -> dict[str, Any]:
    async with request as response:
        if response.status >= 400:
            raise RuntimeError(f"{response.method} {response.url}: {await response.text()}")
        data: dict[str, Any] = await response.json()
        return data
