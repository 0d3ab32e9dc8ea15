"""Appointments over HTTP (issue 16; the contract: docs/appointments.md).

Participants (bearer token): free slots, their booking, book, cancel, the .ics file. Staff
(session cookie): the next booked participants (officers and supervisors), bookings against
capacity and the weekly plan (supervisors). The service is built here, at start-up, and put on
``keys.APPOINTMENTS`` for the call desk and the ticker (``server.py``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date
from typing import Any

from aiohttp import web

from videocall.accounts import Role
from videocall.adapters.sql_appointments import SqlAppointments
from videocall.app.appointments import AppointmentService
from videocall.appointments import AppointmentRules
from videocall.errors import ValidationError
from videocall.hours import ServiceHours
from videocall.settings import Settings
from web import keys
from web.api_records import api
from web.appointments_schemas import (
    AppointmentEnvelope,
    BookIn,
    CapacityOut,
    MineOut,
    PlanIn,
    PlanOut,
    SlotsOut,
    UpcomingOut,
)
from web.auth import participant_record_id, require_staff
from web.openapi import read_json
from web.webhooks_api import wake_worker

MAX_QUERY_CHARS = 40


def _query(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "description": description,
        "schema": schema,
    }


ZONE_PARAM = _query(
    "zone",
    {"type": "string", "enum": ["Asia/Jakarta", "Asia/Makassar", "Asia/Jayapura"]},
    "show times in this zone (default: from the NIK's province)",
)
FROM_PARAM = _query("from", {"type": "string", "format": "date"}, "first local day (YYYY-MM-DD)")


def _days_param(most: int) -> dict[str, Any]:
    return _query("days", {"type": "integer", "minimum": 1, "maximum": most}, "number of days")


def _text(request: web.Request, name: str) -> str | None:
    value = request.query.get(name)
    if value is not None and len(value) > MAX_QUERY_CHARS:
        raise ValidationError(f"{name} is too long", code="invalid_field", field=name)
    return value


def _date(request: web.Request, name: str) -> date | None:
    value = _text(request, name)
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ValidationError(
            f"{name} must be YYYY-MM-DD", code="invalid_field", field=name
        ) from None


def _int(request: web.Request, name: str, default: int | None = None) -> int | None:
    value = _text(request, name)
    if not value:
        return default
    if not value.isdigit():
        raise ValidationError(f"{name} must be a number", code="invalid_field", field=name)
    return int(value)


def _service(request: web.Request) -> AppointmentService:
    return request.app[keys.APPOINTMENTS]


# -- participant ---------------------------------------------------------------------------------


@api.route(
    "GET",
    "/api/appointments/slots",
    summary="Free appointment slots per local day, in the participant's zone",
    tag="participant",
    response=SlotsOut,
    security="participant",
    params=[ZONE_PARAM, FROM_PARAM, _days_param(90)],
)
async def appointment_slots(request: web.Request) -> web.Response:
    record_id = participant_record_id(request)
    body = await _service(request).slots(
        record_id, _text(request, "zone"), _date(request, "from"), _int(request, "days")
    )
    return web.json_response(body)


@api.route(
    "GET",
    "/api/appointments/mine",
    summary="The participant's appointment (booked, or recently missed), or null",
    tag="participant",
    response=MineOut,
    security="participant",
    params=[ZONE_PARAM],
)
async def my_appointment(request: web.Request) -> web.Response:
    record_id = participant_record_id(request)
    return web.json_response(await _service(request).mine(record_id, _text(request, "zone")))


@api.route(
    "POST",
    "/api/appointments",
    summary="Book a slot (one live booking per participant)",
    tag="participant",
    response=AppointmentEnvelope,
    body=BookIn,
    status=201,
    security="participant",
)
async def book_appointment(request: web.Request) -> web.Response:
    record_id = participant_record_id(request)
    body = await read_json(request, BookIn)
    made = await _service(request).book(record_id, body.start, body.zone)
    wake_worker(request.app)  # appointment.booked is in the outbox
    return web.json_response(made, status=201)


@api.route(
    "POST",
    "/api/appointments/{appointment_id}/cancel",
    summary="Cancel one's booking (rebook: cancel, then book)",
    tag="participant",
    response=AppointmentEnvelope,
    security="participant",
    params=[ZONE_PARAM],
)
async def cancel_appointment(request: web.Request) -> web.Response:
    record_id = participant_record_id(request)
    done = await _service(request).cancel(
        record_id, request.match_info["appointment_id"], _text(request, "zone")
    )
    wake_worker(request.app)
    return web.json_response(done)


@api.route(
    "GET",
    "/api/appointments/{appointment_id}.ics",
    summary="One's appointment as an iCalendar file (UTC)",
    tag="participant",
    security="participant",
    raw_response="text/calendar",
)
async def appointment_ics(request: web.Request) -> web.Response:
    record_id = participant_record_id(request)
    url = request.app[keys.SETTINGS].effective_public_url + "/"
    name, text = await _service(request).ics(record_id, request.match_info["appointment_id"], url)
    return web.Response(
        body=text.encode(),
        headers={
            "Content-Type": "text/calendar; charset=utf-8",
            "Content-Disposition": f'attachment; filename="{name}"',
        },
    )


# -- staff ---------------------------------------------------------------------------------------


@api.route(
    "GET",
    "/api/appointments/upcoming",
    summary="The next booked participants, in the desk's zone",
    tag="staff",
    response=UpcomingOut,
    security="staff",
    params=[_query("limit", {"type": "integer", "minimum": 1, "maximum": 100}, "how many")],
)
async def upcoming_appointments(request: web.Request) -> web.Response:
    await require_staff(request, Role.OFFICER, Role.SUPERVISOR)
    limit = _int(request, "limit", 10)
    assert limit is not None
    return web.json_response(await _service(request).upcoming(limit))


@api.route(
    "GET",
    "/api/appointments/capacity",
    summary="Bookings against capacity per slot, in the desk's zone",
    tag="supervisor",
    response=CapacityOut,
    security="staff",
    params=[FROM_PARAM, _days_param(31)],
)
async def appointment_capacity(request: web.Request) -> web.Response:
    await require_staff(request, Role.SUPERVISOR)
    body = await _service(request).capacity(_date(request, "from"), _int(request, "days"))
    return web.json_response(body)


@api.route(
    "GET",
    "/api/appointments/plan",
    summary="The weekly plan: officers per weekday and hour",
    tag="supervisor",
    response=PlanOut,
    security="staff",
)
async def get_appointment_plan(request: web.Request) -> web.Response:
    await require_staff(request, Role.SUPERVISOR)
    return web.json_response(await _service(request).plan())


@api.route(
    "PUT",
    "/api/appointments/plan",
    summary="Replace the weekly plan (capacity of a slot = officers planned for its hour)",
    tag="supervisor",
    response=PlanOut,
    body=PlanIn,
    security="staff",
)
async def put_appointment_plan(request: web.Request) -> web.Response:
    account = await require_staff(request, Role.SUPERVISOR)
    body = await read_json(request, PlanIn)
    entries = [(e.weekday, e.hour, e.officers) for e in body.plan]
    return web.json_response(await _service(request).set_plan(entries, account.actor))


# -- wiring --------------------------------------------------------------------------------------


def rules_of(settings: Settings) -> AppointmentRules:
    return AppointmentRules(
        slot_minutes=settings.appointment_slot_minutes,
        window_days=settings.appointment_window_days,
        early_minutes=settings.appointment_early_minutes,
        grace_minutes=settings.appointment_grace_minutes,
        offer_wait_seconds=settings.appointment_offer_wait_seconds,
    )


async def _service_ctx(app: web.Application) -> AsyncIterator[None]:
    settings = app[keys.SETTINGS]
    app[keys.APPOINTMENTS] = AppointmentService(
        store=SqlAppointments(app[keys.DATABASE]),
        records=app[keys.RECORDS],
        clock=app[keys.CLOCK],
        hours=ServiceHours.parse(settings.service_hours, tz=settings.timezone),
        holidays=settings.holidays,
        rules=rules_of(settings),
    )
    yield


def install(app: web.Application) -> None:
    """Routes are on the shared registry; the service is built after the storage, before the
    call desk (which asks it for the lane)."""
    app.cleanup_ctx.append(_service_ctx)
