"""Where rate-limit state lives: in this process, or in Redis when several processes share limits.

Both backends keep one float per key (see ``videocall.limits``) and decide with the same pure
``take``; they differ only in how they read and write it. The Redis backend uses WATCH/MULTI so
two processes never both spend the last token; a refused event writes nothing, so a flood of
refused requests causes no write contention.
"""

from __future__ import annotations

import logging
import math
from typing import Protocol

from redis.asyncio import Redis
from redis.asyncio.client import Pipeline
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import RedisError, WatchError

from videocall.limits import Decision, Rule, expires_in, take

logger = logging.getLogger(__name__)


class RateLimitStore(Protocol):
    async def hit(self, rule: Rule, key: str, now: float, cost: int = 1) -> Decision:
        """Spend ``cost`` tokens of ``rule`` for ``key`` at ``now`` (seconds since the epoch)."""

    async def peek(self, rule: Rule, key: str, now: float) -> Decision:
        """What ``hit`` would answer, without spending anything."""

    async def close(self) -> None: ...


class MemoryRateLimitStore:
    """One process; forgets keys whose bucket is full again."""

    def __init__(self, prune_every: int = 1000) -> None:
        self._tats: dict[str, float] = {}
        self._prune_every = prune_every
        self._hits = 0

    async def hit(self, rule: Rule, key: str, now: float, cost: int = 1) -> Decision:
        name = f"{rule.name}:{key}"
        tat, decision = take(rule, self._tats.get(name), now, cost)
        if tat is not None:
            self._tats[name] = tat
        self._hits += 1
        if self._hits % self._prune_every == 0:
            self._prune(now)
        return decision

    async def peek(self, rule: Rule, key: str, now: float) -> Decision:
        return take(rule, self._tats.get(f"{rule.name}:{key}"), now)[1]

    def _prune(self, now: float) -> None:
        for name in [n for n, tat in self._tats.items() if tat <= now]:
            del self._tats[name]

    def __len__(self) -> int:
        return len(self._tats)

    async def close(self) -> None:
        self._tats.clear()


class RedisRateLimitStore:
    """Limits shared by every process on one Redis; fails open (with a warning) when it is down,
    because refusing every participant is worse than a while without abuse limits."""

    def __init__(self, redis: Redis, prefix: str, attempts: int = 8) -> None:
        self.redis = redis
        self.prefix = prefix
        self.attempts = attempts

    @classmethod
    def from_url(cls, url: str, prefix: str) -> RedisRateLimitStore:
        # One quick retry at most: a request must not wait seconds on a Redis that is down.
        retry = Retry(ExponentialBackoff(cap=0.05, base=0.01), 1)
        redis = Redis.from_url(url, socket_timeout=2.0, socket_connect_timeout=2.0, retry=retry)
        return cls(redis, prefix)

    def key(self, rule: Rule, key: str) -> str:
        return f"{self.prefix}:rl:{rule.name}:{key}"

    async def hit(self, rule: Rule, key: str, now: float, cost: int = 1) -> Decision:
        try:
            return await self._hit(self.key(rule, key), rule, now, cost)
        except RedisError as exc:
            logger.warning("rate limit %s: redis unavailable (%s); allowing", rule.name, exc)
            return Decision(True, 0, 0.0, 0.0)

    async def peek(self, rule: Rule, key: str, now: float) -> Decision:
        try:
            raw = await self.redis.get(self.key(rule, key))
        except RedisError as exc:
            logger.warning("rate limit %s: redis unavailable (%s); allowing", rule.name, exc)
            return Decision(True, 0, 0.0, 0.0)
        return take(rule, float(raw) if raw is not None else None, now)[1]

    async def _hit(self, name: str, rule: Rule, now: float, cost: int) -> Decision:
        async with self.redis.pipeline(transaction=True) as pipe:
            for _ in range(self.attempts):
                try:
                    return await self._attempt(pipe, name, rule, now, cost)
                except WatchError:
                    continue
        # Lost every race: the key is very busy, so refusing briefly is the right answer.
        return Decision(False, 0, rule.interval, rule.period)

    async def _attempt(
        self, pipe: Pipeline, name: str, rule: Rule, now: float, cost: int
    ) -> Decision:
        await pipe.watch(name)
        raw = await pipe.get(name)
        previous = float(raw) if raw is not None else None
        tat, decision = take(rule, previous, now, cost)
        if not decision.allowed or tat is None:
            await pipe.unwatch()  # type: ignore[no-untyped-call]
            return decision
        ttl_ms = max(1, math.ceil(expires_in(tat, now) * 1000))
        pipe.multi()  # type: ignore[no-untyped-call]
        pipe.set(name, repr(tat), px=ttl_ms)
        await pipe.execute()
        return decision

    async def close(self) -> None:
        await self.redis.aclose()
