"""One suite for both rate-limit stores: in-process and real Redis behave the same."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest

from tests.support import REDIS_URL, free_port
from videocall.adapters.rate_limit_store import (
    MemoryRateLimitStore,
    RateLimitStore,
    RedisRateLimitStore,
)
from videocall.limits import Rule

T0 = 1_800_000_000.0


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
async def store(request: pytest.FixtureRequest) -> AsyncIterator[RateLimitStore]:
    if request.param == "memory":
        memory = MemoryRateLimitStore()
        yield memory
        await memory.close()
        return
    prefix = f"test-rl-{uuid.uuid4().hex[:8]}"
    redis_store = RedisRateLimitStore.from_url(REDIS_URL, prefix)
    yield redis_store
    keys = [k async for k in redis_store.redis.scan_iter(match=f"{prefix}:*")]
    if keys:
        await redis_store.redis.delete(*keys)
    await redis_store.close()


async def test_burst_then_refused_with_retry_after(store: RateLimitStore) -> None:
    rule = Rule("register", 3, 30.0)
    decisions = [await store.hit(rule, "10.0.0.1", T0) for _ in range(4)]
    assert [d.allowed for d in decisions] == [True, True, True, False]
    assert decisions[-1].retry_after == pytest.approx(10.0)


async def test_keys_and_rules_are_independent(store: RateLimitStore) -> None:
    login, upload = Rule("login", 1, 60.0), Rule("upload", 1, 60.0)
    assert (await store.hit(login, "a", T0)).allowed
    assert not (await store.hit(login, "a", T0)).allowed
    assert (await store.hit(login, "b", T0)).allowed
    assert (await store.hit(upload, "a", T0)).allowed


async def test_tokens_come_back_with_time(store: RateLimitStore) -> None:
    rule = Rule("login", 2, 10.0)
    for _ in range(2):
        assert (await store.hit(rule, "a", T0)).allowed
    assert not (await store.hit(rule, "a", T0 + 4.9)).allowed
    assert (await store.hit(rule, "a", T0 + 5.0)).allowed
    assert (await store.hit(rule, "a", T0 + 20.0)).remaining == 1


async def test_concurrent_hits_never_overspend(store: RateLimitStore) -> None:
    rule = Rule("register", 5, 3600.0)
    decisions = await asyncio.gather(*(store.hit(rule, "nat", T0) for _ in range(20)))
    assert sum(d.allowed for d in decisions) == 5


@pytest.mark.redis
async def test_two_processes_share_one_redis_limit() -> None:
    prefix = f"test-rl-{uuid.uuid4().hex[:8]}"
    first = RedisRateLimitStore.from_url(REDIS_URL, prefix)
    second = RedisRateLimitStore.from_url(REDIS_URL, prefix)
    rule = Rule("login", 4, 60.0)
    try:
        results = await asyncio.gather(*(s.hit(rule, "x", T0) for s in [first, second] * 6))
        assert sum(d.allowed for d in results) == 4
        assert 0 < await first.redis.pttl(first.key(rule, "x")) <= 60_000
    finally:
        await first.redis.delete(first.key(rule, "x"))
        await first.close()
        await second.close()


async def test_redis_down_fails_open() -> None:
    store = RedisRateLimitStore.from_url(f"redis://127.0.0.1:{free_port()}/0", "down")
    try:
        assert (await store.hit(Rule("login", 1, 60.0), "a", T0)).allowed
    finally:
        await store.close()


async def test_memory_store_forgets_full_buckets() -> None:
    store = MemoryRateLimitStore(prune_every=10)
    rule = Rule("r", 1, 1.0)
    for i in range(9):
        await store.hit(rule, f"k{i}", T0)
    assert len(store) == 9
    await store.hit(rule, "late", T0 + 5)
    assert len(store) == 1


async def test_peek_spends_nothing(store: RateLimitStore) -> None:
    rule = Rule("login", 1, 60.0)
    for _ in range(3):
        assert (await store.peek(rule, "a", T0)).allowed
    assert (await store.hit(rule, "a", T0)).allowed
    refused = await store.peek(rule, "a", T0 + 1)
    assert not refused.allowed
    assert refused.retry_after == pytest.approx(59.0)
