"""Appointments over real HTTP on SQLite and PostgreSQL: the plan and capacity, booking rules,
cancel and rebook, 50 participants on 10 places at once, zones across a day boundary and a
holiday, reminders exactly once across a restart, and the no-show release.

The test clock starts on Tuesday 24 November 2026, 03:00 UTC (10:00 WIB)."""

from __future__ import annotations

import asyncio
import io
import json
import zipfile
from collections import Counter
from datetime import UTC, datetime

from tests.integration.appointments_support import (
    Factory,
    Person,
    events,
    history_actions,
    put_plan,
    ready_person,
    staff_cookie,
)
from tests.support import SettableClock
from videocall.accounts import Role
from web.appointments_schemas import AppointmentEnvelope, CapacityOut, SlotsOut, UpcomingOut

OFFICE = {"service_hours": "mon-fri 08:00-16:00"}
WED_0900 = "2026-11-25T02:00:00Z"  # Wednesday 09:00 WIB


async def test_plan_slots_book_cancel_rebook(app_factory: Factory) -> None:
    client = await app_factory(**OFFICE)
    boss = await staff_cookie(client, "kepala", Role.SUPERVISOR)
    officer = await staff_cookie(client, "petugas", Role.OFFICER)
    plan = [
        {"weekday": 1, "hour": 10, "officers": 1},
        {"weekday": 2, "hour": 9, "officers": 2},
        {"weekday": 2, "hour": 10, "officers": 1},
    ]
    assert await put_plan(client, boss, plan) == {"plan": plan}
    resp = await client.get("/api/appointments/plan", headers=boss)
    assert (await resp.json()) == {"plan": plan}
    assert (await client.get("/api/appointments/plan", headers=officer)).status == 403
    bad = await client.put(
        "/api/appointments/plan", json={"plan": [plan[0], plan[0]]}, headers=boss
    )
    assert ((await bad.json())["error"]["code"], bad.status) == ("plan_invalid", 422)

    a, b, c = [await ready_person(client, f"Peserta {n}") for n in "ABC"]
    slots = await a.get("/api/appointments/slots")
    assert (slots["zone"], slots["zone_label"], slots["slot_minutes"]) == (
        "Asia/Jakarta",
        "WIB",
        15,
    )
    assert len(slots["days"]) == 15 and slots["days"][0]["date"] == "2026-11-24"
    today, wednesday = slots["days"][0]["slots"], slots["days"][1]["slots"]
    # 10:00 is now (not after now): only the later slots of the hour today.
    assert [s["local_start"] for s in today] == ["10:15", "10:30", "10:45"]
    assert [(s["local_start"], s["free"]) for s in wednesday[:5]] == [
        ("09:00", 2),
        ("09:15", 2),
        ("09:30", 2),
        ("09:45", 2),
        ("10:00", 1),
    ]
    assert wednesday[0] == {
        "start": WED_0900,
        "end": "2026-11-25T02:15:00Z",
        "local_start": "09:00",
        "local_end": "09:15",
        "free": 2,
    }
    # Tue 24 (3 left), Wed 25, Tue 1, Wed 2, and Tue 8 up to the window's end (10:00 WIB).
    assert [len(d["slots"]) for d in slots["days"] if d["slots"]] == [3, 8, 4, 8, 1]

    made = (await a.book(WED_0900))["appointment"]
    assert {k: made[k] for k in ("start", "end", "status", "zone", "zone_label")} == {
        "start": WED_0900,
        "end": "2026-11-25T02:15:00Z",
        "status": "booked",
        "zone": "Asia/Jakarta",
        "zone_label": "WIB",
    }
    assert (made["local_date"], made["local_start"], made["local_end"]) == (
        "2026-11-25",
        "09:00",
        "09:15",
    )
    assert (made["join_from"], made["join_until"], made["can_join_now"]) == (
        "2026-11-25T01:55:00Z",
        "2026-11-25T02:15:00Z",
        False,
    )
    assert made["ics_url"] == f"/api/appointments/{made['id']}.ics"
    assert (await a.get("/api/appointments/mine"))["appointment"] == made
    AppointmentEnvelope.model_validate({"appointment": made})  # as documented in the spec
    SlotsOut.model_validate(slots)
    await b.book(WED_0900)
    full = await c.book(WED_0900, status=409)
    assert full["error"]["code"] == "slot_full"
    assert (await a.book("2026-11-25T03:00:00Z", status=409))["error"]["code"] == (
        "appointment_exists"
    )
    refusals = {
        "2026-11-24T02:00:00Z": "slot_in_past",
        "2026-12-09T02:00:00Z": "slot_beyond_window",  # a planned Wednesday, 15 days ahead
        "2026-11-25T02:05:00Z": "slot_not_offered",  # not a slot boundary
        "2026-11-26T02:00:00Z": "slot_not_offered",  # Thursday: nobody planned
        "2026-11-28T02:00:00Z": "slot_not_offered",  # Saturday: closed
    }
    for start, code in refusals.items():
        assert (await c.book(start, status=422))["error"]["code"] == code, start
    assert (await c.book("tomorrow", status=422))["error"]["code"] == "invalid_field"
    wed = (await a.get("/api/appointments/slots?from=2026-11-25&days=1"))["days"]
    assert [s["local_start"] for s in wed[0]["slots"]][:1] == ["09:15"]  # 09:00 is full

    # Staff: the next bookings, and bookings against capacity.
    resp = await client.get("/api/appointments/upcoming?limit=5", headers=officer)
    upcoming = await resp.json()
    UpcomingOut.model_validate(upcoming)
    assert upcoming["zone_label"] == "WIB"
    assert [
        (u["participant_name"], u["local_start"], u["local_date"]) for u in upcoming["appointments"]
    ] == [("Peserta A", "09:00", "2026-11-25"), ("Peserta B", "09:00", "2026-11-25")]
    resp = await client.get("/api/appointments/capacity?from=2026-11-25&days=1", headers=boss)
    capacity = await resp.json()
    CapacityOut.model_validate(capacity)
    first = capacity["days"][0]["slots"][0]
    assert first == {
        "start": "2026-11-25T01:00:00Z",
        "local_start": "08:00",
        "capacity": 0,
        "booked": 0,
    }
    at_nine = capacity["days"][0]["slots"][4]
    assert (at_nine["local_start"], at_nine["capacity"], at_nine["booked"]) == ("09:00", 2, 2)
    assert (await client.get("/api/appointments/capacity", headers=officer)).status == 403

    # The calendar file.
    resp = await client.get(made["ics_url"], headers=a.auth)
    assert resp.status == 200 and resp.content_type == "text/calendar"
    ics = await resp.text()
    assert "DTSTART:20261125T020000Z\r\n" in ics and "DTEND:20261125T021500Z\r\n" in ics
    assert "SUMMARY:Panggilan video verifikasi identitas\r\n" in ics
    assert "\\, " in ics and all(len(line.encode()) <= 75 for line in ics.split("\r\n"))
    assert (await client.get(made["ics_url"], headers=b.auth)).status == 404  # not hers

    # Cancel and rebook: the place goes to someone else.
    assert (await b.cancel(made["id"], status=404))["error"]["code"] == "appointment_not_found"
    cancelled = (await a.cancel(made["id"]))["appointment"]
    AppointmentEnvelope.model_validate({"appointment": cancelled})
    assert (cancelled["status"], cancelled["can_join_now"]) == ("cancelled", False)
    assert (await a.get("/api/appointments/mine")) == {"appointment": None}
    assert (await a.cancel(made["id"], status=409))["error"]["code"] == "appointment_not_active"
    await c.book(WED_0900)
    again = (await a.book("2026-11-25T03:00:00Z"))["appointment"]
    assert again["local_start"] == "10:00"

    kinds = [(t, d["appointment_id"]) for t, d in await events(client)]
    assert Counter(t for t, _ in kinds) == {"appointment.booked": 4, "appointment.cancelled": 1}
    booked_a = (await events(client))[0][1]
    assert {k: booked_a[k] for k in ("appointment_id", "start", "zone")} == {
        "appointment_id": made["id"],
        "start": WED_0900,
        "zone": "Asia/Jakarta",
    }
    assert booked_a["reference"]
    assert await history_actions(client, a.record_id) == [
        "registered",
        "appointment_booked",
        "appointment_cancelled",
        "appointment_booked",
    ]

    # The participant's data export lists every booking, as the participant sees them.
    resp = await client.get("/api/me/export", headers=a.auth)
    assert resp.status == 200, await resp.text()
    with zipfile.ZipFile(io.BytesIO(await resp.read())) as bundle:
        exported = json.loads(bundle.read("data.json"))["appointments"]
    assert [(x["id"], x["status"], x["local_start"]) for x in exported] == [
        (made["id"], "cancelled", "09:00"),
        (again["id"], "booked", "10:00"),
    ]


async def test_fifty_participants_on_ten_places(app_factory: Factory) -> None:
    client = await app_factory(**OFFICE)
    boss = await staff_cookie(client, "kepala", Role.SUPERVISOR)
    await put_plan(client, boss, [{"weekday": 2, "hour": 9, "officers": 10}])
    people = await asyncio.gather(*(ready_person(client, f"P{i}") for i in range(50)))

    async def book(person: Person) -> tuple[int, str]:
        resp = await client.post("/api/appointments", json={"start": WED_0900}, headers=person.auth)
        body = await resp.json()
        return resp.status, body.get("error", {}).get("code", "")

    results = Counter(await asyncio.gather(*(book(p) for p in people)))
    assert results == {(201, ""): 10, (409, "slot_full"): 40}
    resp = await client.get("/api/appointments/capacity?from=2026-11-25&days=1", headers=boss)
    nine = next(s for s in (await resp.json())["days"][0]["slots"] if s["start"] == WED_0900)
    assert (nine["capacity"], nine["booked"]) == (10, 10)
    assert len(await events(client, "appointment.booked")) == 10


async def test_zones_across_a_day_boundary_and_a_holiday(
    app_factory: Factory, clock: SettableClock
) -> None:
    """Evening hours in WIB are the next morning in WIT; 25 December is a public holiday."""
    clock.current = datetime(2026, 12, 20, 3, 0, tzinfo=UTC)
    client = await app_factory(service_hours="mon-sun 20:00-24:00")
    boss = await staff_cookie(client, "kepala", Role.SUPERVISOR)
    await put_plan(client, boss, [{"weekday": d, "hour": 23, "officers": 1} for d in range(7)])
    papua = await ready_person(client, "Yosina", province="91")
    slots = await papua.get("/api/appointments/slots?from=2026-12-24&days=3")
    assert (slots["zone"], slots["zone_label"]) == ("Asia/Jayapura", "WIT")
    by_day = {d["date"]: [s["local_start"] for s in d["slots"]] for d in slots["days"]}
    # Wednesday 23 and Thursday 24 (WIB) evenings are the next WIT mornings; Friday 25 is a
    # holiday at the desk, so Saturday 26 (WIT) has nothing.
    assert by_day == {
        "2026-12-24": ["01:00", "01:15", "01:30", "01:45"],
        "2026-12-25": ["01:00", "01:15", "01:30", "01:45"],
        "2026-12-26": [],
    }
    jakarta = await papua.get("/api/appointments/slots?from=2026-12-24&days=3&zone=Asia/Jakarta")
    assert jakarta["zone_label"] == "WIB"
    assert [len(d["slots"]) for d in jakarta["days"]] == [4, 0, 4]
    bad = await papua.get("/api/appointments/slots?zone=Europe/Paris", status=422)
    assert bad["error"]["code"] == "zone_unknown"
    holiday = await papua.book("2026-12-25T16:00:00Z", status=422)  # Fri 25 23:00 WIB
    assert holiday["error"]["code"] == "slot_not_offered"
    made = (await papua.book("2026-12-24T16:00:00Z"))["appointment"]  # Thu 24 23:00 WIB
    assert (made["local_date"], made["local_start"], made["zone_label"]) == (
        "2026-12-25",
        "01:00",
        "WIT",
    )
    makassar = await ready_person(client, "Andi", province="73")
    mine = (await makassar.book("2026-12-24T16:15:00Z"))["appointment"]
    assert (mine["local_date"], mine["local_start"], mine["zone_label"]) == (
        "2026-12-25",
        "00:15",
        "WITA",
    )
    boss_view = await (await client.get("/api/appointments/upcoming", headers=boss)).json()
    assert [(u["local_date"], u["local_start"]) for u in boss_view["appointments"]] == [
        ("2026-12-24", "23:00"),
        ("2026-12-24", "23:15"),
    ]
    assert [d["zone"] for _, d in await events(client)] == ["Asia/Jayapura", "Asia/Makassar"]
