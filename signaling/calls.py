"""Live calls: a pairing becomes a call (SQL session, record ``in_call``, both sides told), and
every call event goes through ``sessions.transition`` and then its effects are carried out.

Events for one call may arrive at several server processes at once (each side can be connected
to a different one); the queue store saves sessions with compare-and-set, so a process that lost
the race reloads and applies its event again to the newer state.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

import socketio
from aiohttp import web

from signaling import messages as msg
from signaling.cluster import CLUSTER
from videocall.errors import Conflict, InvalidTransition, NotFound, VideoCallError
from videocall.queue import Pairing, QueueStore
from videocall.sessions import (
    CallEnded,
    CallOutcome,
    CallSession,
    EndReason,
    Event,
    Hangup,
    MediaConnected,
    NotifyPeer,
    SessionConfig,
    Side,
    Started,
    transition,
)
from web import keys

logger = logging.getLogger(__name__)

SYSTEM_ACTOR = "system:calls"
# Compare-and-set retries; two sides and a sweeper are the most that can race on one call.
MAX_RACES = 8


class CallControl:
    def __init__(
        self,
        app: web.Application,
        sio: socketio.AsyncServer,
        store: QueueStore,
        config: SessionConfig,
        broadcast: Callable[[], Awaitable[object]],
    ) -> None:
        self.app = app
        self.sio = sio
        self.store = store
        self.config = config
        self.broadcast = broadcast

    def now(self) -> datetime:
        return self.app[keys.CLOCK].now()

    # -- starting -------------------------------------------------------------------------

    async def start(self, pairing: Pairing, officer_actor: str) -> dict[str, Any]:
        """Open the SQL session (record -> in_call) and tell the participant; returns what
        the officer needs to open the call."""
        try:
            await self.app[keys.SESSIONS].start(
                record_id=pairing.record_id,
                officer_id=pairing.officer_id,
                officer_actor=officer_actor,
                now=pairing.paired_at,
                node=await self._place(),
                session_id=pairing.call_id,
            )
        except Exception as exc:
            await self._undo(pairing, exc)
            raise
        # From now on the call must connect within the timeout (the sweeper enforces it).
        await self._save(pairing.call_id, Started(), run_effects=False)
        logger.info(
            "call %s: officer %s with record %s (%s lane)",
            pairing.call_id,
            pairing.officer_id,
            pairing.record_id,
            pairing.entry.lane.value,
        )
        participant = await self.message(pairing.call_id, Side.PARTICIPANT)
        await self._emit(
            pairing.record_id, pairing.officer_id, Side.PARTICIPANT, msg.PAIRED, participant
        )
        return await self.message(pairing.call_id, Side.OFFICER) or {}

    async def _undo(self, pairing: Pairing, exc: Exception) -> None:
        """The record could not enter the call: end the pairing. A record in the wrong state
        leaves the queue (it would fail every time); on any other failure the participant
        keeps the head of the queue."""
        logger.warning("call %s: could not start (%r); pairing undone", pairing.call_id, exc)
        hopeless = isinstance(exc, (InvalidTransition, NotFound, Conflict))
        side = Side.PARTICIPANT if hopeless else Side.OFFICER
        await self._save(pairing.call_id, Hangup(side), run_effects=False)

    async def message(self, call_id: str, side: Side) -> dict[str, Any] | None:
        """The ``paired`` message for one side (sent again when that side reconnects)."""
        pairing = await self.store.pairing(call_id)
        if pairing is None:
            return None
        row = await self.app[keys.SESSIONS].get(call_id)
        body: dict[str, Any] = {
            "session_id": call_id,
            "record_id": pairing.record_id,
            "code": row.random_code,
            "media": await self._ticket(call_id, side, row.node),
        }
        if side is Side.OFFICER:
            body["participant"] = msg.card(pairing.entry.card)
            body["lane"] = pairing.entry.lane.value
        return body

    async def _place(self) -> str | None:
        """The node to host the call's media: the least-loaded live one in a cluster."""
        cluster = self.app.get(CLUSTER)
        if cluster is None:
            return self.app[keys.SETTINGS].node_id or None
        return (await cluster.place()).node_id

    async def _node_url(self, node_id: str | None) -> str:
        cluster = self.app.get(CLUSTER)
        if cluster is None or node_id is None:
            return ""  # this process, at the public URL
        nodes = await cluster.registry.nodes()
        return next((n.url for n in nodes if n.node_id == node_id), "")

    async def _ticket(self, call_id: str, side: Side, node_id: str | None) -> dict[str, Any] | None:
        # Imported here: the media layer pulls in aiortc, which the queue does not need.
        from signaling.media import MEDIA_HUB, media_ticket

        if MEDIA_HUB not in self.app:
            return None
        return media_ticket(self.app, call_id, side.value, await self._node_url(node_id))

    # -- events ---------------------------------------------------------------------------

    async def event(self, call_id: str, event: Event, actor: str = SYSTEM_ACTOR) -> bool:
        """Apply ``event`` to the call and carry out its effects; False if there is no call."""
        return await self._save(call_id, event, actor=actor)

    async def _save(
        self, call_id: str, event: Event, *, actor: str = SYSTEM_ACTOR, run_effects: bool = True
    ) -> bool:
        for _ in range(MAX_RACES):
            session = await self.store.get_call(call_id)
            if session is None:
                return False
            synced = await self._media_synced(session)
            after, effects = transition(synced, event, self.now(), self.config)
            if after == session:
                return True
            if await self.store.save_call(after, session.version):
                if run_effects:
                    await self._carry_out(after, effects, actor)
                return True
        raise Conflict("the call changed too often, try again", code="call_busy")

    async def _media_synced(self, session: CallSession) -> CallSession:
        """The media layer stamps ``connected_at`` on the SQL session when the first offer is
        answered; that is when the conversation starts (and a hang-up becomes 'completed')."""
        if session.active_since is not None:
            return session
        try:
            row = await self.app[keys.SESSIONS].get(session.call_id)
        except NotFound:
            return session
        if row.connected_at is None:
            return session
        synced, _ = transition(session, MediaConnected(), row.connected_at, self.config)
        return synced

    async def _carry_out(
        self, session: CallSession, effects: tuple[object, ...], actor: str
    ) -> None:
        for effect in effects:
            if isinstance(effect, NotifyPeer):
                body = {"session_id": session.call_id, "status": effect.status.value}
                await self._emit(
                    session.record_id, session.officer_id, effect.to, msg.PEER_STATUS, body
                )
            elif isinstance(effect, CallEnded):
                await self._ended(session, effect.outcome, actor)

    async def _ended(self, session: CallSession, outcome: CallOutcome, actor: str) -> None:
        logger.info(
            "call %s ended %s by %s (requeued=%s)",
            session.call_id,
            outcome.reason.value,
            outcome.ended_by.value if outcome.ended_by else "timeout",
            outcome.requeue,
        )
        if outcome.record_ready:
            await self._record_back_to_ready(session, outcome, actor)
        await self._close_media(session.call_id)
        body = msg.call_ended(session.call_id, outcome)
        for side in Side:
            await self._emit(session.record_id, session.officer_id, side, msg.CALL_ENDED, body)
        await self.sio.emit(
            msg.PRESENCE,
            {"presence": outcome.officer_presence.value},
            room=msg.officer_room(session.officer_id),
            namespace=msg.OFFICER_NS,
        )
        await self.broadcast()

    async def _record_back_to_ready(
        self, session: CallSession, outcome: CallOutcome, actor: str
    ) -> None:
        try:
            await self.app[keys.SESSIONS].end_interrupted(
                session.call_id, reason=end_reason(outcome), actor=actor, now=outcome.ended_at
            )
        except VideoCallError as exc:
            # Already ended by the officer's decision, or never started: nothing to undo.
            logger.info("call %s: session not ended in SQL (%s)", session.call_id, exc.code)

    async def _close_media(self, call_id: str) -> None:
        from signaling.media import MEDIA_HUB

        hub = self.app.get(MEDIA_HUB)
        if hub is None:
            return
        try:
            if call_id in hub.calls:
                await hub.end(call_id)
            elif hub.control is not None:
                # Hosted by another process: its media sweeper closes it within a second.
                await hub.control.request_end(call_id)
        except Exception:
            logger.exception("call %s: closing media failed", call_id)

    async def release_if_decided(self, officer_id: str, actor: str) -> None:
        """An officer who recorded a decision without hanging up has finished the call."""
        call_id = await self.store.call_of_officer(officer_id)
        if call_id is None:
            return
        try:
            row = await self.app[keys.SESSIONS].get(call_id)
        except NotFound:
            return
        if row.ended_at is not None:
            await self.event(call_id, Hangup(Side.OFFICER), actor)

    async def _emit(
        self, record_id: str, officer_id: str, to: Side, event: str, body: dict[str, Any] | None
    ) -> None:
        if to is Side.PARTICIPANT:
            room, namespace = msg.participant_room(record_id), msg.PARTICIPANT_NS
        else:
            room, namespace = msg.officer_room(officer_id), msg.OFFICER_NS
        await self.sio.emit(event, body, room=room, namespace=namespace)


def end_reason(outcome: CallOutcome) -> str:
    """For the record's history: why the call ended without a decision."""
    if outcome.reason is EndReason.INTERRUPTED:
        return "officer_lost" if outcome.requeue else "participant_lost"
    by = outcome.ended_by.value if outcome.ended_by else "timeout"
    return f"{outcome.reason.value}_by_{by}"
