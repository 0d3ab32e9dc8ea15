"""The call desk: the queue, officers' presence, pairing, and what people are told about them.

A person may have several sockets (tabs), on several processes; the queue store counts them,
with the node each is on, so a grace window starts when the last one closes, or when the node
holding the last ones is declared lost (``node_lost``: a SIGKILLed process sends no disconnect).

After every change the desk pushes positions and estimates to the waiting participants whose
numbers moved, and the queue view to every officer. Call events go through ``CallService``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from datetime import datetime, timedelta
from typing import Any

from videocall.app import messages as msg
from videocall.app.appointment_ports import BookingDesk
from videocall.app.calls import CallService
from videocall.app.ports import CallSessions, Journal, Notifier, Placement
from videocall.clock import Clock
from videocall.errors import Conflict, NotAllowed, NotFound
from videocall.hours import OutsideServiceHours, ServiceHours, ensure_open
from videocall.ports import RecordRepository
from videocall.presence import Presence
from videocall.queue import (
    Lane,
    ParticipantCard,
    QueueEmpty,
    QueueStore,
    WaitStatus,
    changed_statuses,
    officer_view,
    wait_statuses,
)
from videocall.records import Record, RecordState
from videocall.sessions import Disconnected, Hangup, Reconnected, Side, Tick

logger = logging.getLogger(__name__)


def card_for(record: Record) -> ParticipantCard:
    return ParticipantCard.of(
        record.id, record.full_name or "", record.nik, (d.value for d in record.documents)
    )


class DeskService:
    def __init__(
        self,
        *,
        store: QueueStore,
        calls: CallService,
        records: RecordRepository,
        sessions: CallSessions,
        journal: Journal,
        notifier: Notifier,
        placement: Placement,
        clock: Clock,
        hours: ServiceHours,
        holidays: frozenset[Any],
        escalate_after: timedelta,
        appointments: BookingDesk | None = None,
        offer_wait_seconds: float | None = None,
    ) -> None:
        self.store = store
        self.calls = calls
        self.records = records
        self.sessions = sessions
        self.journal = journal
        self.notifier = notifier
        self.placement = placement
        self.clock = clock
        self.hours = hours
        self.holidays = holidays
        self.escalate_after = escalate_after
        # Appointments: the priority lane at a booked time, and booking offered on a long wait.
        self.appointments = appointments
        self.offer_wait_seconds = offer_wait_seconds if appointments is not None else None
        self._last: dict[str, WaitStatus] = {}
        self._broadcasting = asyncio.Lock()
        self._closing = False
        self._pusher: asyncio.Task[None] | None = None
        self._push_wanted = False

    def now(self) -> datetime:
        return self.clock.now()

    @property
    def node_id(self) -> str:
        return self.placement.node_id

    async def close(self) -> None:
        self._closing = True
        if self._pusher is not None:
            await asyncio.wait({self._pusher}, timeout=5)
            self._pusher = None

    # -- participants ---------------------------------------------------------------------

    async def join(self, record_id: str) -> dict[str, Any]:
        """Join the queue, or come back to it or to one's call after a reconnect."""
        call = await self._resume_call(record_id)
        if call is not None:
            return {"call": call}
        record = await self.records.get(record_id)
        if record.state is RecordState.IN_CALL:
            undecided = await self.sessions.undecided(record_id=record_id)
            if undecided:
                return {"awaiting_decision": {"session_id": undecided[0].session_id}}
        now = self.now()
        lane = await self._lane(record, now)
        if lane is Lane.NORMAL:  # a booked time inside the window opens the desk
            try:
                ensure_open(now, self.hours, self.holidays)
            except OutsideServiceHours as exc:
                booking = self.appointments is not None
                return {"ok": False, "queue": msg.queue_closed(exc, booking=booking)}
        if record.state is not RecordState.READY_FOR_CALL:
            raise Conflict("finish the earlier steps first", code="not_ready_for_call")
        was_waiting = await self.store.entry(record_id) is not None
        await self.store.join(card_for(record), now, lane)
        if not was_waiting:
            await self._note(record_id, "queue_joined")
        status = (await self.broadcast()).get(record_id)
        return {"queue": msg.queue_status(status, self.offer_wait_seconds) if status else None}

    async def _lane(self, record: Record, now: datetime) -> Lane:
        """Priority for a participant ready for the call inside their booking's window."""
        if self.appointments is None or record.state is not RecordState.READY_FOR_CALL:
            return Lane.NORMAL
        return await self.appointments.lane_on_join(record.id, now)

    async def promote(self, record_id: str) -> bool:
        """A booking's window opened while its participant waits (connected) as a walk-in: to
        the priority lane. Whether they are waiting."""
        entry = await self.store.entry(record_id)
        if entry is None or not entry.connected:
            return False
        if entry.lane is Lane.NORMAL:
            await self.store.join(entry.card, self.now(), Lane.PRIORITY)
            self.push_soon()
        return True

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
        call_id = await self.store.call_of_participant(record_id)
        if call_id is not None:
            await self.calls.event(call_id, Disconnected(Side.PARTICIPANT))
        elif await self.store.mark_disconnected(record_id, self.now()) is not None:
            await self.broadcast()

    async def participant_hangup(self, record_id: str) -> dict[str, Any]:
        call_id = await self.store.call_of_participant(record_id)
        if call_id is None:
            raise NotFound("you are not in a call", code="no_call")
        await self.calls.hang_up(call_id, Side.PARTICIPANT, _participant(record_id))
        return {"session_id": call_id}

    async def _note(self, record_id: str, action: str) -> None:
        await self.journal.note(record_id, action, actor=_participant(record_id))

    # -- officers -------------------------------------------------------------------------

    async def officer_connected(self, officer_id: str, sid: str) -> None:
        await self.store.add_connection(_officer(officer_id), sid, self.node_id)
        call_id = await self.store.call_of_officer(officer_id)
        if call_id is not None:
            await self.calls.event(call_id, Reconnected(Side.OFFICER))

    async def undecided(self, officer_id: str | None) -> list[dict[str, Any]]:
        """Calls awaiting a decision: one officer's, or (None) everyone's."""
        now = self.now()
        return [
            msg.undecided_item(row, stale=now - row.ended_at >= self.escalate_after)
            for row in await self.sessions.undecided(officer_id)
        ]

    async def officer_state(self, officer_id: str) -> dict[str, Any]:
        """Presence, queue view, undecided calls and, when in a call, ``paired`` again."""
        snapshot = await self.store.snapshot()
        state: dict[str, Any] = {
            "presence": (await self.store.officer_presence(officer_id)).value,
            "queue": msg.queue_view(officer_view(snapshot, self.now())),
            "undecided": await self.undecided(officer_id),
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

    async def _check_can_take(self, officer_id: str) -> None:
        """An officer takes a call only while available and with no decision outstanding."""
        if await self.store.officer_presence(officer_id) is Presence.AWAY:
            raise Conflict("set yourself available first", code="officer_away")
        if await self.sessions.undecided(officer_id):
            raise Conflict("record the decision of your last call first", code="decision_pending")

    async def accept_next(self, officer_id: str, actor: str) -> dict[str, Any]:
        """Take the head of the queue; ``queue_empty`` is an answer, not an error."""
        await self.calls.release_if_decided(officer_id, actor)
        if await self.store.call_of_officer(officer_id) is None:
            await self._check_can_take(officer_id)
        result = await self.store.accept_next(officer_id, str(uuid.uuid4()), self.now())
        if isinstance(result, QueueEmpty):
            return {"ok": False, "error": {"code": result.code, "message": result.message}}
        try:
            message = await self.calls.start(result, actor)
            await self._booking_served(result.record_id)
            return message
        finally:
            await self._officer_changed(officer_id)

    async def _booking_served(self, record_id: str) -> None:
        """A participant with a booking was paired (early, as a walk-in, or at the booked
        time): the booking is attended, never a no-show. Best effort: the call goes on."""
        if self.appointments is None:
            return
        try:
            await self.appointments.paired(record_id, self.now())
        except Exception:
            logger.exception("could not mark the booking of record %s attended", record_id)

    async def assign(self, record_id: str, officer_id: str, actor: str) -> dict[str, Any]:
        """A supervisor gives a waiting participant to an available officer."""
        await self.calls.release_if_decided(officer_id, actor)
        if await self.sessions.undecided(officer_id):
            raise Conflict("that officer has a decision outstanding", code="decision_pending")
        pairing = await self.store.assign(record_id, officer_id, str(uuid.uuid4()), self.now())
        try:
            message = await self.calls.start(pairing, actor)
            await self._booking_served(pairing.record_id)
            await self.notifier.to_officer(officer_id, msg.PAIRED, message)
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

    async def officer_changed(self, officer_id: str) -> None:
        """Tell the officer's tabs their presence and undecided calls; refresh the queue."""
        await self._officer_changed(officer_id)

    async def _officer_changed(self, officer_id: str) -> None:
        presence = await self.store.officer_presence(officer_id)
        body = {"presence": presence.value, "undecided": await self.undecided(officer_id)}
        await self.notifier.to_officer(officer_id, msg.PRESENCE, body)
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

    async def broadcast(self) -> dict[str, WaitStatus]:
        """Push moved positions and estimates, and the officers' view; returns the statuses.

        Serialised, so a slow push never overtakes a newer one."""
        async with self._broadcasting:
            snapshot = await self.store.snapshot()
            statuses = wait_statuses(snapshot)
            for record_id, status in changed_statuses(self._last, statuses).items():
                await self.notifier.to_participant(
                    record_id, msg.QUEUE_STATUS, msg.queue_status(status, self.offer_wait_seconds)
                )
            self._last = statuses
            view = msg.queue_view(officer_view(snapshot, self.now()))
            await self.notifier.to_officers(msg.QUEUE_VIEW, view)
        return statuses

    # -- faults ---------------------------------------------------------------------------

    async def connections_lost(self, node_id: str) -> None:
        for who in await self.store.drop_node_connections(node_id):
            kind, _, ident = who.partition(":")
            logger.info("%s %s: connection lost with node %s", kind, ident, node_id)
            if kind == "officer":
                await self._officer_away(ident)
            else:
                await self._participant_away(ident)

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


def _participant(record_id: str) -> str:
    return f"participant:{record_id}"


def _officer(officer_id: str) -> str:
    return f"officer:{officer_id}"
