"""Appointments, the use cases: free slots, booking, cancelling, the staff's views, the weekly
plan, the priority lane at the booked time, and the reminders and no-shows the ticker runs.

The rules are pure (``videocall/appointments.py``); the store (``AppointmentStore``) makes each
change atomic with its outbox event.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from videocall import appointment_ics
from videocall.app.appointment_ports import AppointmentStore
from videocall.appointments import (
    Appointment,
    AppointmentRules,
    Slot,
    Status,
    check_bookable,
    event,
    find_slot,
    iso_z,
    local_day_range,
    parse_start,
    parse_zone,
    plan_items,
    slots_between,
    validate_plan,
    zone_for_nik,
    zone_info,
)
from videocall.clock import Clock
from videocall.errors import Conflict, NotFound, ValidationError
from videocall.hours import ServiceHours
from videocall.ports import RecordRepository
from videocall.queue import Lane
from videocall.records import RecordState

logger = logging.getLogger(__name__)

SYSTEM_ACTOR = "system"
MAX_UPCOMING = 100
MAX_CAPACITY_DAYS = 31
# How far back the no-show sweep looks (a server down for longer releases older ones too).
MISSED_LOOKBACK = timedelta(days=400)
# A missed booking stays on the participant's page this long (then the page offers a new one).
MISSED_SHOWN = timedelta(days=7)
# Someone waiting in the normal lane when their booking's window opens moves up.
Promote = Callable[[str], Awaitable[bool]]


class AppointmentService:
    def __init__(
        self,
        *,
        store: AppointmentStore,
        records: RecordRepository,
        clock: Clock,
        hours: ServiceHours,
        holidays: Iterable[date],
        rules: AppointmentRules,
    ) -> None:
        self.store = store
        self.records = records
        self.clock = clock
        self.hours = hours
        self.holidays = frozenset(holidays)
        self.rules = rules
        # Set by the composition root: moves a waiting participant to the priority lane
        # (returns whether they were waiting).
        self.promote: Promote | None = None

    def now(self) -> datetime:
        return self.clock.now()

    @property
    def desk_zone(self) -> str:
        return self.hours.tz

    async def _zone(self, record_id: str, raw: str | None) -> str:
        record = await self.records.get(record_id)
        return parse_zone(raw, zone_for_nik(record.nik))

    # -- participants ------------------------------------------------------------------------

    async def slots(
        self, record_id: str, zone_raw: str | None, first: date | None, days: int | None
    ) -> dict[str, Any]:
        """Free slots per local day in the participant's zone: today .. the window's end."""
        zone = await self._zone(record_id, zone_raw)
        now = self.now()
        first, days = self._range(now, zone, first, days, self.rules.window_days + 1)
        start, end = local_day_range(first, days, zone)
        plan = await self.store.plan()
        booked = await self.store.booked(start, end)
        latest = now + self.rules.window
        by_day: dict[str, list[dict[str, Any]]] = {
            (first + timedelta(days=i)).isoformat(): [] for i in range(days)
        }
        for slot in slots_between(start, end, self.hours, self.holidays, plan, self.rules):
            free = slot.capacity - booked.get(slot.start, 0)
            if free <= 0 or slot.start <= now or slot.start > latest:
                continue
            local_start, local_end = _local(slot.start, zone), _local(slot.end, zone)
            by_day[local_start.date().isoformat()].append(
                {
                    "start": iso_z(slot.start),
                    "end": iso_z(slot.end),
                    "local_start": local_start.strftime("%H:%M"),
                    "local_end": local_end.strftime("%H:%M"),
                    "free": free,
                }
            )
        return {
            **zone_info(zone),
            "slot_minutes": self.rules.slot_minutes,
            "days": [{"date": d, "slots": s} for d, s in by_day.items()],
        }

    def _range(
        self, now: datetime, zone: str, first: date | None, days: int | None, most: int
    ) -> tuple[date, int]:
        if days is not None and not 1 <= days <= most:
            raise ValidationError(f"days must be 1-{most}", code="invalid_field", field="days")
        return first or _local(now, zone).date(), days or most

    async def mine(self, record_id: str, zone_raw: str | None) -> dict[str, Any]:
        """The booked appointment; else a recently missed one (the page says so); else None."""
        zone = await self._zone(record_id, zone_raw)
        now = self.now()
        latest = await self.store.latest(record_id)
        if latest is None:
            return {"appointment": None}
        shown = latest.status is Status.BOOKED or (
            latest.status is Status.MISSED and now - latest.updated_at <= MISSED_SHOWN
        )
        return {"appointment": latest.public(now, self.rules, zone) if shown else None}

    async def of_record(self, record_id: str) -> list[dict[str, Any]]:
        """Every appointment of the record, as the participant sees it (their data export)."""
        zone = await self._zone(record_id, None)
        now = self.now()
        return [a.public(now, self.rules, zone) for a in await self.store.of_record(record_id)]

    async def book(self, record_id: str, start_raw: str, zone_raw: str | None) -> dict[str, Any]:
        record = await self.records.get(record_id)
        zone = parse_zone(zone_raw, zone_for_nik(record.nik))
        if record.state is not RecordState.READY_FOR_CALL:
            raise Conflict("finish the earlier steps first", code="not_ready_for_call")
        if await self.store.live(record_id) is not None:
            raise Conflict(
                "you already have an appointment; cancel it to book another",
                code="appointment_exists",
            )
        now = self.now()
        start = parse_start(start_raw)
        slot = await self._slot(start)
        check_bookable(start, now, slot, self.rules)
        assert slot is not None  # check_bookable refused a missing slot
        appointment = Appointment.new(record_id, slot, zone, now)
        await self.store.book(appointment, slot.capacity, event("booked", appointment, now))
        logger.info("record %s booked %s", record_id, iso_z(slot.start))
        return {"appointment": appointment.public(now, self.rules, zone)}

    async def _slot(self, start: datetime) -> Slot | None:
        return find_slot(start, self.hours, self.holidays, await self.store.plan(), self.rules)

    async def own(self, record_id: str, appointment_id: str) -> Appointment:
        """The participant's own appointment; someone else's is 404 as an unknown one."""
        try:
            appointment = await self.store.get(appointment_id)
        except NotFound:
            appointment = None
        if appointment is None or appointment.record_id != record_id:
            raise NotFound("no such appointment", code="appointment_not_found")
        return appointment

    async def cancel(
        self, record_id: str, appointment_id: str, zone_raw: str | None
    ) -> dict[str, Any]:
        appointment = await self.own(record_id, appointment_id)
        appointment.check_active()
        now = self.now()
        released = await self.store.release(
            appointment,
            status=Status.CANCELLED.value,
            actor="participant",
            now=now,
            event=event("cancelled", appointment, now),
        )
        if released is None:
            raise Conflict("that appointment is no longer booked", code="appointment_not_active")
        zone = await self._zone(record_id, zone_raw)
        return {"appointment": released.public(now, self.rules, zone)}

    async def ics(self, record_id: str, appointment_id: str, url: str) -> tuple[str, str]:
        """(file name, text/calendar body) of the participant's own appointment."""
        appointment = await self.own(record_id, appointment_id)
        record = await self.records.get(record_id)
        text = appointment_ics.calendar(
            appointment, self.now(), self.rules, reference=record.reference, url=url
        )
        return f"janji-temu-{_local(appointment.start, appointment.zone):%Y%m%d-%H%M}.ics", text

    # -- staff -------------------------------------------------------------------------------

    async def upcoming(self, limit: int) -> dict[str, Any]:
        """The next booked participants, from ``grace`` ago, in the desk's zone."""
        if not 1 <= limit <= MAX_UPCOMING:
            raise ValidationError(
                f"limit must be 1-{MAX_UPCOMING}", code="invalid_field", field="limit"
            )
        rows = await self.store.upcoming(self.now() - self.rules.grace, limit)
        items = []
        for row in rows:
            local = _local(row.appointment.start, self.desk_zone)
            items.append(
                {
                    "id": row.appointment.id,
                    "start": iso_z(row.appointment.start),
                    "local_start": local.strftime("%H:%M"),
                    "local_date": local.date().isoformat(),
                    "participant_name": row.participant_name,
                    "record_id": row.appointment.record_id,
                    "status": row.appointment.status.value,
                }
            )
        return {**zone_info(self.desk_zone), "appointments": items}

    async def capacity(self, first: date | None, days: int | None) -> dict[str, Any]:
        """Every slot of the desk's days with its capacity and places booked."""
        zone = self.desk_zone
        first, days = self._range(self.now(), zone, first, days or 7, MAX_CAPACITY_DAYS)
        start, end = local_day_range(first, days, zone)
        plan = await self.store.plan()
        booked = await self.store.booked(start, end)
        by_day: dict[str, list[dict[str, Any]]] = {
            (first + timedelta(days=i)).isoformat(): [] for i in range(days)
        }
        for slot in slots_between(start, end, self.hours, self.holidays, plan, self.rules):
            local = _local(slot.start, zone)
            by_day[local.date().isoformat()].append(
                {
                    "start": iso_z(slot.start),
                    "local_start": local.strftime("%H:%M"),
                    "capacity": slot.capacity,
                    "booked": booked.get(slot.start, 0),
                }
            )
        return {
            **zone_info(zone),
            "slot_minutes": self.rules.slot_minutes,
            "days": [{"date": d, "slots": s} for d, s in by_day.items()],
        }

    async def plan(self) -> dict[str, Any]:
        return {"plan": plan_items(await self.store.plan())}

    async def set_plan(self, entries: Iterable[tuple[int, int, int]], actor: str) -> dict[str, Any]:
        plan = validate_plan(entries)
        await self.store.replace_plan(plan, actor=actor, now=self.now())
        logger.info("appointment plan replaced by %s: %d hours planned", actor, len(plan))
        return {"plan": plan_items(plan)}

    # -- the call desk -----------------------------------------------------------------------

    async def lane_on_join(self, record_id: str, now: datetime) -> Lane:
        """Priority inside the booking's join window; the booking is attended from then on
        (joining again within the window keeps the priority)."""
        latest = await self.store.latest(record_id)
        if latest is None or not latest.can_join(now, self.rules):
            return Lane.NORMAL
        if latest.status is Status.BOOKED and await self.store.attend(latest.id, now):
            logger.info("record %s joined at its booked time %s", record_id, iso_z(latest.start))
        return Lane.PRIORITY

    async def paired(self, record_id: str, now: datetime) -> None:
        live = await self.store.live(record_id)
        if live is not None and await self.store.attend(live.id, now):
            logger.info("record %s paired: booking %s attended", record_id, live.id)

    # -- the ticker --------------------------------------------------------------------------

    async def tick(self) -> None:
        """Reminders that are due, participants already waiting whose window opened, no-shows."""
        now = self.now()
        await self._remind(now)
        await self._promote(now)
        await self._release_missed(now)

    async def _remind(self, now: datetime) -> None:
        horizon = now + timedelta(hours=24, minutes=1)
        for appointment in await self.store.booked_between(now, horizon):
            kind = appointment.due_reminder(now)
            if kind is None:
                continue
            reminder = event("reminder", appointment, now, before=kind)
            if await self.store.remind(appointment.id, kind, reminder):
                logger.info("reminder %s for appointment %s", kind, appointment.id)

    async def _promote(self, now: datetime) -> None:
        if self.promote is None:
            return
        early = now - self.rules.grace
        for appointment in await self.store.booked_between(early, now + self.rules.early):
            if appointment.can_join(now, self.rules) and await self.promote(appointment.record_id):
                await self.store.attend(appointment.id, now)

    async def _release_missed(self, now: datetime) -> None:
        cutoff = now - self.rules.grace
        for appointment in await self.store.booked_between(now - MISSED_LOOKBACK, cutoff):
            if not appointment.is_missed(now, self.rules):
                continue
            released = await self.store.release(
                appointment,
                status=Status.MISSED.value,
                actor=SYSTEM_ACTOR,
                now=now,
                event=event("missed", appointment, now),
            )
            if released is not None:
                logger.info("appointment %s missed: released", appointment.id)


def _local(moment: datetime, zone: str) -> datetime:
    return moment.astimezone(ZoneInfo(zone))
