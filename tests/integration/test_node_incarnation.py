"""A process restarted under the same NODE_ID is a new incarnation: its predecessor is claimed
at once, exactly once, and never by both the new incarnation and a survivor (real Redis)."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from tests.support import REDIS_URL
from videocall.adapters.node_registry import LocalNodes, RedisNodes

pytestmark = pytest.mark.redis
URL = "http://127.0.0.1:9001"


@pytest.fixture
async def redis() -> AsyncIterator[tuple[Redis, str]]:
    client = Redis.from_url(REDIS_URL)
    prefix = f"test-incarnation-{uuid.uuid4().hex[:8]}"
    yield client, prefix
    keys = [k async for k in client.scan_iter(f"{prefix}:*")]
    if keys:
        await client.delete(*keys)
    await client.aclose()


async def test_recover_previous_incarnation_once_whether_claimed_before_or_after_a_beat(
    redis: tuple[Redis, str],
) -> None:
    client, prefix = redis
    first = RedisNodes(client, prefix, "a", URL, ttl=60)
    await first.heartbeat(calls=2, cpu=0.3, draining=False)
    stored = json.loads(await client.get(f"{prefix}:node:a"))
    assert stored["incarnation"] == first.incarnation

    # SIGKILL, restarted at once with the same NODE_ID (long before the TTL).
    second = RedisNodes(client, prefix, "a", URL, ttl=60)
    assert second.incarnation != first.incarnation
    claims = await asyncio.gather(*(second.claim_previous_incarnation() for _ in range(3)))
    previous = [c for c in claims if c is not None]
    assert [(p.node_id, p.calls) for p in previous] == [("a", 2)]
    await second.heartbeat(calls=0, cpu=0.0, draining=False)
    assert await second.claim_previous_incarnation() is None

    # The third start beats before it claims: the predecessor's record is kept for the claim.
    third = RedisNodes(client, prefix, "a", URL, ttl=60)
    await third.heartbeat(calls=0, cpu=0.0, draining=False)
    await third.heartbeat(calls=1, cpu=0.0, draining=False)
    previous_of_third = await third.claim_previous_incarnation("a", third.incarnation)
    assert previous_of_third is not None and previous_of_third.calls == 0
    assert await third.claim_previous_incarnation() is None
    assert [n.node_id for n in await third.nodes()] == ["a"]


async def test_recover_nothing_on_first_start_or_after_a_clean_leave(
    redis: tuple[Redis, str],
) -> None:
    client, prefix = redis
    first = RedisNodes(client, prefix, "a", URL, ttl=60)
    assert await first.claim_previous_incarnation() is None
    await first.heartbeat(calls=0, cpu=0.0, draining=False)
    assert await first.claim_previous_incarnation() is None  # itself
    await first.leave()  # SIGTERM: drained and gone
    again = RedisNodes(client, prefix, "a", URL, ttl=60)
    assert await again.claim_previous_incarnation() is None
    assert await LocalNodes("a", URL).claim_previous_incarnation() is None


async def test_a_predecessor_is_recovered_by_the_survivor_or_the_restart_never_both(
    redis: tuple[Redis, str],
) -> None:
    client, prefix = redis
    survivor = RedisNodes(client, prefix, "s", URL, ttl=0.3)
    dead = RedisNodes(client, prefix, "a", URL, ttl=0.3)
    await dead.heartbeat(calls=1, cpu=0.0, draining=False)
    await asyncio.sleep(0.5)  # silent past the TTL
    await survivor.heartbeat(calls=0, cpu=0.0, draining=False)
    restarted = RedisNodes(client, prefix, "a", URL, ttl=0.3)
    reaped, previous = await asyncio.gather(
        survivor.claim_dead(), restarted.claim_previous_incarnation()
    )
    winners = [n.node_id for n in reaped] + ([previous.node_id] if previous else [])
    assert winners == ["a"]

    # Reaped by the survivor first: the restart must not run the clean-up a second time.
    await restarted.heartbeat(calls=0, cpu=0.0, draining=False)
    await asyncio.sleep(0.5)
    await survivor.heartbeat(calls=0, cpu=0.0, draining=False)
    assert [n.node_id for n in await survivor.claim_dead()] == ["a"]
    late = RedisNodes(client, prefix, "a", URL, ttl=0.3)
    assert await late.claim_previous_incarnation() is None
    await late.heartbeat(calls=0, cpu=0.0, draining=False)
    assert await late.claim_previous_incarnation() is None


async def test_recover_never_reaps_a_record_renewed_after_it_was_judged_dead(
    redis: tuple[Redis, str],
) -> None:
    client, prefix = redis
    survivor = RedisNodes(client, prefix, "s", URL, ttl=0.3)
    node = RedisNodes(client, prefix, "a", URL, ttl=0.3)
    await node.heartbeat(calls=0, cpu=0.0, draining=False)
    await asyncio.sleep(0.5)
    await survivor.heartbeat(calls=0, cpu=0.0, draining=False)
    judged = await survivor._records()  # what a survivor read just before the node beat again
    await node.heartbeat(calls=0, cpu=0.0, draining=False)
    raw = dict((info.node_id, raw) for raw, info in judged)["a"]
    keys = [f"{prefix}:node:a", f"{prefix}:reaped:a", f"{prefix}:nodes"]
    assert await survivor._claim_dead(keys=keys, args=[raw, "s", 60, "a"]) == 0
    assert sorted(n.node_id for n in await survivor.nodes()) == ["a", "s"]
