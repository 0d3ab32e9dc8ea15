"""What the appointment service needs from the outside (``AppointmentStore``: SQL in
``videocall/adapters/sql_appointments.py``) and what the call desk needs from the appointment
service (``BookingDesk``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from videocall.appointments import Appointment, WeeklyPlan
from videocall.queue import Lane
from videocall.records import DomainEvent


@dataclass(frozen=True, slots=True)
class UpcomingRow:
    appointment: Appointment
    participant_name: str | None


class AppointmentStore(Protocol):
    """Bookings, the per-slot counters, the weekly plan and the reminders sent. Every change
    writes its outbox event (and a history note on the record) in the same transaction."""

    async def plan(self) -> dict[tuple[int, int], int]: ...

    async def replace_plan(self, plan: WeeklyPlan, *, actor: str, now: datetime) -> None:
        """Replace the whole plan; the change is kept with its actor."""

    async def booked(self, start: datetime, end: datetime) -> dict[datetime, int]:
        """Bookings counted per slot start, for slots starting in [start, end)."""

    async def book(self, appointment: Appointment, capacity: int, event: DomainEvent) -> None:
        """Take one place of the slot, atomically: Conflict ``slot_full`` when ``capacity``
        places are taken, ``appointment_exists`` when the record has a live booking."""

    async def get(self, appointment_id: str) -> Appointment:
        """NotFound ``appointment_not_found``."""

    async def live(self, record_id: str) -> Appointment | None:
        """The record's booked appointment, if any."""

    async def latest(self, record_id: str) -> Appointment | None:
        """The record's most recently booked appointment, whatever its status."""

    async def of_record(self, record_id: str) -> list[Appointment]:
        """Every appointment the record ever booked, oldest first (the data export)."""

    async def release(
        self,
        appointment: Appointment,
        *,
        status: str,
        actor: str,
        now: datetime,
        event: DomainEvent,
    ) -> Appointment | None:
        """Booked -> ``cancelled`` or ``missed``: the place is freed. None when it was no
        longer booked (someone else released it first)."""

    async def attend(self, appointment_id: str, now: datetime) -> bool:
        """Booked -> attended (the place stays used); False if it was not booked."""

    async def upcoming(self, since: datetime, limit: int) -> list[UpcomingRow]:
        """Booked appointments starting from ``since``, earliest first."""

    async def booked_between(self, start: datetime, end: datetime) -> list[Appointment]:
        """Booked appointments starting in [start, end), with the reminders sent."""

    async def remind(self, appointment_id: str, kind: str, event: DomainEvent) -> bool:
        """Note reminder ``kind`` as sent and write its event, once: False if it was sent."""


class BookingDesk(Protocol):
    """What the call desk asks when someone joins the queue."""

    async def lane_on_join(self, record_id: str, now: datetime) -> Lane:
        """The priority lane inside a booking's join window (the booking is then attended)."""

    async def paired(self, record_id: str, now: datetime) -> None:
        """The participant was paired with an officer: their booking, if any, is attended."""
