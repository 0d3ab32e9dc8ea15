"""Server processes and their load, for media placement and failure detection.

- ``LocalNodes``: the embedded default — one process, always itself.
- ``RedisNodes``: each process writes ``<prefix>:node:<id>`` (JSON) on every heartbeat and keeps
  its id in the set ``<prefix>:nodes``. A node whose heartbeat is older than the TTL is dead; the
  first live process to claim ``<prefix>:reaped:<id>`` (SET NX) runs the clean-up for it once.
"""

from __future__ import annotations

import json
import logging
import os
import time

from redis.asyncio import Redis

from videocall.placement import NodeInfo, choose_node, dead_nodes

logger = logging.getLogger(__name__)


class CpuMeter:
    """This process's CPU use between two readings, as a share of one core."""

    def __init__(self) -> None:
        self._last = (time.monotonic(), time.process_time())

    def read(self) -> float:
        wall, cpu = time.monotonic(), time.process_time()
        last_wall, last_cpu = self._last
        self._last = (wall, cpu)
        return (cpu - last_cpu) / max(wall - last_wall, 1e-6)


class LocalNodes:
    def __init__(self, node_id: str, url: str) -> None:
        self.me = NodeInfo(node_id, url, 0, 0.0, False, time.time())

    async def heartbeat(self, calls: int, cpu: float, draining: bool) -> None:
        self.me = NodeInfo(self.me.node_id, self.me.url, calls, cpu, draining, time.time())

    async def nodes(self) -> list[NodeInfo]:
        return [self.me]

    async def place(self) -> NodeInfo:
        return self.me

    async def claim_dead(self) -> list[NodeInfo]:
        return []

    async def leave(self) -> None:
        return None


class RedisNodes:
    def __init__(self, redis: Redis, prefix: str, node_id: str, url: str, ttl: float) -> None:
        self.redis = redis
        self.prefix = prefix
        self.node_id = node_id
        self.url = url
        self.ttl = ttl
        self.me = NodeInfo(node_id, url, 0, 0.0, False, time.time())

    def _key(self, node_id: str) -> str:
        return f"{self.prefix}:node:{node_id}"

    async def heartbeat(self, calls: int, cpu: float, draining: bool) -> None:
        self.me = NodeInfo(self.node_id, self.url, calls, cpu, draining, time.time())
        async with self.redis.pipeline(transaction=True) as pipe:
            # The record outlives the TTL so that a dead node is still listed to be reaped.
            pipe.set(self._key(self.node_id), json.dumps(self.me.as_dict()), ex=int(self.ttl * 60))
            pipe.sadd(f"{self.prefix}:nodes", self.node_id)
            # Alive after all (Redis was away longer than the TTL): may be reaped again later.
            pipe.delete(f"{self.prefix}:reaped:{self.node_id}")
            await pipe.execute()

    async def nodes(self) -> list[NodeInfo]:
        ids = sorted(await self.redis.smembers(f"{self.prefix}:nodes"))
        if not ids:
            return []
        raw = await self.redis.mget(
            [self._key(i.decode() if isinstance(i, bytes) else i) for i in ids]
        )
        return [NodeInfo.from_dict(json.loads(r)) for r in raw if r]

    async def place(self) -> NodeInfo:
        """The least-loaded live node; this one when Redis knows none (it is alive itself)."""
        chosen = choose_node(await self.nodes(), time.time(), self.ttl)
        return chosen or self.me

    async def claim_dead(self) -> list[NodeInfo]:
        """Dead nodes this process won the right to clean up (each one, once, cluster-wide)."""
        claimed = []
        for node in dead_nodes(await self.nodes(), time.time(), self.ttl):
            if node.node_id == self.node_id:
                continue
            if await self.redis.set(
                f"{self.prefix}:reaped:{node.node_id}", self.node_id, nx=True, ex=3600
            ):
                await self.redis.srem(f"{self.prefix}:nodes", node.node_id)
                claimed.append(node)
        return claimed

    async def leave(self) -> None:
        await self.redis.srem(f"{self.prefix}:nodes", self.node_id)
        await self.redis.delete(self._key(self.node_id))


def default_node_id() -> str:
    return f"{os.uname().nodename}-{os.getpid()}"
