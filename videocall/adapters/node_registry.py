"""Server processes and their load, for media placement and failure detection.

- ``LocalNodes``: the embedded default — one process, always itself.
- ``RedisNodes``: each process writes ``<prefix>:node:<id>`` (JSON) on every heartbeat and keeps
  its id in the set ``<prefix>:nodes``. A node whose heartbeat is older than the TTL is dead; the
  first live process to claim ``<prefix>:reaped:<id>`` (SET NX) runs the clean-up for it once.

Incarnations: a process restarted under the same fixed ``NODE_ID`` is a new *incarnation* (a
random id per process start, announced with every heartbeat). Its predecessor's sockets and calls
are lost at once, not after the TTL: at start-up the new process calls
``claim_previous_incarnation()``, which returns the predecessor's last announcement exactly once
cluster-wide (unless a survivor already reaped it) and the caller runs its node-lost clean-up for
it. Claims are compare-and-set in Lua, so a survivor reaping the dead predecessor and the new
incarnation claiming it never both win, and a survivor never reaps a record that was renewed
after it judged it dead.
"""

from __future__ import annotations

import json
import logging
import os
import time
import uuid

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


# KEYS: node record, nodes set, reaped mark, previous-incarnation stash.
# ARGV: record JSON, incarnation, expiry seconds, node id.
_HEARTBEAT = """
local old = redis.call('GET', KEYS[1])
if old and redis.call('EXISTS', KEYS[3]) == 0 then
  local ok, info = pcall(cjson.decode, old)
  if not ok or type(info) ~= 'table' or info['incarnation'] ~= ARGV[2] then
    -- A predecessor under this id that nobody reaped: keep its record for the claim.
    redis.call('SET', KEYS[4], old, 'EX', ARGV[3])
  end
end
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[3])
redis.call('SADD', KEYS[2], ARGV[4])
redis.call('DEL', KEYS[3])
return 1
"""

# KEYS: node record, reaped mark, previous-incarnation stash. ARGV: incarnation, expiry seconds.
_CLAIM_PREVIOUS = """
local stashed = redis.call('GET', KEYS[3])
if stashed then
  redis.call('DEL', KEYS[3])
  return stashed
end
local current = redis.call('GET', KEYS[1])
if not current or redis.call('EXISTS', KEYS[2]) == 1 then
  return false
end
local ok, info = pcall(cjson.decode, current)
if ok and type(info) == 'table' and info['incarnation'] == ARGV[1] then
  return false
end
-- Claimed: a survivor's claim_dead (SET NX on the same mark) can no longer win it.
redis.call('SET', KEYS[2], ARGV[1], 'EX', ARGV[2])
return current
"""

# KEYS: node record, reaped mark, nodes set. ARGV: the record as judged dead, claimer, expiry
# seconds, node id. Only the record that was judged dead is reaped (not a renewed one).
_CLAIM_DEAD = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  return 0
end
if redis.call('SET', KEYS[2], ARGV[2], 'NX', 'EX', ARGV[3]) then
  redis.call('SREM', KEYS[3], ARGV[4])
  return 1
end
return 0
"""
CLAIM_SECONDS = 3600


def new_incarnation() -> str:
    """A fresh id for this process start."""
    return uuid.uuid4().hex


def _text(raw: bytes | str) -> str:
    return raw.decode() if isinstance(raw, bytes) else raw


class LocalNodes:
    """The embedded default: one process, nothing shared. A restart finds no predecessor in a
    registry (the caller reconciles every open call of the single node from SQL instead)."""

    def __init__(self, node_id: str, url: str, incarnation: str | None = None) -> None:
        self.me = NodeInfo(node_id, url, 0, 0.0, False, time.time())
        self.incarnation = incarnation or new_incarnation()

    async def claim_previous_incarnation(
        self, node_id: str | None = None, incarnation: str | None = None
    ) -> NodeInfo | None:
        return None

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
    def __init__(
        self,
        redis: Redis,
        prefix: str,
        node_id: str,
        url: str,
        ttl: float,
        incarnation: str | None = None,
    ) -> None:
        self.redis = redis
        self.prefix = prefix
        self.node_id = node_id
        self.url = url
        self.ttl = ttl
        self.incarnation = incarnation or new_incarnation()
        self.me = NodeInfo(node_id, url, 0, 0.0, False, time.time())
        self._heartbeat = redis.register_script(_HEARTBEAT)
        self._claim_previous = redis.register_script(_CLAIM_PREVIOUS)
        self._claim_dead = redis.register_script(_CLAIM_DEAD)

    def _key(self, node_id: str) -> str:
        return f"{self.prefix}:node:{node_id}"

    def _reaped(self, node_id: str) -> str:
        return f"{self.prefix}:reaped:{node_id}"

    def _previous(self, node_id: str) -> str:
        return f"{self.prefix}:previous:{node_id}"

    async def heartbeat(self, calls: int, cpu: float, draining: bool) -> None:
        self.me = NodeInfo(self.node_id, self.url, calls, cpu, draining, time.time())
        record = json.dumps({**self.me.as_dict(), "incarnation": self.incarnation})
        # The record outlives the TTL so that a dead node is still listed to be reaped; the
        # reaped mark goes: alive after all (Redis was away longer than the TTL), so it may be
        # reaped again later.
        keys = [
            self._key(self.node_id),
            f"{self.prefix}:nodes",
            self._reaped(self.node_id),
            self._previous(self.node_id),
        ]
        args: list[str | int] = [record, self.incarnation, int(self.ttl * 60), self.node_id]
        await self._heartbeat(keys=keys, args=args)

    async def claim_previous_incarnation(
        self, node_id: str | None = None, incarnation: str | None = None
    ) -> NodeInfo | None:
        """The last announcement of an earlier process under this node id, exactly once
        cluster-wide; None when there was none, it left cleanly, or a survivor reaped it.
        Call it at start-up (before or after the first heartbeat) and run the node-lost
        clean-up for what it returns."""
        node_id = node_id or self.node_id
        incarnation = incarnation or self.incarnation
        keys = [self._key(node_id), self._reaped(node_id), self._previous(node_id)]
        raw = await self._claim_previous(keys=keys, args=[incarnation, CLAIM_SECONDS])
        if not raw:
            return None
        data = json.loads(_text(raw))
        logger.warning(
            "node %s restarted: incarnation %s replaces %s (last heartbeat at %.0f)",
            node_id,
            incarnation,
            data.get("incarnation", "unknown"),
            float(data.get("seen_at", 0.0)),
        )
        return NodeInfo.from_dict(data)

    async def _records(self) -> list[tuple[str, NodeInfo]]:
        ids = sorted(await self.redis.smembers(f"{self.prefix}:nodes"))
        if not ids:
            return []
        raw = await self.redis.mget([self._key(_text(i)) for i in ids])
        return [(_text(r), NodeInfo.from_dict(json.loads(r))) for r in raw if r]

    async def nodes(self) -> list[NodeInfo]:
        return [info for _, info in await self._records()]

    async def place(self) -> NodeInfo:
        """The least-loaded live node; this one when Redis knows none (it is alive itself)."""
        chosen = choose_node(await self.nodes(), time.time(), self.ttl)
        return chosen or self.me

    async def claim_dead(self) -> list[NodeInfo]:
        """Dead nodes this process won the right to clean up (each one, once, cluster-wide)."""
        records = await self._records()
        raw_of = {info.node_id: raw for raw, info in records}
        claimed = []
        for node in dead_nodes([info for _, info in records], time.time(), self.ttl):
            if node.node_id == self.node_id:
                continue
            keys = [self._key(node.node_id), self._reaped(node.node_id), f"{self.prefix}:nodes"]
            args: list[str | int] = [
                raw_of[node.node_id],
                self.node_id,
                CLAIM_SECONDS,
                node.node_id,
            ]
            if await self._claim_dead(keys=keys, args=args):
                claimed.append(node)
        return claimed

    async def leave(self) -> None:
        await self.redis.srem(f"{self.prefix}:nodes", self.node_id)
        await self.redis.delete(self._key(self.node_id))


def default_node_id() -> str:
    return f"{os.uname().nodename}-{os.getpid()}"
