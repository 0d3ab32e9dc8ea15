"""Appointments: booking a time for the video call (issue 16). Pure: time is always passed in.

The grid: the desk's service hours (``videocall.hours``, in the desk's zone) cut into slots of
``slot_minutes``; no slot on a public holiday. A slot's capacity is the number of officers the
weekly plan puts on its weekday and hour (one booked call per officer per slot); walk-ins use
what is left. A participant books one slot at a time, not in the past and not beyond the window;
joins the priority lane from ``early`` before the start to ``grace`` after it; a booking not
taken up by then is missed (released). Reminders go out 24 h and 1 h before the start.

Times are UTC inside; people see them in their zone, named: WIB, WITA or WIT, from the NIK's
province unless they choose another.
"""

from __future__ import annotations

import uuid
from collections.abc import Container, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from videocall.errors import Conflict, ValidationError
from videocall.hours import MINUTES_PER_DAY, ServiceHours
from videocall.records import DomainEvent

# -- zones --------------------------------------------------------------------------------------

ZONE_LABELS = {"Asia/Jakarta": "WIB", "Asia/Makassar": "WITA", "Asia/Jayapura": "WIT"}
DEFAULT_ZONE = "Asia/Jakarta"
# Provinces (NIK digits 1-2) east of WIB. Kalimantan Barat (61) and Tengah (62) are WIB.
_WITA_PROVINCES = frozenset({51, 52, 53, 63, 64, 65, 71, 72, 73, 74, 75, 76})
# Maluku (81), Maluku Utara (82) and every Papua province (91-96, present and future).
_WIT_FIRST_DIGIT = (8, 9)


def zone_for_province(province: int) -> str:
    """``Asia/Jakarta`` (WIB), ``Asia/Makassar`` (WITA) or ``Asia/Jayapura`` (WIT)."""
    if province in _WITA_PROVINCES:
        return "Asia/Makassar"
    if province // 10 in _WIT_FIRST_DIGIT:
        return "Asia/Jayapura"
    return DEFAULT_ZONE


def zone_for_nik(nik: str) -> str:
    """The zone of the NIK's province (WIB when the number is not readable)."""
    return zone_for_province(int(nik[:2])) if nik[:2].isdigit() else DEFAULT_ZONE


def parse_zone(raw: str | None, default: str) -> str:
    """A zone a participant may choose: one of Indonesia's three, by name or label."""
    if raw is None or raw == "":
        return default
    for name, label in ZONE_LABELS.items():
        if raw in (name, label):
            return name
    raise ValidationError(
        "zone must be Asia/Jakarta, Asia/Makassar or Asia/Jayapura", code="zone_unknown"
    )


def zone_label(tz: str) -> str:
    """``WIB`` / ``WITA`` / ``WIT``; other zones by their abbreviation."""
    return ZONE_LABELS.get(tz) or datetime(2000, 1, 1, tzinfo=ZoneInfo(tz)).tzname() or tz


def zone_info(tz: str) -> dict[str, str]:
    return {"zone": tz, "zone_label": zone_label(tz)}


def iso_z(moment: datetime) -> str:
    """``2026-11-26T01:00:00Z``: every time on the wire."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_start(raw: str) -> datetime:
    """An ISO 8601 time with its offset (``Z`` or ``+07:00``), as UTC."""
    try:
        moment = datetime.fromisoformat(raw)
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise ValidationError(
            "start must be an ISO 8601 time with Z or an offset",
            code="invalid_field",
            field="start",
        )
    return moment.astimezone(UTC)


# -- rules and the grid -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AppointmentRules:
    slot_minutes: int = 15
    window_days: int = 14
    early_minutes: int = 5
    grace_minutes: int = 15
    offer_wait_seconds: float = 1800.0

    def __post_init__(self) -> None:
        if not 1 <= self.slot_minutes <= 240 or MINUTES_PER_DAY % self.slot_minutes:
            raise ValueError("APPOINTMENT_SLOT_MINUTES must divide a day (e.g. 10, 15, 20, 30)")
        if self.window_days < 1 or self.early_minutes < 0 or self.grace_minutes < 0:
            raise ValueError("appointment window, early and grace must not be negative")

    @property
    def slot(self) -> timedelta:
        return timedelta(minutes=self.slot_minutes)

    @property
    def window(self) -> timedelta:
        return timedelta(days=self.window_days)

    @property
    def early(self) -> timedelta:
        return timedelta(minutes=self.early_minutes)

    @property
    def grace(self) -> timedelta:
        return timedelta(minutes=self.grace_minutes)


# (weekday 0 = Monday, hour 0-23) -> officers planned
WeeklyPlan = Mapping[tuple[int, int], int]
MAX_OFFICERS = 1000


def validate_plan(entries: Iterable[tuple[int, int, int]]) -> dict[tuple[int, int], int]:
    """``(weekday, hour, officers)`` triples -> the plan; each hour at most once."""
    plan: dict[tuple[int, int], int] = {}
    for weekday, hour, officers in entries:
        if not 0 <= weekday <= 6 or not 0 <= hour <= 23 or not 0 <= officers <= MAX_OFFICERS:
            raise ValidationError(
                "weekday 0-6, hour 0-23 and officers 0-1000", code="plan_invalid", field="plan"
            )
        if (weekday, hour) in plan:
            raise ValidationError(
                f"weekday {weekday} hour {hour} is listed twice", code="plan_invalid", field="plan"
            )
        if officers:
            plan[(weekday, hour)] = officers
    return plan


def plan_items(plan: WeeklyPlan) -> list[dict[str, int]]:
    return [{"weekday": d, "hour": h, "officers": n} for (d, h), n in sorted(plan.items()) if n]


@dataclass(frozen=True, slots=True)
class Slot:
    start: datetime  # UTC
    end: datetime
    capacity: int


def _day_windows(day: date, hours: ServiceHours) -> list[tuple[int, int]]:
    if hours.always:
        return [(0, MINUTES_PER_DAY)]
    return [(w.opens, w.closes) for w in hours.windows if w.weekday == day.weekday()]


def day_slots(
    day: date,
    hours: ServiceHours,
    holidays: Container[date],
    plan: WeeklyPlan,
    rules: AppointmentRules,
) -> list[Slot]:
    """The slots of one desk-local day, in order: whole slots inside the service windows, none
    on a holiday (with ``always`` hours too: nobody is planned on a holiday)."""
    if day in holidays:
        return []
    zone = hours.zone
    slots: list[Slot] = []
    for opens, closes in _day_windows(day, hours):
        minute = -(-opens // rules.slot_minutes) * rules.slot_minutes  # first boundary >= opens
        while minute + rules.slot_minutes <= closes:
            local = datetime.combine(day, time(0), tzinfo=zone) + timedelta(minutes=minute)
            start = local.astimezone(UTC)
            capacity = plan.get((day.weekday(), minute // 60), 0)
            slots.append(Slot(start, start + rules.slot, capacity))
            minute += rules.slot_minutes
    return slots


def slots_between(
    start: datetime,
    end: datetime,
    hours: ServiceHours,
    holidays: Container[date],
    plan: WeeklyPlan,
    rules: AppointmentRules,
) -> list[Slot]:
    """Every slot starting in [start, end), whatever the zone the range was cut in."""
    first = start.astimezone(hours.zone).date() - timedelta(days=1)
    last = end.astimezone(hours.zone).date() + timedelta(days=1)
    slots: list[Slot] = []
    day = first
    while day <= last:
        slots.extend(
            s for s in day_slots(day, hours, holidays, plan, rules) if start <= s.start < end
        )
        day += timedelta(days=1)
    return slots


def local_day_range(first: date, days: int, tz: str) -> tuple[datetime, datetime]:
    """[midnight of ``first``, midnight ``days`` later) in zone ``tz``, as UTC."""
    zone = ZoneInfo(tz)
    start = datetime.combine(first, time(0), tzinfo=zone).astimezone(UTC)
    end = datetime.combine(first + timedelta(days=days), time(0), tzinfo=zone).astimezone(UTC)
    return start, end


def find_slot(
    start: datetime,
    hours: ServiceHours,
    holidays: Container[date],
    plan: WeeklyPlan,
    rules: AppointmentRules,
) -> Slot | None:
    """The slot starting exactly at ``start``, or None (not a boundary, closed, holiday)."""
    day = start.astimezone(hours.zone).date()
    return next((s for s in day_slots(day, hours, holidays, plan, rules) if s.start == start), None)


def check_bookable(
    start: datetime, now: datetime, slot: Slot | None, rules: AppointmentRules
) -> Slot:
    """The slot a participant may book at ``start``, or the reason why not (422)."""
    if start <= now:
        raise ValidationError("that time has passed", code="slot_in_past", field="start")
    if start > now + rules.window:
        raise ValidationError(
            f"bookings open {rules.window_days} days ahead",
            code="slot_beyond_window",
            field="start",
        )
    if slot is None or slot.capacity <= 0:
        raise ValidationError(
            "no appointment is offered at that time", code="slot_not_offered", field="start"
        )
    return slot


def booking_offered(
    estimated_wait_seconds: int | None, position: int, priority: bool, threshold: float
) -> bool:
    """Offer booking instead of waiting: a long (or unknown, with people ahead) wait. Not to
    someone in the priority lane: they are next anyway."""
    if priority:
        return False
    if estimated_wait_seconds is None:
        return position > 1
    return estimated_wait_seconds > threshold


# -- the appointment ----------------------------------------------------------------------------


class Status(StrEnum):
    BOOKED = "booked"
    CANCELLED = "cancelled"
    MISSED = "missed"
    ATTENDED = "attended"


# Reminders, longest lead first: sent once each, when due.
REMINDERS = (("24h", timedelta(hours=24)), ("1h", timedelta(hours=1)))


@dataclass(frozen=True, slots=True)
class Appointment:
    id: str
    record_id: str
    start: datetime
    end: datetime
    status: Status
    zone: str  # the participant's zone when booking (events, .ics description)
    booked_at: datetime
    updated_at: datetime
    reminders_sent: frozenset[str] = field(default_factory=frozenset)

    @classmethod
    def new(cls, record_id: str, slot: Slot, zone: str, now: datetime) -> Appointment:
        return cls(
            str(uuid.uuid4()), record_id, slot.start, slot.end, Status.BOOKED, zone, now, now
        )

    def join_window(self, rules: AppointmentRules) -> tuple[datetime, datetime]:
        return self.start - rules.early, self.start + rules.grace

    def can_join(self, now: datetime, rules: AppointmentRules) -> bool:
        """Priority lane: booked (or already attended: a rejoin) and inside the window."""
        opens, closes = self.join_window(rules)
        return self.status in (Status.BOOKED, Status.ATTENDED) and opens <= now <= closes

    def is_missed(self, now: datetime, rules: AppointmentRules) -> bool:
        """Still booked after the window: a no-show, released."""
        return self.status is Status.BOOKED and now > self.start + rules.grace

    def check_active(self) -> None:
        if self.status is not Status.BOOKED:
            raise Conflict("that appointment is no longer booked", code="appointment_not_active")

    def due_reminder(self, now: datetime) -> str | None:
        """The reminder to send now, if any. Each goes out once, from its due time until the
        next one is due (a late server sends only the latest); none to a booking made after its
        due time (booked 3 h ahead: the 1 h reminder only) and none once the call has started."""
        if self.status is not Status.BOOKED or now >= self.start:
            return None
        for i, (name, lead) in enumerate(REMINDERS):
            due = self.start - lead
            following = self.start - REMINDERS[i + 1][1] if i + 1 < len(REMINDERS) else self.start
            if due <= now < following and self.booked_at < due and name not in self.reminders_sent:
                return name
        return None

    def public(
        self, now: datetime, rules: AppointmentRules, tz: str | None = None
    ) -> dict[str, Any]:
        """The participant's view (APPT in the contract), in ``tz`` (default: the booking's)."""
        zone = tz or self.zone
        local_start = self.start.astimezone(ZoneInfo(zone))
        local_end = self.end.astimezone(ZoneInfo(zone))
        opens, closes = self.join_window(rules)
        return {
            "id": self.id,
            "start": iso_z(self.start),
            "end": iso_z(self.end),
            "status": self.status.value,
            **zone_info(zone),
            "local_date": local_start.date().isoformat(),
            "local_start": local_start.strftime("%H:%M"),
            "local_end": local_end.strftime("%H:%M"),
            "join_from": iso_z(opens),
            "join_until": iso_z(closes),
            "can_join_now": self.status is Status.BOOKED and opens <= now <= closes,
            "ics_url": f"/api/appointments/{self.id}.ics",
        }


def event(kind: str, appointment: Appointment, now: datetime, **extra: Any) -> DomainEvent:
    """``appointment.<kind>`` for the outbox: {record_id, appointment_id, start, zone, ...}."""
    data = {
        "appointment_id": appointment.id,
        "start": iso_z(appointment.start),
        "zone": appointment.zone,
        **extra,
    }
    return DomainEvent(str(uuid.uuid4()), f"appointment.{kind}", appointment.record_id, now, data)
