"""Socket.IO event limits, per connection *and* per person, on every namespace.

``RATE_LIMIT_SOCKET_EVENTS`` (``40/10s``) applies to each connection; each person (a participant's
record, an officer's account, one side of a call on ``/media``) gets ``PERSON_FACTOR`` times that
across all their connections to a namespace, so opening a new connection (a reconnect, a second
tab) does not start a fresh budget. Over either limit an event is answered ``rate_limited``
without running (``signaling.edge.EdgeServer`` calls the gate before any handler, for every
client event, including refused ones).

Nothing is forgotten on disconnect (a client could fake one): a bucket simply expires once it
would be full again. Connection buckets live in this process (a connection lives in one); person
buckets in Redis when ``REDIS_URL`` is set, so a reconnect to another process counts as well.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Mapping
from typing import Any

from aiohttp import web

from signaling.edge import EdgeServer, Gate
from videocall.adapters.rate_limit_store import (
    MemoryRateLimitStore,
    RateLimitStore,
    RedisRateLimitStore,
)
from videocall.clock import Clock
from videocall.limits import Decision, Rule, parse_rule
from videocall.settings import Settings

logger = logging.getLogger(__name__)

PERSON_FACTOR = 2  # two tabs or a reconnect mid-burst stay within the person's budget


def person_of(session: Mapping[str, Any]) -> str | None:
    """Who a connection belongs to, from what its namespace saved on connect."""
    for key in ("person", "officer_id", "record_id"):
        if session.get(key):
            return f"{key}:{session[key]}"
    if session.get("session_id") and session.get("side"):
        return f"call:{session['session_id']}:{session['side']}"
    return None


class SocketLimits:
    def __init__(self, rule: Rule, clock: Clock, people: RateLimitStore) -> None:
        self.rule = rule
        self.person_rule = Rule(f"{rule.name}_person", rule.limit * PERSON_FACTOR, rule.period)
        self.clock = clock
        self.connections = MemoryRateLimitStore()
        self.people = people

    async def take(self, namespace: str, sid: str, person: str | None) -> Decision:
        """Spend one event of the connection and of the person, or neither when refused."""
        now = self.clock.now().timestamp()
        connection = f"{namespace}:{sid}"
        decision = await self.connections.peek(self.rule, connection, now)
        if decision.allowed and person is not None:
            decision = await self.people.hit(self.person_rule, f"{namespace}:{person}", now)
        if decision.allowed:
            decision = await self.connections.hit(self.rule, connection, now)
        return decision


SOCKET_LIMITS = web.AppKey("socket_limits", SocketLimits)


def gate(sio: EdgeServer, limits: SocketLimits) -> Gate:
    async def check(namespace: str, sid: str, event: str) -> dict[str, Any] | None:
        try:
            session = await sio.get_session(sid, namespace=namespace)
        except KeyError:  # gone meanwhile
            session = {}
        decision = await limits.take(namespace, sid, person_of(session))
        if decision.allowed:
            return None
        return {
            "code": "rate_limited",
            "message": "too many events; slow down",
            "retry_after": round(decision.retry_after, 2),
        }

    return check


def install(app: web.Application, sio: EdgeServer, settings: Settings, clock: Clock) -> None:
    """Limit every client event of ``sio`` (unless the setting is ``off``)."""
    rule = parse_rule("socket_events", settings.rate_limit_socket_events)
    if rule is None:
        return
    people: RateLimitStore = MemoryRateLimitStore()
    if settings.redis_url:
        people = RedisRateLimitStore.from_url(settings.redis_url, settings.redis_prefix)
    limits = SocketLimits(rule, clock, people)
    app[SOCKET_LIMITS] = limits
    sio.gates.append(gate(sio, limits))

    async def close_store(_app: web.Application) -> AsyncIterator[None]:
        yield
        await people.close()

    app.cleanup_ctx.append(close_store)
