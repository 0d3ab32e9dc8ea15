"""Request and response bodies of the appointments API (``web/appointments_api.py``), for
validation and the OpenAPI document. Times are ISO 8601 UTC strings ending in ``Z``; local
dates and times are in the zone the answer names."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Zone = Literal["Asia/Jakarta", "Asia/Makassar", "Asia/Jayapura"]
ZoneLabel = Literal["WIB", "WITA", "WIT"]
UTC_TIME = "ISO 8601 UTC, e.g. 2026-11-26T01:00:00Z"


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class BookIn(Strict):
    start: str = Field(min_length=1, max_length=40, description=UTC_TIME + " (or with an offset)")
    zone: str | None = Field(default=None, max_length=40, description="default: the NIK's")


class PlanEntry(Strict):
    weekday: int = Field(ge=0, le=6, description="0 = Monday")
    hour: int = Field(ge=0, le=23)
    officers: int = Field(ge=0, le=1000)


class PlanIn(Strict):
    plan: list[PlanEntry] = Field(max_length=7 * 24)


class PlanOut(BaseModel):
    plan: list[PlanEntry]


class SlotOut(BaseModel):
    start: str = Field(description=UTC_TIME)
    end: str
    local_start: str = Field(description="HH:MM in the answer's zone")
    local_end: str
    free: int


class SlotDayOut(BaseModel):
    date: str = Field(description="local date, YYYY-MM-DD")
    slots: list[SlotOut]


class SlotsOut(BaseModel):
    zone: Zone
    zone_label: ZoneLabel
    slot_minutes: int
    days: list[SlotDayOut]


class AppointmentOut(BaseModel):
    id: str
    start: str = Field(description=UTC_TIME)
    end: str
    status: Literal["booked", "cancelled", "missed", "attended"]
    zone: Zone
    zone_label: ZoneLabel
    local_date: str
    local_start: str
    local_end: str
    join_from: str = Field(description="the priority lane opens (UTC)")
    join_until: str = Field(description="after this the booking is missed (UTC)")
    can_join_now: bool
    ics_url: str


class MineOut(BaseModel):
    appointment: AppointmentOut | None


class AppointmentEnvelope(BaseModel):
    appointment: AppointmentOut


class UpcomingItem(BaseModel):
    id: str
    start: str
    local_start: str
    local_date: str
    participant_name: str | None
    record_id: str
    status: Literal["booked"]


class UpcomingOut(BaseModel):
    zone: str
    zone_label: str
    appointments: list[UpcomingItem]


class CapacitySlot(BaseModel):
    start: str
    local_start: str
    capacity: int
    booked: int


class CapacityDay(BaseModel):
    date: str
    slots: list[CapacitySlot]


class CapacityOut(BaseModel):
    zone: str
    zone_label: str
    slot_minutes: int
    days: list[CapacityDay]
