"""The queue store in Redis: shared by every node, survives a server restart.

Every change is one Lua script (``redis_queue_lua``), so it is atomic across nodes: two
officers accepting at once run one after the other inside Redis and get different participants.
Reads that need a consistent picture (``snapshot``) use MULTI. All keys share the hash tag
``{prefix}``, so the scripts also work on Redis Cluster.

Connection drops are retried by redis-py with capped exponential backoff (``connect``). A retry
may run a script twice when only the reply was lost, so every script is idempotent: joins and
leaves by nature, pairings by their call id, session saves by their version (and a short-lived
tombstone once a call is finished).
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import cast

from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialWithJitterBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from videocall.adapters import queue_codec as codec
from videocall.adapters import redis_queue_lua as lua
from videocall.errors import Conflict, NotFound, ValidationError
from videocall.presence import SETTABLE, Presence
from videocall.queue import (
    DEFAULT_CONFIG,
    Lane,
    Pairing,
    ParticipantCard,
    QueueConfig,
    QueueEmpty,
    QueueEntry,
    QueueSnapshot,
)
from videocall.sessions import CallSession, Phase, start

logger = logging.getLogger(__name__)

# Long enough to absorb any retry of a finishing save, short enough not to pile up.
TOMBSTONE_SECONDS = 3600
_PAIR_ERRORS: dict[str, tuple[type[Conflict] | type[NotFound], str]] = {
    "officer_busy": (Conflict, "finish your current call first"),
    "call_id_taken": (Conflict, "call id already used"),
    "not_waiting": (NotFound, "that participant is not waiting"),
    "participant_disconnected": (Conflict, "that participant is reconnecting"),
    "officer_unavailable": (Conflict, "that officer is not available"),
}


def connect(url: str, *, retries: int = 8, max_backoff: float = 5.0) -> Redis:
    """A client that rides out short outages: exponential backoff with jitter, capped.

    The pool blocks for a free connection when busy (the default one raises
    ``MaxConnectionsError`` past 100 commands in flight, e.g. 250 officers accepting at once)."""
    pool = BlockingConnectionPool.from_url(
        url,
        max_connections=100,
        timeout=10,
        decode_responses=True,
        retry=Retry(ExponentialWithJitterBackoff(cap=max_backoff, base=0.05), retries),
        retry_on_error=[RedisConnectionError, RedisTimeoutError],
        health_check_interval=15,
        socket_connect_timeout=5,
        socket_timeout=5,
    )
    return Redis.from_pool(pool)  # the client owns the pool: aclose() closes it too


def _paired(raw: str) -> Pairing:
    pairing = codec.pairing_from_json(raw)
    logger.info(
        "call %s: officer %s paired with record %s",
        pairing.call_id,
        pairing.officer_id,
        pairing.record_id,
    )
    return pairing


class RedisQueueStore:
    def __init__(
        self, redis: Redis, prefix: str = "vc", config: QueueConfig = DEFAULT_CONFIG
    ) -> None:
        if not redis.connection_pool.connection_kwargs.get("decode_responses"):
            raise ValueError("RedisQueueStore needs a client with decode_responses=True")
        self.redis = redis
        self.config = config
        self.prefix = prefix
        self._keys = [self.key(name) for name in lua.KEY_NAMES]
        self._join = redis.register_script(lua.JOIN)
        self._leave = redis.register_script(lua.LEAVE)
        self._disconnect = redis.register_script(lua.DISCONNECT)
        self._reconnect = redis.register_script(lua.RECONNECT)
        self._expire = redis.register_script(lua.EXPIRE)
        self._entry = redis.register_script(lua.ENTRY)
        self._set_presence = redis.register_script(lua.SET_PRESENCE)
        self._pair = redis.register_script(lua.PAIR)
        self._save = redis.register_script(lua.SAVE_CALL)
        self._conn_keys = [self.key("conns"), self.key("conn_count")]
        self._add_connection = redis.register_script(lua.ADD_CONNECTION)
        self._remove_connection = redis.register_script(lua.REMOVE_CONNECTION)
        self._drop_node = redis.register_script(lua.DROP_NODE_CONNECTIONS)

    def key(self, name: str) -> str:
        return f"{{{self.prefix}}}:{name}"

    # -- participants -------------------------------------------------------------------

    async def join(
        self, card: ParticipantCard, now: datetime, lane: Lane = Lane.NORMAL
    ) -> QueueEntry:
        reply = await self._join(
            keys=self._keys, args=[card.record_id, codec.entry_json(card, now), lane.value]
        )
        if reply[0] == "already_in_call":
            raise Conflict("you are already in a call", code="already_in_call")
        entry = codec.entry_from_script(card.record_id, reply[1:])
        assert entry is not None  # the script just wrote it
        return entry

    async def leave(self, record_id: str) -> bool:
        return bool(await self._leave(keys=self._keys, args=[record_id]))

    async def mark_disconnected(self, record_id: str, now: datetime) -> QueueEntry | None:
        deadline = codec.score(now + self.config.disconnect_grace)
        reply = await self._disconnect(keys=self._keys, args=[record_id, deadline])
        return codec.entry_from_script(record_id, reply)

    async def mark_reconnected(self, record_id: str) -> QueueEntry | None:
        reply = await self._reconnect(keys=self._keys, args=[record_id])
        return codec.entry_from_script(record_id, reply)

    async def expire_disconnected(self, now: datetime) -> tuple[str, ...]:
        return tuple(await self._expire(keys=self._keys, args=[codec.score(now)]))

    async def entry(self, record_id: str) -> QueueEntry | None:
        reply = await self._entry(keys=self._keys, args=[record_id])
        return codec.entry_from_script(record_id, reply)

    # -- officers -----------------------------------------------------------------------

    async def set_presence(self, officer_id: str, presence: Presence) -> None:
        if presence not in SETTABLE:
            raise ValidationError("presence must be available or away", code="bad_presence")
        reply = await self._set_presence(keys=self._keys, args=[officer_id, presence.value])
        if reply == "officer_busy":
            raise Conflict("you are in a call", code="officer_busy")

    async def officer_presence(self, officer_id: str) -> Presence:
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hexists(self.key("officer_call"), officer_id)
            pipe.hget(self.key("presence"), officer_id)
            busy, stored = await pipe.execute()
        if busy:
            return Presence.BUSY
        return Presence(stored) if stored else Presence.AWAY

    # -- pairing ------------------------------------------------------------------------

    async def accept_next(
        self, officer_id: str, call_id: str, now: datetime
    ) -> Pairing | QueueEmpty:
        reply = await self._run_pair(officer_id, call_id, now, "next", "")
        if reply[0] == "empty":
            return QueueEmpty(disconnected=int(reply[1]))
        return _paired(reply[1])

    async def assign(self, record_id: str, officer_id: str, call_id: str, now: datetime) -> Pairing:
        return _paired((await self._run_pair(officer_id, call_id, now, "assign", record_id))[1])

    async def _run_pair(
        self, officer_id: str, call_id: str, now: datetime, mode: str, record_id: str
    ) -> list[str]:
        args = [officer_id, call_id, now.isoformat(), mode, record_id]
        reply: list[str] = await self._pair(keys=self._keys, args=args)
        if reply[0] in _PAIR_ERRORS:
            error, message = _PAIR_ERRORS[reply[0]]
            raise error(message, code=reply[0])
        return reply

    async def pairing(self, call_id: str) -> Pairing | None:
        raw = await self.redis.hget(self.key("pairings"), call_id)
        return codec.pairing_from_json(_text(raw)) if raw else None

    async def call_of_participant(self, record_id: str) -> str | None:
        return _optional_text(await self.redis.hget(self.key("participant_call"), record_id))

    async def call_of_officer(self, officer_id: str) -> str | None:
        return _optional_text(await self.redis.hget(self.key("officer_call"), officer_id))

    # -- calls --------------------------------------------------------------------------

    async def get_call(self, call_id: str) -> CallSession | None:
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hget(self.key("sessions"), call_id)
            pipe.hget(self.key("pairings"), call_id)
            saved, paired = await pipe.execute()
        if saved:
            return codec.session_from_json(saved)
        if paired:
            # Not saved since the pairing: the session is still the one ``start`` makes.
            p = codec.pairing_from_json(paired)
            return start(p.call_id, p.record_id, p.officer_id, p.paired_at)
        return None

    async def save_call(self, session: CallSession, expected_version: int) -> bool:
        requeue_entry, requeue_until = "", ""
        outcome = session.outcome if session.phase is Phase.ENDED else None
        if outcome is not None and outcome.requeue:
            pairing = await self.pairing(session.call_id)
            if pairing is not None:
                requeue_entry = codec.entry_json(pairing.entry.card, outcome.ended_at)
            if outcome.requeue_away_until is not None:
                requeue_until = codec.score(outcome.requeue_away_until)
        deadline = session.deadline
        args = [
            session.call_id,
            str(expected_version),
            str(session.version),
            codec.session_json(session),
            codec.score(deadline) if deadline else "",
            session.record_id,
            session.officer_id,
            "1" if outcome is not None else "0",
            outcome.officer_presence.value if outcome else "",
            repr(outcome.call_seconds) if outcome and outcome.call_seconds is not None else "",
            requeue_entry,
            requeue_until,
            str(self.config.history_size),
            str(TOMBSTONE_SECONDS),
        ]
        keys = [*self._keys, self.key(f"ended:{session.call_id}")]
        reply = await self._save(keys=keys, args=args)
        if reply == "not_found":
            raise NotFound("no such call", code="call_not_found")
        return bool(reply == "ok")

    async def due_calls(self, now: datetime) -> tuple[str, ...]:
        due = await self.redis.zrangebyscore(self.key("deadlines"), "-inf", codec.score(now))
        return tuple(cast("list[str]", due))

    async def live_calls(self) -> tuple[str, ...]:
        return tuple(sorted(_text(k) for k in await self.redis.hkeys(self.key("pairings"))))

    async def snapshot(self) -> QueueSnapshot:
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.zrange(self.key("q:priority"), 0, -1, withscores=True)
            pipe.zrange(self.key("q:normal"), 0, -1, withscores=True)
            pipe.hgetall(self.key("entries"))
            pipe.zrange(self.key("gone"), 0, -1, withscores=True)
            pipe.scard(self.key("available"))
            pipe.hlen(self.key("officer_call"))
            pipe.lrange(self.key("recent"), 0, -1)
            prio, normal, raw, gone, available, busy, recent = await pipe.execute()
        deadlines = dict(gone)
        entries = [
            codec.entry_from_script(rid, [raw[rid], lane, repr(seq), _score_text(deadlines, rid)])
            for lane, members in ((Lane.PRIORITY, prio), (Lane.NORMAL, normal))
            for rid, seq in members
            if rid in raw  # always, as every write is one script; a bulk delete may interleave
        ]
        return QueueSnapshot(
            entries=tuple(e for e in entries if e is not None),
            officers_available=int(available),
            officers_busy=int(busy),
            recent_call_seconds=tuple(float(s) for s in recent),
        )

    # -- connections --------------------------------------------------------------------

    async def add_connection(self, who: str, sid: str, node: str) -> int:
        return int(await self._add_connection(keys=self._conn_keys, args=[sid, node, who]))

    async def remove_connection(self, who: str, sid: str) -> int:
        return int(await self._remove_connection(keys=self._conn_keys, args=[sid, who]))

    async def drop_node_connections(self, node: str) -> tuple[str, ...]:
        left = await self._drop_node(keys=self._conn_keys, args=[node])
        return tuple(sorted(_text(w) for w in left))

    async def clear(self) -> None:
        """Delete every key under the prefix (tests, resetting a demo)."""
        async for name in self.redis.scan_iter(match=f"{{{self.prefix}}}:*", count=500):
            await self.redis.delete(name)


def _score_text(scores: dict[str, float], member: str) -> str:
    return repr(scores[member]) if member in scores else ""


def _text(value: bytes | str) -> str:
    # The client decodes (checked in __init__); this only narrows redis-py's bytes | str.
    return value if isinstance(value, str) else value.decode()


def _optional_text(value: bytes | str | None) -> str | None:
    return None if value is None else _text(value)
