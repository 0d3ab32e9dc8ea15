"""This process as one node of a cluster: heartbeat with its load, media placement, dead-node
clean-up, and draining on SIGTERM.

Embedded (no ``REDIS_URL``): one node, always itself; nothing to reap. With Redis: every
``heartbeat_seconds`` the node writes its load; a call's media goes to the least-loaded live node;
a node silent for ``node_ttl_seconds`` is dead, and the first live node to claim it ends its open
calls (``on_node_lost`` callbacks, e.g. requeue their participants at the head of the queue).

On shutdown the node first *drains*: it announces ``draining`` (no new calls are placed on it)
and waits for its calls to end, up to ``drain_seconds``, before the app closes the rest.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from redis.asyncio import Redis

from videocall.adapters.node_registry import (
    CpuMeter,
    LocalNodes,
    RedisNodes,
    default_node_id,
)
from videocall.placement import NodeInfo
from videocall.settings import Settings

logger = logging.getLogger(__name__)

NodeLost = Callable[[NodeInfo], Awaitable[None]]


class Cluster:
    def __init__(
        self, registry: LocalNodes | RedisNodes, calls: Callable[[], int], heartbeat_s: float
    ) -> None:
        self.registry = registry
        self.calls = calls
        self.heartbeat_s = heartbeat_s
        self.draining = False
        self.on_node_lost: list[NodeLost] = []
        self._cpu = CpuMeter()
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()

    @property
    def node_id(self) -> str:
        return self.registry.me.node_id

    @property
    def url(self) -> str:
        return self.registry.me.url

    async def place(self) -> str | None:
        """The node to host a new call's media."""
        return (await self.registry.place()).node_id

    async def node_url(self, node_id: str | None) -> str:
        """A node's public URL; "" for this process (the pages use the public URL)."""
        if node_id is None or node_id == self.node_id:
            return ""
        nodes = await self.registry.nodes()
        return next((n.url for n in nodes if n.node_id == node_id), "")

    async def beat(self) -> None:
        await self.registry.heartbeat(self.calls(), self._cpu.read(), self.draining)

    async def reap(self) -> None:
        for node in await self.registry.claim_dead():
            logger.warning("node %s lost (last heartbeat at %.0f)", node.node_id, node.seen_at)
            for callback in self.on_node_lost:
                try:
                    await callback(node)
                except Exception:
                    logger.exception("clean-up after node %s failed", node.node_id)

    async def _loop(self) -> None:
        while not self._stopping.is_set():
            try:
                await self.beat()
                await self.reap()
            except Exception:
                # Redis away for a moment: redis-py retries with backoff; try again next beat.
                logger.warning("cluster heartbeat failed", exc_info=True)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self.heartbeat_s)

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._loop(), name="cluster-heartbeat")

    async def drain(self, limit_s: float) -> None:
        """Take no new calls; wait until ours have ended (or the limit passes)."""
        self.draining = True
        with contextlib.suppress(Exception):
            await self.beat()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + limit_s
        if self.calls():
            logger.info("draining: waiting for %d call(s), up to %.0f s", self.calls(), limit_s)
        # Calls end in the media hub, which knows nothing of draining: a slow poll is enough.
        while self.calls() and loop.time() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.5)

    async def close(self) -> None:
        # Stop by a flag, not by cancelling: on Python 3.11 redis-py's wait_for can swallow a
        # cancellation in the middle of a command, and the loop would never end.
        self._stopping.set()
        if self._task is not None:
            done, _ = await asyncio.wait({self._task}, timeout=self.heartbeat_s + 5)
            if not done:
                self._task.cancel()
                await asyncio.wait({self._task}, timeout=1)
            self._task = None
        with contextlib.suppress(Exception):
            await self.registry.leave()


def open_cluster(
    settings: Settings, redis: Redis | None, local_calls: Callable[[], int]
) -> Cluster:
    """This process's node: in the Redis registry, or alone (embedded)."""
    node_id = settings.node_id or default_node_id()
    url = settings.effective_public_url
    registry: LocalNodes | RedisNodes
    if redis is not None:
        registry = RedisNodes(redis, settings.redis_prefix, node_id, url, settings.node_ttl_seconds)
    else:
        registry = LocalNodes(node_id, url)
    return Cluster(registry, local_calls, settings.heartbeat_seconds)
