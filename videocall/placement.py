"""Where a call's media runs: the least-loaded live server process (pure rules).

Each process announces itself with a heartbeat carrying its load; a process whose heartbeat is
older than the TTL is dead, and whoever notices first ends its calls as ``interrupted``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class NodeInfo:
    node_id: str
    url: str
    calls: int
    cpu: float  # share of one core over the last heartbeat interval, 0-1+
    draining: bool
    seen_at: float  # unix seconds of the last heartbeat

    def as_dict(self) -> dict[str, Any]:
        return {
            "node_id": self.node_id,
            "url": self.url,
            "calls": self.calls,
            "cpu": round(self.cpu, 3),
            "draining": self.draining,
            "seen_at": self.seen_at,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> NodeInfo:
        return cls(
            node_id=str(data["node_id"]),
            url=str(data["url"]),
            calls=int(data["calls"]),
            cpu=float(data["cpu"]),
            draining=bool(data["draining"]),
            seen_at=float(data["seen_at"]),
        )


def is_alive(node: NodeInfo, now: float, ttl: float) -> bool:
    return now - node.seen_at <= ttl


def load_score(node: NodeInfo) -> tuple[float, int, str]:
    """Calls first (a call costs about the same everywhere), CPU to break ties, id for stability."""
    return (node.calls + min(node.cpu, 4.0), node.calls, node.node_id)


def choose_node(nodes: list[NodeInfo], now: float, ttl: float) -> NodeInfo | None:
    """The least-loaded live node that takes new calls, or None."""
    candidates = [n for n in nodes if is_alive(n, now, ttl) and not n.draining]
    return min(candidates, key=load_score) if candidates else None


def dead_nodes(nodes: list[NodeInfo], now: float, ttl: float) -> list[NodeInfo]:
    return [n for n in nodes if not is_alive(n, now, ttl)]
