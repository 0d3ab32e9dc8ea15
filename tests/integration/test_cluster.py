"""Scale-out with real processes: several ``python server.py`` on loopback sharing Redis and
PostgreSQL. Media goes to the least-loaded live node; a node killed mid-call is noticed within
the heartbeat TTL; a Redis restart is ridden out; SIGTERM drains."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import av
import pytest
import sqlalchemy as sa

from tests.cluster_support import HEARTBEAT_SECONDS, NODE_TTL_SECONDS, Rig, pair
from tests.conftest import _create_pg_database, _drop_pg_database
from tests.integration.media_peers import wait_for
from tests.integration.outcomes_support import APPROVE
from tests.support import POSTGRES_ADMIN_URL, REDIS_URL
from videocall.adapters import db
from videocall.adapters.migrate import upgrade

pytestmark = [pytest.mark.slow, pytest.mark.redis, pytest.mark.postgres]


@pytest.fixture
async def pg_url() -> AsyncIterator[str]:
    """A fresh, migrated PostgreSQL database for this test only."""
    name = await _create_pg_database()
    base = POSTGRES_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://")
    url = f"{base}/{name}"
    await asyncio.to_thread(upgrade, url)
    yield url
    await _drop_pg_database(name)


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
    await wait_for(lambda: p_media.video_frames() > 30 and o_media.video_frames() > 30, 20)
    await wait_for(lambda: any(p.stat().st_size > 20_000 for p in host.recordings()), 10)

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
