"""The call's lifecycle, from pairing to the end of the conversation: the only code that changes
a call's state.

A live call's state is the queue store's ``CallSession`` (Redis or in-process), changed only
through ``sessions.transition`` with compare-and-set: events for one call may arrive at several
processes at once, and the loser of a race reloads and applies its event again. The SQL session
is the durable record that outlives every process; each transition's effects are written there
(record ``in_call``, connected, awaiting a decision, interrupted). When the two disagree after a
crash, ``videocall.app.recovery`` brings them back together.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from videocall.app import messages as msg
from videocall.app.ports import CallSessions, Journal, MediaPort, Notifier, Placement
from videocall.app.setup_timeline import SetupSteps
from videocall.clock import Clock
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
    MediaLost,
    NotifyPeer,
    SessionConfig,
    Side,
    Started,
    transition,
)

logger = logging.getLogger(__name__)

SYSTEM_ACTOR = "system:calls"
# Compare-and-set retries; two sides and a sweeper are the most that can race on one call.
MAX_RACES = 8


class CallService:
    def __init__(
        self,
        *,
        store: QueueStore,
        sessions: CallSessions,
        media: MediaPort,
        notifier: Notifier,
        placement: Placement,
        journal: Journal,
        clock: Clock,
        config: SessionConfig,
        officer_changed: Callable[[str], Awaitable[None]],
        setup: SetupSteps | None = None,
    ) -> None:
        self.store = store
        self.sessions = sessions
        self.media = media
        self.notifier = notifier
        self.placement = placement
        self.journal = journal
        self.clock = clock
        self.config = config
        # Tells the officer's tabs their presence and undecided calls, and refreshes the queue.
        self.officer_changed = officer_changed
        # The set-up timeline (metrics): timed from the accept that paired the call.
        self.setup = setup

    # -- starting -------------------------------------------------------------------------

    async def start(self, pairing: Pairing, officer_actor: str) -> dict[str, Any]:
        """Open the SQL session (record -> in_call) and tell the participant; returns what
        the officer needs to open the call."""
        if self.setup is not None:
            self.setup.accepted(pairing.call_id)
        try:
            await self.sessions.start(
                record_id=pairing.record_id,
                officer_id=pairing.officer_id,
                officer_actor=officer_actor,
                now=pairing.paired_at,
                node=await self.placement.place(),
                session_id=pairing.call_id,
            )
        except Exception as exc:
            await self._undo(pairing, exc)
            raise
        # From now on the call must connect within the timeout (the sweeper enforces it).
        await self._apply(pairing.call_id, Started(), SYSTEM_ACTOR, run_effects=False)
        logger.info(
            "call %s: officer %s with record %s (%s lane)",
            pairing.call_id,
            pairing.officer_id,
            pairing.record_id,
            pairing.entry.lane.value,
        )
        participant = await self.message(pairing.call_id, Side.PARTICIPANT)
        if participant is not None:
            await self.notifier.to_participant(pairing.record_id, msg.PAIRED, participant)
        officer = await self.message(pairing.call_id, Side.OFFICER) or {}
        if self.setup is not None:
            # The participant was told first: the officer's answer completes both.
            self.setup.mark(pairing.call_id, "accept_ack")
            self.setup.mark(pairing.call_id, "both_told")
        return officer

    async def _undo(self, pairing: Pairing, exc: Exception) -> None:
        """The record could not enter the call: end the pairing. A record in the wrong state
        leaves the queue (it would fail every time); on any other failure the participant
        keeps the head of the queue."""
        logger.warning("call %s: could not start (%r); pairing undone", pairing.call_id, exc)
        hopeless = isinstance(exc, (InvalidTransition, NotFound, Conflict))
        side = Side.PARTICIPANT if hopeless else Side.OFFICER
        await self._apply(pairing.call_id, Hangup(side), SYSTEM_ACTOR, run_effects=False)

    async def message(self, call_id: str, side: Side) -> dict[str, Any] | None:
        """The ``paired`` message for one side (sent again when that side reconnects)."""
        pairing = await self.store.pairing(call_id)
        if pairing is None:
            return None
        row = await self.sessions.get(call_id)
        body: dict[str, Any] = {
            "session_id": call_id,
            "record_id": pairing.record_id,
            "code": row.random_code,
            "media": await self.media.ticket(call_id, side.value, row.node),
        }
        if side is Side.OFFICER:
            body["participant"] = msg.card(pairing.entry.card)
            body["lane"] = pairing.entry.lane.value
        return body

    # -- events ---------------------------------------------------------------------------

    async def event(self, call_id: str, event: Event, actor: str = SYSTEM_ACTOR) -> bool:
        """Apply ``event`` to the call and carry out its effects; False if there is no call."""
        return await self._apply(call_id, event, actor)

    async def media_connected(self, call_id: str) -> None:
        """The media layer answered an offer: the conversation has started."""
        now = self.clock.now()
        await self.sessions.mark_connected(call_id, now)
        await self._apply(call_id, MediaConnected(), SYSTEM_ACTOR)

    async def hang_up(self, call_id: str, side: Side, actor: str) -> None:
        await self._apply(call_id, Hangup(side), actor)

    async def end_for_decision(self, call_id: str, actor: str) -> None:
        """The officer's decision ends the call: hang up, and wait until the media is closed
        and its recording stored (it is evidence), wherever the media was hosted."""
        await self._apply(call_id, Hangup(Side.OFFICER), actor)
        await self.media.close(call_id, wait=True)

    async def media_lost(self, call_id: str) -> bool:
        """The process hosting the call's media is gone: end it, participant to the head."""
        return await self._apply(call_id, MediaLost(), SYSTEM_ACTOR)

    async def release_if_decided(self, officer_id: str, actor: str) -> None:
        """A call still open in the store whose SQL session was decided (or otherwise ended
        elsewhere) is over: close it for the officer."""
        call_id = await self.store.call_of_officer(officer_id)
        if call_id is None:
            return
        try:
            row = await self.sessions.get(call_id)
        except NotFound:
            return
        if row.ended_at is not None:
            await self._apply(call_id, Hangup(Side.OFFICER), actor)

    async def _apply(
        self, call_id: str, event: Event, actor: str, *, run_effects: bool = True
    ) -> bool:
        for _ in range(MAX_RACES):
            session = await self.store.get_call(call_id)
            if session is None:
                return False
            after, effects = transition(session, event, self.clock.now(), self.config)
            if after == session:
                return True
            if await self.store.save_call(after, session.version):
                if run_effects:
                    await self._carry_out(after, effects, actor)
                return True
        raise Conflict("the call changed too often, try again", code="call_busy")

    async def _carry_out(
        self, session: CallSession, effects: tuple[object, ...], actor: str
    ) -> None:
        for effect in effects:
            if isinstance(effect, NotifyPeer):
                body = {"session_id": session.call_id, "status": effect.status.value}
                await self._tell(session, effect.to, msg.PEER_STATUS, body)
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
        # The durable record first: a crash after this point leaves nothing to guess.
        await self._store_end(session, outcome, actor)
        body = msg.call_ended(session.call_id, outcome)
        for side in Side:
            await self._tell(session, side, msg.CALL_ENDED, body)
        try:
            await self.media.close(session.call_id)
        except Exception:
            logger.exception("call %s: closing media failed", session.call_id)
        await self.officer_changed(session.officer_id)

    async def _store_end(self, session: CallSession, outcome: CallOutcome, actor: str) -> None:
        try:
            if outcome.awaiting_decision:
                await self.sessions.await_decision(
                    session.call_id, reason=end_reason(outcome), now=outcome.ended_at
                )
            elif outcome.record_ready:
                await self.sessions.end_interrupted(
                    session.call_id, reason=end_reason(outcome), actor=actor, now=outcome.ended_at
                )
        except VideoCallError as exc:
            # Already decided (the decision ended it), or never started: nothing to undo.
            logger.info("call %s: session not ended in SQL (%s)", session.call_id, exc.code)

    async def _tell(self, session: CallSession, to: Side, event: str, body: dict[str, Any]) -> None:
        if to is Side.PARTICIPANT:
            await self.notifier.to_participant(session.record_id, event, body)
        else:
            await self.notifier.to_officer(session.officer_id, event, body)

    async def note_lost_node(self, record_id: str, session_id: str, node: str) -> None:
        # The call's end reads "officer_lost"; say in the history that it was the server.
        await self.journal.note(
            record_id,
            "media_node_lost",
            actor="system:cluster",
            detail={"session_id": session_id, "node": node},
        )

    def now(self) -> datetime:
        return self.clock.now()


def end_reason(outcome: CallOutcome) -> str:
    """For the record's history: why the call ended (without a decision yet)."""
    if outcome.reason is EndReason.INTERRUPTED:
        return "officer_lost" if outcome.requeue else "participant_lost"
    by = outcome.ended_by.value if outcome.ended_by else "timeout"
    return f"{outcome.reason.value}_by_{by}"
