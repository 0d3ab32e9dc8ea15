"""Node heartbeats and dead-node claims on the real Redis."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from redis.asyncio import Redis

from tests.support import REDIS_URL
from videocall.adapters.node_registry import RedisNodes

pytestmark = pytest.mark.redis


@pytest.fixture
async def redis():
    client = Redis.from_url(REDIS_URL)
    prefix = f"test-nodes-{uuid.uuid4().hex[:8]}"
    yield client, prefix
    keys = [k async for k in client.scan_iter(f"{prefix}:*")]
    if keys:
        await client.delete(*keys)
    await client.aclose()


async def test_placement_prefers_the_least_loaded_and_dead_nodes_are_claimed_once(redis) -> None:
    client, prefix = redis
    a = RedisNodes(client, prefix, "a", "http://127.0.0.1:9001", ttl=0.5)
    b = RedisNodes(client, prefix, "b", "http://127.0.0.1:9002", ttl=0.5)
    c = RedisNodes(client, prefix, "c", "http://127.0.0.1:9003", ttl=0.5)
    await a.heartbeat(calls=3, cpu=0.5, draining=False)
    await b.heartbeat(calls=1, cpu=0.2, draining=False)
    await c.heartbeat(calls=0, cpu=0.0, draining=True)  # draining: takes no new calls
    assert (await a.place()).node_id == "b"
    await asyncio.sleep(0.7)  # b and c stop beating; a goes on
    await a.heartbeat(calls=3, cpu=0.5, draining=False)
    assert (await a.place()).node_id == "a"
    claims = await asyncio.gather(
        a.claim_dead(),
        RedisNodes(client, prefix, "d", "http://127.0.0.1:9004", ttl=0.5).claim_dead(),
    )
    claimed = sorted(n.node_id for batch in claims for n in batch)
    assert claimed == ["b", "c"]  # each dead node reaped by exactly one process
    assert [n.node_id for n in await a.nodes()] == ["a"]
    await a.leave()
    assert await a.nodes() == []


async def test_a_node_wrongly_reaped_can_be_reaped_again_after_it_beats(redis) -> None:
    client, prefix = redis
    a = RedisNodes(client, prefix, "a", "http://127.0.0.1:9001", ttl=0.3)
    b = RedisNodes(client, prefix, "b", "http://127.0.0.1:9002", ttl=0.3)
    await b.heartbeat(calls=0, cpu=0.0, draining=False)
    await asyncio.sleep(0.5)  # b looks dead (say Redis was away longer than the TTL)
    await a.heartbeat(calls=0, cpu=0.0, draining=False)
    assert [n.node_id for n in await a.claim_dead()] == ["b"]
    await b.heartbeat(calls=0, cpu=0.0, draining=False)  # b was alive after all
    await asyncio.sleep(0.5)  # ...and now really dies
    await a.heartbeat(calls=0, cpu=0.0, draining=False)
    assert [n.node_id for n in await a.claim_dead()] == ["b"]
