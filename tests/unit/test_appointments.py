"""Appointment rules, pure: the slot grid from service hours, holidays and the plan; zones from
the NIK, across a day boundary; booking limits; the join window and no-shows; reminders; .ics."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from videocall.app import messages as msg
from videocall.appointment_ics import calendar, escape_text, fold
from videocall.appointments import (
    Appointment,
    AppointmentRules,
    Slot,
    Status,
    booking_offered,
    check_bookable,
    day_slots,
    event,
    find_slot,
    local_day_range,
    parse_start,
    parse_zone,
    plan_items,
    slots_between,
    validate_plan,
    zone_for_nik,
    zone_for_province,
    zone_label,
)
from videocall.errors import Conflict, ValidationError
from videocall.hours import OutsideServiceHours, ServiceHours
from videocall.queue import Lane, WaitStatus

RULES = AppointmentRules()
WIB = ZoneInfo("Asia/Jakarta")
OFFICE = ServiceHours.parse("mon-fri 08:00-16:00")
EVENINGS = ServiceHours.parse("mon-sun 20:00-24:00")
EVERY_HOUR = {(d, h): 2 for d in range(7) for h in range(24)}
TUESDAY = date(2026, 11, 24)
NOW = datetime(2026, 11, 24, 3, 0, tzinfo=UTC)  # Tuesday 10:00 WIB


def wib(day: int, hour: int, minute: int = 0, month: int = 11) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=WIB).astimezone(UTC)


def _appointment(start: datetime, booked_at: datetime, **kw: object) -> Appointment:
    values: dict[str, object] = {
        "id": "apt-1",
        "record_id": "rec-1",
        "start": start,
        "end": start + RULES.slot,
        "status": Status.BOOKED,
        "zone": "Asia/Jakarta",
        "booked_at": booked_at,
        "updated_at": booked_at,
    }
    values.update(kw)
    return Appointment(**values)  # type: ignore[arg-type]


# -- zones ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("province", "zone"),
    [
        (11, "Asia/Jakarta"),  # Aceh
        (32, "Asia/Jakarta"),  # Jawa Barat
        (61, "Asia/Jakarta"),  # Kalimantan Barat
        (62, "Asia/Jakarta"),  # Kalimantan Tengah
        (51, "Asia/Makassar"),  # Bali
        (53, "Asia/Makassar"),  # NTT
        (64, "Asia/Makassar"),  # Kalimantan Timur
        (73, "Asia/Makassar"),  # Sulawesi Selatan
        (81, "Asia/Jayapura"),  # Maluku
        (82, "Asia/Jayapura"),  # Maluku Utara
        (91, "Asia/Jayapura"),  # Papua
        (94, "Asia/Jayapura"),
    ],
)
def test_zone_from_the_province(province: int, zone: str) -> None:
    assert zone_for_province(province) == zone
    assert zone_for_nik(f"{province}01011001900001") == zone


def test_zones_named_and_chosen() -> None:
    assert [zone_label(z) for z in ("Asia/Jakarta", "Asia/Makassar", "Asia/Jayapura")] == [
        "WIB",
        "WITA",
        "WIT",
    ]
    assert parse_zone(None, "Asia/Jayapura") == "Asia/Jayapura"
    assert parse_zone("", "Asia/Jayapura") == "Asia/Jayapura"
    assert parse_zone("WITA", "Asia/Jakarta") == "Asia/Makassar"
    assert parse_zone("Asia/Jakarta", "Asia/Jayapura") == "Asia/Jakarta"
    with pytest.raises(ValidationError) as exc:
        parse_zone("Asia/Singapore", "Asia/Jakarta")
    assert exc.value.code == "zone_unknown"


def test_start_times_need_an_offset() -> None:
    assert parse_start("2026-11-25T02:00:00Z") == wib(25, 9)
    assert parse_start("2026-11-25T09:00:00+07:00") == wib(25, 9)
    for bad in ("2026-11-25T02:00:00", "tomorrow", ""):
        with pytest.raises(ValidationError) as exc:
            parse_start(bad)
        assert exc.value.code == "invalid_field"


# -- the grid -------------------------------------------------------------------------------


def test_a_day_of_slots_inside_service_hours() -> None:
    plan = {(1, 9): 3, (1, 15): 1}
    slots = day_slots(TUESDAY, OFFICE, frozenset(), plan, RULES)
    assert len(slots) == 32  # 08:00-16:00, 15 minutes each
    assert (slots[0].start, slots[-1].end) == (wib(24, 8), wib(24, 16))
    assert [s.capacity for s in slots[4:8]] == [3, 3, 3, 3]
    assert [s.capacity for s in slots[:4]] == [0, 0, 0, 0]  # unplanned
    assert slots[-1].capacity == 1
    assert day_slots(date(2026, 11, 28), OFFICE, frozenset(), plan, RULES) == []  # Saturday
    assert day_slots(TUESDAY, OFFICE, {TUESDAY}, plan, RULES) == []  # a public holiday


def test_slots_fit_whole_inside_odd_windows() -> None:
    hours = ServiceHours.parse("tue 08:10-11:30 13:00-13:40")
    starts = [
        s.start.astimezone(WIB).strftime("%H:%M")
        for s in day_slots(TUESDAY, hours, frozenset(), EVERY_HOUR, RULES)
    ]
    assert starts[:2] == ["08:15", "08:30"]  # the first whole slot after 08:10
    assert starts[-3:] == ["11:15", "13:00", "13:15"]
    assert "13:30" not in starts  # would end after 13:40
    thirty = AppointmentRules(slot_minutes=30)
    assert len(day_slots(TUESDAY, OFFICE, frozenset(), EVERY_HOUR, thirty)) == 16
    with pytest.raises(ValueError, match="divide a day"):
        AppointmentRules(slot_minutes=7)


def test_always_open_still_has_no_slots_on_holidays() -> None:
    always = ServiceHours.parse("always")
    assert len(day_slots(TUESDAY, always, frozenset(), EVERY_HOUR, RULES)) == 96
    assert day_slots(TUESDAY, always, {TUESDAY}, EVERY_HOUR, RULES) == []


def test_a_day_boundary_across_zones_and_a_holiday() -> None:
    """23:00 WIB is 01:00 WIT the next day: a WIT participant's 25 December holds the desk's
    24 December evening, and the desk's holiday (25 December) empties WIT's 26th."""
    christmas = {date(2026, 12, 25)}
    plan = {(d, 23): 1 for d in range(7)}

    def local_starts(first: date, days: int, tz: str) -> dict[str, list[str]]:
        start, end = local_day_range(first, days, tz)
        out: dict[str, list[str]] = {}
        for slot in slots_between(start, end, EVENINGS, christmas, plan, RULES):
            local = slot.start.astimezone(ZoneInfo(tz))
            if slot.capacity:
                out.setdefault(local.date().isoformat(), []).append(local.strftime("%H:%M"))
        return out

    wit = local_starts(date(2026, 12, 24), 3, "Asia/Jayapura")
    assert wit == {
        "2026-12-24": ["01:00", "01:15", "01:30", "01:45"],
        "2026-12-25": ["01:00", "01:15", "01:30", "01:45"],
    }
    wib_days = local_starts(date(2026, 12, 24), 3, "Asia/Jakarta")
    assert wib_days == {
        "2026-12-24": ["23:00", "23:15", "23:30", "23:45"],
        "2026-12-26": ["23:00", "23:15", "23:30", "23:45"],
    }
    wita = local_starts(date(2026, 12, 25), 1, "Asia/Makassar")
    assert wita == {"2026-12-25": ["00:00", "00:15", "00:30", "00:45"]}
    christmas_eve = datetime(2026, 12, 24, 23, 0, tzinfo=WIB).astimezone(UTC)
    assert find_slot(christmas_eve, EVENINGS, christmas, plan, RULES) is not None
    assert find_slot(christmas_eve + timedelta(days=1), EVENINGS, christmas, plan, RULES) is None


def test_booking_limits() -> None:
    plan = {(2, 9): 1}
    slot = find_slot(wib(25, 9), OFFICE, frozenset(), plan, RULES)
    assert slot is not None and check_bookable(wib(25, 9), NOW, slot, RULES) == slot
    cases = {
        NOW: ("slot_in_past", slot),
        NOW - timedelta(minutes=15): ("slot_in_past", slot),
        NOW + timedelta(days=14, minutes=15): ("slot_beyond_window", slot),
        wib(25, 9, 5): ("slot_not_offered", None),
        wib(25, 10): ("slot_not_offered", Slot(wib(25, 10), wib(25, 10, 15), 0)),
    }
    for start, (code, candidate) in cases.items():
        with pytest.raises(ValidationError) as exc:
            check_bookable(start, NOW, candidate, RULES)
        assert exc.value.code == code, start
    assert find_slot(wib(25, 9, 5), OFFICE, frozenset(), plan, RULES) is None
    edge = NOW + timedelta(days=14)  # exactly the window's end: still bookable
    assert check_bookable(edge, NOW, Slot(edge, edge + RULES.slot, 1), RULES)


def test_the_weekly_plan() -> None:
    plan = validate_plan([(0, 8, 2), (0, 9, 0), (6, 23, 1)])
    assert plan == {(0, 8): 2, (6, 23): 1}
    assert plan_items(plan) == [
        {"weekday": 0, "hour": 8, "officers": 2},
        {"weekday": 6, "hour": 23, "officers": 1},
    ]
    for bad in ([(7, 8, 1)], [(0, 24, 1)], [(0, 8, -1)], [(0, 8, 1), (0, 8, 2)]):
        with pytest.raises(ValidationError) as exc:
            validate_plan(bad)
        assert exc.value.code == "plan_invalid"


# -- the booking over time ------------------------------------------------------------------


def test_join_window_and_no_show() -> None:
    a = _appointment(wib(25, 9), NOW)
    assert a.join_window(RULES) == (wib(25, 8, 55), wib(25, 9, 15))
    assert not a.can_join(wib(25, 8, 54), RULES)
    assert a.can_join(wib(25, 8, 55), RULES) and a.can_join(wib(25, 9, 15), RULES)
    assert not a.can_join(wib(25, 9, 16), RULES)
    assert not a.is_missed(wib(25, 9, 15), RULES)
    assert a.is_missed(wib(25, 9, 15) + timedelta(seconds=1), RULES)
    attended = _appointment(wib(25, 9), NOW, status=Status.ATTENDED)
    assert attended.can_join(wib(25, 9, 10), RULES)  # a rejoin keeps the priority
    assert not attended.is_missed(wib(26, 9), RULES)
    cancelled = _appointment(wib(25, 9), NOW, status=Status.CANCELLED)
    assert not cancelled.can_join(wib(25, 9), RULES)
    with pytest.raises(Conflict) as exc:
        cancelled.check_active()
    assert exc.value.code == "appointment_not_active"
    view = a.public(wib(25, 8, 56), RULES, "Asia/Jayapura")
    assert (view["local_date"], view["local_start"], view["local_end"], view["zone_label"]) == (
        "2026-11-25",
        "11:00",
        "11:15",
        "WIT",
    )
    assert (view["start"], view["join_from"], view["can_join_now"]) == (
        "2026-11-25T02:00:00Z",
        "2026-11-25T01:55:00Z",
        True,
    )


def test_reminders_24h_and_1h() -> None:
    start = wib(26, 9)
    a = _appointment(start, start - timedelta(hours=47))
    assert a.due_reminder(start - timedelta(hours=24, seconds=1)) is None
    assert a.due_reminder(start - timedelta(hours=24)) == "24h"
    assert a.due_reminder(start - timedelta(hours=2)) == "24h"  # late, but before the 1 h one
    sent = _appointment(start, start - timedelta(hours=47), reminders_sent=frozenset({"24h"}))
    assert sent.due_reminder(start - timedelta(hours=2)) is None
    assert sent.due_reminder(start - timedelta(hours=1)) == "1h"
    assert a.due_reminder(start - timedelta(minutes=30)) == "1h"  # a server down all day: 1 h
    assert a.due_reminder(start) is None  # started: no reminder any more
    both = frozenset({"24h", "1h"})
    assert (
        _appointment(start, NOW, reminders_sent=both).due_reminder(start - timedelta(minutes=5))
        is None
    )
    # Booked 3 h ahead: the 24 h reminder's time had passed, only the 1 h one goes out.
    recent = _appointment(start, start - timedelta(hours=3))
    assert recent.due_reminder(start - timedelta(hours=2)) is None
    assert recent.due_reminder(start - timedelta(hours=1)) == "1h"
    # Booked 30 minutes ahead: none.
    late = _appointment(start, start - timedelta(minutes=30))
    assert late.due_reminder(start - timedelta(minutes=10)) is None
    cancelled = _appointment(start, NOW, status=Status.CANCELLED)
    assert cancelled.due_reminder(start - timedelta(hours=1)) is None


def test_events_carry_the_contracts_payload() -> None:
    a = _appointment(wib(26, 9), NOW, zone="Asia/Makassar")
    ev = event("reminder", a, NOW, before="1h")
    assert (ev.type, ev.record_id, ev.occurred_at) == ("appointment.reminder", "rec-1", NOW)
    assert ev.data == {
        "appointment_id": "apt-1",
        "start": "2026-11-26T02:00:00Z",
        "zone": "Asia/Makassar",
        "before": "1h",
    }


def test_booking_is_offered_on_a_long_or_unknown_wait() -> None:
    assert booking_offered(1801, 3, False, 1800)
    assert not booking_offered(1800, 3, False, 1800)
    assert booking_offered(None, 2, False, 1800)  # unknown, someone ahead
    assert not booking_offered(None, 1, False, 1800)
    assert not booking_offered(9999, 5, True, 1800)  # the priority lane is next anyway
    status = WaitStatus(position=4, estimated_wait_seconds=3600, lane=Lane.NORMAL)
    assert msg.queue_status(status, 1800)["booking_offered"] is True
    assert msg.queue_status(status)["booking_offered"] is False  # no appointments
    closed = OutsideServiceHours("closed", next_opening=None)
    assert msg.queue_closed(closed, booking=True)["booking_offered"] is True


# -- the calendar file ----------------------------------------------------------------------


def test_ics_is_utc_escaped_and_folded() -> None:
    a = _appointment(wib(26, 9), NOW, zone="Asia/Jayapura")
    text = calendar(a, NOW, RULES, reference="7K3M9QX8", url="https://verify.example.id/")
    lines = text.split("\r\n")
    assert text.endswith("\r\n") and "\n" not in text.replace("\r\n", "")
    assert lines[0] == "BEGIN:VCALENDAR" and lines[-2] == "END:VCALENDAR"
    assert "DTSTART:20261126T020000Z" in lines and "DTEND:20261126T021500Z" in lines
    assert "DTSTAMP:20261124T030000Z" in lines and "UID:apt-1@videocall" in lines
    assert all(len(line.encode()) <= 75 for line in lines)
    unfolded = text.replace("\r\n ", "")
    description = next(line for line in unfolded.split("\r\n") if line.startswith("DESCRIPTION"))
    assert "26-11-2026 11:00 WIT" in description
    assert "sebelum\\, dan" in description and "waktu mulai\\; setelah" in description
    assert "\\nNomor referensi: 7K3M9QX8" in description
    assert escape_text("a\\b;c,d\ne") == "a\\\\b\\;c\\,d\\ne"
    long = "DESCRIPTION:" + "é" * 80
    folded = fold(long)
    assert folded.replace("\r\n ", "") == long
    assert all(len(part.encode()) <= 75 for part in folded.split("\r\n"))
    cancelled = calendar(_appointment(wib(26, 9), NOW, status=Status.CANCELLED), NOW, RULES)
    assert "STATUS:CANCELLED" in cancelled.split("\r\n")
