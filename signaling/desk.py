"""The call desk: what the ``/participant`` and ``/officer`` namespaces do, over the queue store.

One per process, opened and closed with the app. The queue store is Redis when ``REDIS_URL`` is
set (shared by every process, survives restarts) and in-process otherwise. A sweeper task ends
grace windows: participants who did not come back leave the queue, calls whose side did not
come back end. Every process sweeps; the store's atomic operations make that safe.

A person may have several sockets (tabs), on several processes; the store counts them, with
the node each is on, so a grace window starts when the last one closes, or when the node
holding the last ones is declared lost (``node_lost``: a SIGKILLed process sends no disconnect).

After every change the desk pushes positions and estimates to the waiting participants whose
numbers moved, and the queue view to every officer.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import socketio
from aiohttp import web
from redis.asyncio import Redis

from signaling import messages as msg
from signaling.calls import CallControl
from signaling.cluster import CLUSTER
from videocall.adapters.memory_queue import MemoryQueueStore
from videocall.adapters.redis_queue import RedisQueueStore, connect
from videocall.errors import Conflict, NotAllowed, NotFound
from videocall.hours import OutsideServiceHours, ServiceHours, ensure_open
from videocall.placement import NodeInfo
from videocall.presence import Presence
from videocall.queue import (
    ParticipantCard,
    QueueConfig,
    QueueEmpty,
    QueueStore,
    WaitStatus,
    changed_statuses,
    officer_view,
    wait_statuses,
)
from videocall.records import Record, RecordState
from videocall.sessions import (
    Disconnected,
    Hangup,
    MediaLost,
    Reconnected,
    SessionConfig,
    Side,
    Tick,
)
from web import keys

logger = logging.getLogger(__name__)

SWEEP_SECONDS = 1.0
# Officers' wait times grow with the clock, not only with changes: refresh their view.
VIEW_REFRESH_SECONDS = 15.0


def card_for(record: Record) -> ParticipantCard:
    return ParticipantCard.of(
        record.id, record.full_name or "", record.nik, (d.value for d in record.documents)
    )


class CallDesk:
    def __init__(self, app: web.Application, sio: socketio.AsyncServer) -> None:
        settings = app[keys.SETTINGS]
        self.app = app
        self.sio = sio
        self.hours = ServiceHours.parse(settings.service_hours, tz=settings.timezone)
        self.holidays = frozenset(settings.holidays)
        config = QueueConfig(disconnect_grace_seconds=settings.participant_grace_seconds)
        self.redis: Redis | None = None
        self.store: QueueStore
        if settings.redis_url:
            self.redis = connect(settings.redis_url)  # connects lazily, on first use
            self.store = RedisQueueStore(self.redis, prefix=settings.redis_prefix, config=config)
        else:
            self.store = MemoryQueueStore(config)
        session_config = SessionConfig(
            officer_grace_seconds=settings.officer_grace_seconds,
            participant_grace_seconds=settings.participant_grace_seconds,
            connect_timeout_seconds=settings.call_connect_timeout_seconds,
        )
        self.calls = CallControl(app, sio, self.store, session_config, self.broadcast)
        self._last: dict[str, WaitStatus] = {}
        self._broadcasting = asyncio.Lock()
        self._sweeper: asyncio.Task[None] | None = None
        self._closing = False
        self._pusher: asyncio.Task[None] | None = None
        self._push_wanted = False

    def now(self) -> datetime:
        return self.app[keys.CLOCK].now()

    async def start(self) -> None:
        if self._sweeper is None:
            self._sweeper = asyncio.create_task(self._sweep_forever(), name="call-desk-sweeper")

    async def close(self) -> None:
        self._closing = True
        if self._pusher is not None:
            await asyncio.wait({self._pusher}, timeout=5)
            self._pusher = None
        if self._sweeper is not None:
            self._sweeper.cancel()
            # A library that swallows a cancellation mid-command must not hang the shutdown:
            # the flag ends the loop at its next turn.
            await asyncio.wait({self._sweeper}, timeout=3 * SWEEP_SECONDS)
            self._sweeper = None
        if self.redis is not None:
            await self.redis.aclose()
            self.redis = None

    # -- participants ---------------------------------------------------------------------

    async def join(self, record_id: str) -> dict[str, Any]:
        """Join the queue, or come back to it or to one's call after a reconnect."""
        call = await self._resume_call(record_id)
        if call is not None:
            return {"call": call}
        now = self.now()
        try:
            ensure_open(now, self.hours, self.holidays)
        except OutsideServiceHours as exc:
            return {"ok": False, "queue": msg.queue_closed(exc)}
        record = await self.app[keys.RECORDS].get(record_id)
        if record.state is not RecordState.READY_FOR_CALL:
            raise Conflict("finish the earlier steps first", code="not_ready_for_call")
        was_waiting = await self.store.entry(record_id) is not None
        await self.store.join(card_for(record), now)
        if not was_waiting:
            await self._note(record_id, "queue_joined")
        status = (await self.broadcast()).get(record_id)
        return {"queue": msg.queue_status(status) if status else None}

    async def _resume_call(self, record_id: str) -> dict[str, Any] | None:
        call_id = await self.store.call_of_participant(record_id)
        if call_id is None:
            return None
        await self.calls.event(call_id, Reconnected(Side.PARTICIPANT), _participant(record_id))
        return await self.calls.message(call_id, Side.PARTICIPANT)

    async def leave(self, record_id: str) -> dict[str, Any]:
        if await self.store.leave(record_id):
            await self._note(record_id, "queue_left")
            await self.broadcast()
        return {}

    async def participant_connected(self, record_id: str, sid: str) -> None:
        await self.store.add_connection(_participant(record_id), sid, self.node_id)

    async def participant_gone(self, record_id: str, sid: str) -> None:
        """A socket dropped: if it was their last one, the grace window starts."""
        if await self.store.remove_connection(_participant(record_id), sid) == 0:
            await self._participant_away(record_id)

    async def _participant_away(self, record_id: str) -> None:
        """The grace window starts, in the queue or in the call."""
        call_id = await self.store.call_of_participant(record_id)
        if call_id is not None:
            await self.calls.event(call_id, Disconnected(Side.PARTICIPANT))
        elif await self.store.mark_disconnected(record_id, self.now()) is not None:
            await self.broadcast()

    async def participant_hangup(self, record_id: str) -> dict[str, Any]:
        call_id = await self.store.call_of_participant(record_id)
        if call_id is None:
            raise NotFound("you are not in a call", code="no_call")
        await self.calls.event(call_id, Hangup(Side.PARTICIPANT), _participant(record_id))
        return {"session_id": call_id}

    async def _note(self, record_id: str, action: str) -> None:
        await self.app[keys.SERVICE].note(record_id, action, actor=_participant(record_id))

    # -- officers -------------------------------------------------------------------------

    async def officer_connected(self, officer_id: str, sid: str) -> None:
        await self.store.add_connection(_officer(officer_id), sid, self.node_id)
        call_id = await self.store.call_of_officer(officer_id)
        if call_id is not None:
            await self.calls.event(call_id, Reconnected(Side.OFFICER))

    async def officer_state(self, officer_id: str) -> dict[str, Any]:
        """Presence, queue view and, when in a call, the ``paired`` message again."""
        snapshot = await self.store.snapshot()
        state: dict[str, Any] = {
            "presence": (await self.store.officer_presence(officer_id)).value,
            "queue": msg.queue_view(officer_view(snapshot, self.now())),
        }
        call_id = await self.store.call_of_officer(officer_id)
        if call_id is not None:
            state["call"] = await self.calls.message(call_id, Side.OFFICER)
        return state

    async def set_presence(self, officer_id: str, presence: Presence, actor: str) -> dict[str, Any]:
        """Available or away. In a call the request is moot: the answer says ``busy``."""
        await self.calls.release_if_decided(officer_id, actor)
        if await self.store.call_of_officer(officer_id) is None:
            await self.store.set_presence(officer_id, presence)
            await self.broadcast()
        return await self.officer_state(officer_id)

    async def officer_gone(self, officer_id: str, sid: str) -> None:
        """A socket dropped: if it was their last one, they are away (or reconnecting)."""
        if await self.store.remove_connection(_officer(officer_id), sid) == 0:
            await self._officer_away(officer_id)

    async def _officer_away(self, officer_id: str) -> None:
        call_id = await self.store.call_of_officer(officer_id)
        if call_id is not None:
            await self.calls.event(call_id, Disconnected(Side.OFFICER))
            return
        with contextlib.suppress(Conflict):  # paired in the meantime: the call's rules apply
            await self.store.set_presence(officer_id, Presence.AWAY)
        await self.broadcast()

    async def accept_next(self, officer_id: str, actor: str) -> dict[str, Any]:
        """Take the head of the queue; ``queue_empty`` is an answer, not an error."""
        await self.calls.release_if_decided(officer_id, actor)
        result = await self.store.accept_next(officer_id, str(uuid.uuid4()), self.now())
        if isinstance(result, QueueEmpty):
            return {"ok": False, "error": {"code": result.code, "message": result.message}}
        try:
            return await self.calls.start(result, actor)
        finally:
            await self._officer_changed(officer_id)

    async def assign(self, record_id: str, officer_id: str, actor: str) -> dict[str, Any]:
        """A supervisor gives a waiting participant to an available officer."""
        await self.calls.release_if_decided(officer_id, actor)
        pairing = await self.store.assign(record_id, officer_id, str(uuid.uuid4()), self.now())
        try:
            message = await self.calls.start(pairing, actor)
            await self.sio.emit(
                msg.PAIRED, message, room=msg.officer_room(officer_id), namespace=msg.OFFICER_NS
            )
        finally:
            await self._officer_changed(officer_id)
        return {"session_id": pairing.call_id}

    async def officer_hangup(
        self, officer_id: str, actor: str, session_id: str | None
    ) -> dict[str, Any]:
        call_id = await self.store.call_of_officer(officer_id)
        if call_id is None:
            raise NotFound("you are not in a call", code="no_call")
        if session_id is not None and session_id != call_id:
            raise NotAllowed("that is not your current call", code="not_your_call")
        await self.calls.event(call_id, Hangup(Side.OFFICER), actor)
        return {"session_id": call_id}

    async def _officer_changed(self, officer_id: str) -> None:
        presence = await self.store.officer_presence(officer_id)
        await self.sio.emit(
            msg.PRESENCE,
            {"presence": presence.value},
            room=msg.officer_room(officer_id),
            namespace=msg.OFFICER_NS,
        )
        # The officer's answer must not wait for a fan-out to every waiting participant (with
        # 10 000 waiting that took seconds): push in the background, coalescing bursts.
        self.push_soon()

    def resync(self) -> None:
        """Clients may have missed pushes (Redis was away): send everyone their state again."""
        self._last = {}
        self.push_soon()

    def push_soon(self) -> None:
        """Schedule a ``broadcast``; requests that arrive while one runs share the next one."""
        self._push_wanted = True
        if self._closing:
            return
        if self._pusher is None or self._pusher.done():
            self._pusher = asyncio.create_task(self._push_loop(), name="call-desk-push")

    async def _push_loop(self) -> None:
        while self._push_wanted and not self._closing:
            self._push_wanted = False
            try:
                await self.broadcast()
            except Exception:
                logger.exception("queue push failed; the next change pushes again")

    # -- pushing state --------------------------------------------------------------------

    async def broadcast(self) -> dict[str, WaitStatus]:
        """Push moved positions and estimates, and the officers' view; returns the statuses.

        Serialised, so a slow push never overtakes a newer one."""
        async with self._broadcasting:
            snapshot = await self.store.snapshot()
            statuses = wait_statuses(snapshot)
            for record_id, status in changed_statuses(self._last, statuses).items():
                await self.sio.emit(
                    msg.QUEUE_STATUS,
                    msg.queue_status(status),
                    room=msg.participant_room(record_id),
                    namespace=msg.PARTICIPANT_NS,
                )
            self._last = statuses
            view = msg.queue_view(officer_view(snapshot, self.now()))
            await self.sio.emit(
                msg.QUEUE_VIEW, view, room=msg.OFFICERS_ROOM, namespace=msg.OFFICER_NS
            )
        return statuses

    @property
    def node_id(self) -> str:
        """This process's node: where its sockets are recorded as connected."""
        cluster = self.app.get(CLUSTER)
        if cluster is not None:
            return cluster.node_id
        return self.app[keys.SETTINGS].node_id or "local"

    async def node_lost(self, node: NodeInfo) -> None:
        """A dead node's calls end at once (their participants go back to the head), and
        whoever was connected only through it starts their grace window."""
        await self._media_node_lost(node)
        for who in await self.store.drop_node_connections(node.node_id):
            kind, _, ident = who.partition(":")
            logger.info("%s %s: connection lost with node %s", kind, ident, node.node_id)
            if kind == "officer":
                await self._officer_away(ident)
            else:
                await self._participant_away(ident)

    async def _media_node_lost(self, node: NodeInfo) -> None:
        for row in await self.app[keys.SESSIONS].open_on_node(node.node_id):
            if await self.calls.event(row.id, MediaLost()):
                logger.warning(
                    "call %s: media node %s lost, participant requeued", row.id, node.node_id
                )
                # The call's end reads "officer_lost"; say in the history that it was the server.
                await self.app[keys.SERVICE].note(
                    row.record_id,
                    "media_node_lost",
                    actor="system:cluster",
                    detail={"session_id": row.id, "node": node.node_id},
                )

    def _watch_cluster(self) -> None:
        # The cluster opens after the desk (install order), so hook on the first sweep.
        cluster = self.app.get(CLUSTER)
        if cluster is not None and self.node_lost not in cluster.on_node_lost:
            cluster.on_node_lost.append(self.node_lost)
        callbacks = getattr(self.sio.manager, "on_resubscribed", None)
        if callbacks is not None and self.resync not in callbacks:
            callbacks.append(self.resync)

    async def sweep(self) -> None:
        """End the grace windows that ran out by now."""
        now = self.now()
        expired = await self.store.expire_disconnected(now)
        for record_id in expired:
            logger.info("record %s left the queue: did not reconnect in time", record_id)
        for call_id in await self.store.due_calls(now):
            await self.calls.event(call_id, Tick())
        if expired:
            await self.broadcast()

    async def _sweep_forever(self) -> None:
        since_refresh = 0.0
        while not self._closing:
            try:
                self._watch_cluster()
                await self.sweep()
                since_refresh += SWEEP_SECONDS
                if since_refresh >= VIEW_REFRESH_SECONDS:
                    since_refresh = 0.0
                    await self.broadcast()
            except Exception:
                # Redis away for longer than the client's retries: try again next round.
                logger.exception("queue sweep failed")
            await asyncio.sleep(SWEEP_SECONDS)


def _participant(record_id: str) -> str:
    return f"participant:{record_id}"


def _officer(officer_id: str) -> str:
    return f"officer:{officer_id}"


DESK = web.AppKey("call_desk", CallDesk)


def install_desk(app: web.Application, sio: socketio.AsyncServer) -> CallDesk:
    """The app's desk, created on first use by either namespace; opened and closed with it."""
    if DESK in app:
        return app[DESK]
    desk = CallDesk(app, sio)
    app[DESK] = desk

    async def lifecycle(_app: web.Application) -> AsyncIterator[None]:
        await desk.start()
        yield
        await desk.close()

    app.cleanup_ctx.append(lifecycle)
    return desk
