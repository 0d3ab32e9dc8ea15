"""Scale-out with real processes: several ``python server.py`` on loopback sharing Redis and
PostgreSQL. Media goes to the least-loaded live node; a node killed mid-call is noticed within
the heartbeat TTL; a Redis restart is ridden out; SIGTERM drains."""

from __future__ import annotations

import asyncio
import subprocess
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import av
import pytest
import sqlalchemy as sa
from redis.exceptions import RedisError

from tests.cluster_support import HEARTBEAT_SECONDS, NODE_TTL_SECONDS, Rig, pair
from tests.conftest import migrated_postgres
from tests.integration.media_peers import wait_for
from tests.integration.outcomes_support import APPROVE
from tests.support import REDIS_URL, free_port
from videocall.adapters import db
from videocall.adapters.redis_queue import connect

pytestmark = [pytest.mark.slow, pytest.mark.redis, pytest.mark.postgres]


@pytest.fixture
async def pg_url() -> AsyncIterator[str]:
    """A fresh, migrated PostgreSQL database for this test only."""
    async with migrated_postgres() as url:
        yield url


@pytest.fixture
async def rig(tmp_path: Path, pg_url: str) -> AsyncIterator[Rig]:
    cluster = Rig(tmp_path, pg_url, REDIS_URL)
    try:
        yield cluster
    finally:
        await cluster.close()


async def history(rig: Rig, record_id: str) -> list[dict[str, object]]:
    query = (
        sa.select(db.record_history)
        .where(db.record_history.c.record_id == record_id)
        .order_by(db.record_history.c.at)
    )
    async with rig.database.connect() as conn:
        return [dict(r._mapping) for r in await conn.execute(query)]


async def session_row(rig: Rig, session_id: str) -> dict[str, object]:
    query = sa.select(db.call_sessions).where(db.call_sessions.c.id == session_id)
    async with rig.database.connect() as conn:
        row = (await conn.execute(query)).one()
    return dict(row._mapping)


async def test_pairing_across_nodes_media_on_least_loaded_and_decided_elsewhere(rig: Rig) -> None:
    a, b, _c = await rig.start(3)
    _person, p_sock = await rig.participant(a)
    staff, o_sock = await rig.officer(b)
    assert (await p_sock.call("join_queue"))["queue"]["position"] == 1
    reply, paired = await pair(p_sock, o_sock)
    # Both sides are sent to the same media node, chosen by load among the three.
    assert reply["media"]["url"] == paired["media"]["url"]
    host = rig.node_at(reply["media"]["url"])
    row = await session_row(rig, reply["session_id"])
    assert row["node"] == host.name
    p_media = await rig.media(paired["media"])
    o_media = await rig.media(reply["media"])
    await wait_for(lambda: p_media.video_frames() > 20 and o_media.video_frames() > 20, 20)
    snapshots = [
        await o_media.sio.call("snapshot", {"kind": k}, namespace="/media", timeout=20)
        for k in ("face", "ktp")
    ]
    assert all(s["ok"] for s in snapshots), snapshots

    # The decision goes to the officer's node; the media node stores the recording first.
    decider = b if host is not b else a
    staff.client.base = decider.url  # type: ignore[attr-defined]
    status, body = await staff.post(f"/api/sessions/{reply['session_id']}/decision", APPROVE)
    assert status == 201, body
    await asyncio.wait_for(o_media.ended.wait(), 5)
    row = await session_row(rig, reply["session_id"])
    segments = row["recording"]["segments"]  # type: ignore[index]
    assert segments and segments[0]["size_bytes"] > 10_000
    assert row["quality_summary"]


async def test_a_participant_waiting_on_a_killed_node_leaves_the_queue(rig: Rig) -> None:
    a, b = await rig.start(2, PARTICIPANT_GRACE_SECONDS="2")
    _, p1 = await rig.participant(a)
    other, p2 = await rig.participant(b)
    _, officer = await rig.officer(b)
    assert (await p1.call("join_queue"))["queue"]["position"] == 1
    assert (await p2.call("join_queue"))["queue"]["position"] == 2
    await officer.call("set_presence", {"presence": "available"})
    a.kill()  # SIGKILL: p1's socket never says goodbye

    def p1_away(view: dict[str, Any]) -> bool:
        return bool(view["waiting"] == 2 and not view["entries"][0]["connected"])

    await officer.next("queue_view", p1_away, timeout=NODE_TTL_SECONDS + 5)
    await officer.next(
        "queue_view", lambda v: [e["record_id"] for e in v["entries"]] == [other.record_id]
    )
    _, paired = await pair(p2, officer)
    assert paired["record_id"] == other.record_id


async def test_media_node_killed_mid_call_requeues_and_pairs_again_elsewhere(rig: Rig) -> None:
    nodes = await rig.start(3)
    person, p_sock = await rig.participant(nodes[0])
    staff, o_sock = await rig.officer(nodes[1])
    await p_sock.call("join_queue")
    reply, paired = await pair(p_sock, o_sock)
    host = rig.node_at(reply["media"]["url"])
    survivors = [n for n in nodes if n is not host]
    # A browser whose signalling node died reconnects through the proxy to another one; move
    # such a side now, so that what follows is the media node's loss alone.
    if p_sock.url == host.url:
        p_sock = await rig.participant_socket(person, survivors[0])
        assert "call" in await p_sock.call("join_queue")
    if o_sock.url == host.url:
        o_sock = await rig.officer_socket(staff.account, staff, survivors[1])
    p_media = await rig.media(paired["media"])
    o_media = await rig.media(reply["media"])
    await wait_for(lambda: p_media.video_frames() > 60 and o_media.video_frames() > 60, 20)
    await wait_for(lambda: any(p.stat().st_size > 60_000 for p in host.recordings()), 15)

    loop = asyncio.get_running_loop()
    killed_at = loop.time()
    host.kill()
    ended = await p_sock.next("call_ended", timeout=NODE_TTL_SECONDS + 5)
    noticed = loop.time() - killed_at
    # Silent for the TTL, then seen by the next heartbeat of a survivor (plus a loaded machine).
    assert noticed < NODE_TTL_SECONDS + 2 * HEARTBEAT_SECONDS + 1.5, noticed
    assert (ended["reason"], ended["requeued"]) == ("interrupted", True)
    await o_sock.next("presence", lambda p: p["presence"] == "available")
    status = (await p_sock.call("join_queue"))["queue"]
    assert (status["position"], status["lane"]) == (1, "priority")
    notes = [h for h in await history(rig, person.record_id) if h["action"] == "media_node_lost"]
    assert notes and notes[0]["detail"]["node"] == host.name  # type: ignore[index]

    # What reached the disk before the kill is a readable recording.
    with av.open(str(max(host.recordings(), key=lambda p: p.stat().st_size))) as container:
        packets = sum(1 for p in container.demux() if p.size and p.stream.type == "video")
    assert packets > 10

    for peer in (p_media, o_media):
        await peer.close()
    reply, paired = await pair(p_sock, o_sock)
    assert reply["media"]["url"] in {n.url for n in survivors}
    p_media = await rig.media(paired["media"])
    o_media = await rig.media(reply["media"])
    await wait_for(lambda: p_media.video_frames() > 10 and o_media.video_frames() > 10, 20)


class PrivateRedis:
    """A redis-server of this test only, with an append-only file, so it can be restarted."""

    def __init__(self, workdir: Path) -> None:
        self.port = free_port()
        self.dir = workdir / "redis"
        self.dir.mkdir()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        args = ["--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.dir)]
        args += ["--appendonly", "yes", "--save", ""]
        self.proc = subprocess.Popen(
            ["redis-server", *args], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )

    async def ready(self) -> None:
        redis = connect(self.url, retries=0)
        try:
            for _ in range(100):
                try:
                    if await redis.ping():
                        return
                except RedisError:
                    await asyncio.sleep(0.05)
        finally:
            await redis.aclose()
        raise AssertionError("private redis-server did not start")

    def stop(self) -> None:
        # SIGTERM: Redis flushes the append-only file before it exits.
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)


@pytest.fixture
async def private_redis(tmp_path: Path) -> AsyncIterator[PrivateRedis]:
    server = PrivateRedis(tmp_path)
    server.start()
    try:
        await server.ready()
        yield server
    finally:
        if server.proc is not None and server.proc.poll() is None:
            server.proc.kill()
            server.proc.wait(10)


async def test_redis_restart_during_the_wait_is_ridden_out(
    tmp_path: Path, pg_url: str, private_redis: PrivateRedis
) -> None:
    rig = Rig(tmp_path, pg_url, private_redis.url)
    try:
        a, b = await rig.start(2)
        _, p1 = await rig.participant(a)
        _, p2 = await rig.participant(b)
        _, officer = await rig.officer(b)
        assert (await p1.call("join_queue"))["queue"]["position"] == 1
        assert (await p2.call("join_queue"))["queue"]["position"] == 2

        # Down for less than the node TTL, so nobody is declared dead meanwhile.
        private_redis.stop()
        await asyncio.sleep(1.0)
        private_redis.start()
        await private_redis.ready()
        back = time.time()
        await wait_for_async(lambda: all_beat_since(rig, [a.name, b.name], back), 15)
        # python-socketio resubscribes after its own backoff (1 s, 2 s, ...); what is published
        # before that is lost, so wait until both listeners are back on the channel.
        await wait_for_async(lambda: subscribers(private_redis.url, rig.prefix, 2), 20)

        assert (await p2.call("join_queue"))["queue"]["position"] == 2
        assert (await p1.call("join_queue"))["queue"]["position"] == 1
        # Paired on b; p1 is told on a: the Socket.IO Redis manager reconnected too.
        await pair(p1, officer)
        await p2.next("queue_status", lambda s: s["position"] == 1)
    finally:
        await rig.close()


async def all_beat_since(rig: Rig, names: list[str], since: float) -> bool:
    try:
        nodes = await rig.registry()
    except RedisError:
        return False
    return all(n in nodes and nodes[n].seen_at > since for n in names)


async def subscribers(url: str, prefix: str, count: int) -> bool:
    redis = connect(url, retries=0)
    try:
        numsub = await redis.pubsub_numsub(f"{prefix}:socketio")
        return bool(numsub and numsub[0][1] >= count)
    finally:
        await redis.aclose()


async def wait_for_async(
    predicate: Callable[[], Awaitable[bool]],
    timeout: float,  # noqa: ASYNC109
) -> None:
    async with asyncio.timeout(timeout):
        while not await predicate():  # noqa: ASYNC110 - the state lives in another process
            await asyncio.sleep(0.1)


async def test_sigterm_drains_no_new_calls_and_exits_after_its_call(rig: Rig) -> None:
    nodes = await rig.start(2, DRAIN_SECONDS="30")
    person, p_sock = await rig.participant(nodes[0])
    staff, o_sock = await rig.officer(nodes[0])
    await p_sock.call("join_queue")
    reply, paired = await pair(p_sock, o_sock)
    draining = rig.node_at(reply["media"]["url"])
    other = next(n for n in nodes if n is not draining)
    if p_sock.url == draining.url:  # signalling through the node that stays
        p_sock = await rig.participant_socket(person, other)
        assert "call" in await p_sock.call("join_queue")
    if o_sock.url == draining.url:
        o_sock = await rig.officer_socket(staff.account, staff, other)
    p_media = await rig.media(paired["media"])
    o_media = await rig.media(reply["media"])
    await wait_for(lambda: p_media.video_frames() > 10 and o_media.video_frames() > 10, 20)
    # A second call on the other node: both nodes carry one call each.
    _, p2 = await rig.participant(other)
    _, o2 = await rig.officer(other)
    await p2.call("join_queue")
    reply2, _ = await pair(p2, o2)
    assert reply2["media"]["url"] == other.url  # the least loaded
    await rig.media(reply2["media"])
    await wait_for_async(lambda: calls_on(rig, {draining.name: 1, other.name: 1}), 10)

    draining.term()
    await wait_for_async(lambda: is_draining(rig, draining.name), 5)
    _, p3 = await rig.participant(other)
    _, o3 = await rig.officer(other)
    await p3.call("join_queue")
    reply3, _ = await pair(p3, o3)
    assert reply3["media"]["url"] == other.url  # equal load, but the draining node is skipped
    await asyncio.sleep(1.0)
    assert draining.alive  # still serving its call

    assert (await o_sock.call("end_call", {"session_id": reply["session_id"]}))["ok"]
    await asyncio.wait_for(asyncio.to_thread(draining.proc.wait, 15), 16)  # type: ignore[union-attr]
    assert draining.proc.returncode == 0, draining.tail()  # type: ignore[union-attr]
    row = await session_row(rig, reply["session_id"])
    assert row["recording"]["segments"]  # type: ignore[index]


async def calls_on(rig: Rig, expected: dict[str, int]) -> bool:
    nodes = await rig.registry()
    return all(name in nodes and nodes[name].calls == n for name, n in expected.items())


async def is_draining(rig: Rig, name: str) -> bool:
    node = (await rig.registry()).get(name)
    return node is not None and node.draining
