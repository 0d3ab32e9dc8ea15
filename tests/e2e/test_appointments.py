"""Appointments (issue 16) in real Chromium: a participant on a phone (360 x 740) finds the desk
closed, books a slot in their own zone (WITA, named), downloads the .ics, cancels and rebooks;
at the booked time they join from the page ahead of a walk-in who was waiting earlier, and the
officer accepts; the supervisor plans officers and sees the booking against capacity, and the
officer's desk lists it.

The clock is the real one: the first test closes the desk for the whole of today (Jakarta), so
it is closed now and open the following days; the second keeps the desk open round the clock and
lets a booking be joined 20 minutes early (APPOINTMENT_EARLY_MINUTES), so the next slot (at most
15 minutes away) can be joined at once.
"""

from __future__ import annotations

import http.cookiejar
import importlib.util
import json
import re
import urllib.request
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Page, expect

from tests.e2e import journey, patient
from tests.e2e.conftest import OFFICER, SUPERVISOR, Server, Shots, photo_jpeg, run_server
from tests.e2e.test_phone_layout import assert_in_view, phone_page
from tests.e2e.test_resume import reject_and_close
from tests.e2e.test_staff_pages import log_in, staff_page
from tests.support import make_nik
from videocall.hours import DAY_NAMES

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(
        importlib.util.find_spec("web.appointments_api") is None,
        reason="the appointments API is not built yet",
    ),
]

DESK_ZONE = ZoneInfo("Asia/Jakarta")
PHONE = (360, 740)


def _server(request: pytest.FixtureRequest, tmp_path: Path, extra: dict[str, str]) -> Any:
    name = request.node.name.replace("[", "-").replace("]", "")
    return run_server(tmp_path / "data", extra, log_name=f"e2e-server-{name}.log")


@pytest.fixture
def closed_today_server(
    server: Server, request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[Server]:
    """The desk opens 08:00-16:00 on every day but today (in Jakarta): closed now, open later."""
    today = datetime.now(DESK_ZONE).weekday()
    days = ",".join(name for i, name in enumerate(DAY_NAMES) if i != today)
    with _server(request, tmp_path, {"SERVICE_HOURS": f"{days} 08:00-16:00"}) as s:
        yield s


@pytest.fixture
def early_join_server(
    server: Server, request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[Server]:
    """Open round the clock; a booking may be joined from 20 minutes before its start."""
    extra = {"SERVICE_HOURS": "always", "APPOINTMENT_EARLY_MINUTES": "20"}
    with _server(request, tmp_path, extra) as s:
        yield s


# -- helpers --------------------------------------------------------------------------------


def staff_api(server: Server, login: tuple[str, str]) -> Any:
    """A logged-in staff client (cookie) for set-up calls: call(method, path, body)."""
    opener = urllib.request.build_opener(
        urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
    )

    def call(method: str, path: str, body: Any = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        headers = {"Content-Type": "application/json"} if data else {}
        req = urllib.request.Request(server.url + path, data, headers, method=method)
        with opener.open(req, timeout=patient.TIMEOUT_S) as response:
            return json.loads(response.read() or b"null")

    call("POST", "/api/auth/login", {"username": login[0], "password": login[1]})
    return call


def ready(server: Server, nik: str, name: str) -> str:
    """A participant ready for the call (born 1990-01-01, female, as the NIK says): the token."""
    body = {"nik": nik, "mobile": "0812" + nik[-8:], "email": f"{nik}@example.id"}
    token = str(patient.api(server.url, "POST", "/api/participants", body)["token"])
    profile = {"full_name": name, "birth_date": "1990-01-01", "sex": "female"}
    patient.api(server.url, "PUT", "/api/me/profile", profile, token)
    for i, kind in enumerate(("ktp", "selfie_with_ktp", "face")):
        photo = photo_jpeg(seed=10 + i)
        patient.api(server.url, "PUT", f"/api/me/documents/{kind}", photo, token)
    patient.api(server.url, "POST", "/api/me/consent", None, token)
    return token


def available_officer(browser: Any, server: Server, waiting: int) -> Page:
    """An officer on the desk, available. Unlike test_resume's helper, it waits for the desk's
    first answer (the queue count) before choosing "available": an answer to the page's own
    "away" on connect that arrives after the click would undo it."""
    officer = staff_page(browser, server)
    officer.goto("/officer")
    log_in(officer, *OFFICER)
    expect(officer.locator("#desk-count")).to_have_text(str(waiting), timeout=15000)
    officer.locator("#presence-available").check()
    expect(officer.locator("#presence-state")).to_have_attribute("data-presence", "available")
    return officer


def nik(province: str) -> str:
    return make_nik(date(1990, 1, 1), female=True, province=province)


def fits_width(page: Page, selectors: list[str]) -> None:
    """No horizontal scrolling, and each element lies inside the viewport's width."""
    width = page.evaluate("() => [document.documentElement.scrollWidth, innerWidth]")
    assert width[0] <= width[1], width
    for selector in selectors:
        for i in range(page.locator(selector).count()):
            r = (
                page.locator(selector)
                .nth(i)
                .evaluate(
                    "e => { const r = e.getBoundingClientRect(); "
                    "return [r.left, r.right, r.width]; }"
                )
            )
            assert r[2] > 0 and r[0] >= 0 and r[1] <= width[1] + 0.5, (selector, i, r)


def ics_events(text: str) -> list[dict[str, str]]:
    """The VEVENTs of an iCalendar text (RFC 5545: CRLF lines, folded with a leading space)."""
    assert text.startswith("BEGIN:VCALENDAR"), text[:40]
    assert text.rstrip().endswith("END:VCALENDAR"), text[-40:]
    unfolded = re.sub(r"\r?\n[ \t]", "", text)
    events: list[dict[str, str]] = []
    current: dict[str, str] | None = None
    for line in unfolded.splitlines():
        if line == "BEGIN:VEVENT":
            current = {}
        elif line == "END:VEVENT" and current is not None:
            events.append(current)
            current = None
        elif current is not None and ":" in line:
            key, value = line.split(":", 1)
            current[key.split(";")[0]] = value
    return events


def utc(iso: str) -> datetime:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).astimezone(UTC)


def choose_slot(page: Page, day_index: int, slot_index: int) -> str:
    """Pick a day and one of its slots in the booking panel; returns the slot's start (UTC)."""
    page.locator("#booking-days .day").nth(day_index).click()
    slot = page.locator("#booking-slots .slot").nth(slot_index)
    start = str(slot.get_attribute("data-start"))
    slot.click()
    expect(slot).to_have_attribute("aria-pressed", "true")
    expect(page.locator("#booking-submit")).to_be_enabled()
    return start


# -- 1. the closed desk, on a phone -----------------------------------------------------------


def test_book_from_the_closed_desk_on_a_phone(
    closed_today_server: Server, browser: Any, shots: Shots
) -> None:
    server = closed_today_server
    every_day = [{"weekday": d, "hour": h, "officers": 2} for d in range(7) for h in range(8, 16)]
    staff_api(server, SUPERVISOR)("PUT", "/api/appointments/plan", {"plan": every_day})
    token = ready(server, nik("73"), "Andi Makassar")  # Sulawesi Selatan: WITA
    page = phone_page(browser, server.url, PHONE)
    errors = journey.collect_errors(page)
    journey.open_with_token(page, token)

    # Ready for the call: the pre-call check, with booking for later offered below it.
    expect(page.locator("#step-precheck")).to_be_visible()
    expect(page.locator("#booking-later")).to_be_visible()
    expect(page.locator("#booking-later-open")).to_have_text("Buat janji temu")
    shots(page, "precheck-later", full_page=True)
    journey.pass_precheck(page)
    page.locator("#precheck-next").click()

    # The desk is closed today: the queue page offers a booking, with the slots at once.
    expect(page.locator("#booking-offer")).to_be_visible(timeout=15000)
    expect(page.locator("#booking-offer-title")).to_have_text("Desk sedang tutup — buat janji temu")
    expect(page.locator("#queue-status")).to_contain_text("Layanan sedang tutup")
    assert_in_view(page, "#booking-offer-open")
    shots(page, "closed-offer", full_page=False)
    expect(page.locator("#booking-days .day").first).to_be_visible(timeout=15000)
    expect(page.locator("#booking-zone-help")).to_have_text("Semua jam ditampilkan dalam WITA.")
    assert page.locator("#booking-zone").input_value() == "Asia/Makassar"
    # When the desk opens (08:00 WIB), said in the participant's zone.
    expect(page.locator("#queue-status")).to_contain_text("09.00 WITA")
    # Today is closed; the first day offered is a later one, from 08:00 WIB = 09:00 WITA.
    first_day = page.locator("#booking-days .day").first.get_attribute("data-date")
    assert first_day and first_day > datetime.now(ZoneInfo("Asia/Makassar")).date().isoformat()
    first_slot = page.locator("#booking-slots .slot").first
    expect(first_slot).to_have_text("09:00–09:15 WITA")
    page.locator("#booking-offer-open").click()
    shots(page, "slots", full_page=False)
    fits_width(page, ["#booking-days .day", "#booking-slots .slot", "#booking-zone"])

    # Book the second day's first slot; the choice and the button stay in view (sticky).
    start = choose_slot(page, 1, 0)
    expect(page.locator("#booking-choice")).to_contain_text("09:00–09:15 WITA")
    assert_in_view(page, "#booking-submit")
    shots(page, "slot-chosen", full_page=False)  # docs/img/screenshots/participant-booking-slots
    page.locator("#booking-submit").click()

    # The booking, in the participant's zone, named.
    expect(page.locator("#booking-mine")).to_be_visible(timeout=15000)
    expect(page.locator("#booking-mine-title")).to_have_text("Janji temu Anda")
    expect(page.locator("#booking-time")).to_have_text("09:00–09:15 WITA")
    expect(page.locator("#booking-zone-name")).to_have_text(
        "WITA — Waktu Indonesia Tengah (Asia/Makassar)"
    )
    expect(page.locator("#booking-join")).to_be_hidden()  # not before its window
    expect(page.locator("#booking-join-help")).to_contain_text("Tombol masuk muncul pukul 08:55")
    expect(page.locator("#booking-offer")).to_be_hidden()
    expect(page.locator("#booking-ics")).to_have_text("Tambahkan ke kalender")
    expect(page.locator("#booking-ics")).to_have_attribute("aria-disabled", "false")
    page.locator("#booking-mine").scroll_into_view_if_needed()
    fits_width(page, ["#booking-mine .actions > *", "#booking-time"])
    shots(page, "booked", full_page=False)  # docs/img/screenshots/participant-booking-mine
    mine = patient.api(server.url, "GET", "/api/appointments/mine", token=token)["appointment"]
    assert mine["start"] == start and mine["zone_label"] == "WITA", mine
    assert utc(start).astimezone(DESK_ZONE).strftime("%H:%M") == "08:00"

    # The calendar file: one event at the booked time (UTC), in Indonesian.
    with page.expect_download() as download:
        page.locator("#booking-ics").click()
    assert download.value.suggested_filename.endswith(".ics")
    events = ics_events(Path(download.value.path()).read_text())
    assert len(events) == 1, events
    assert events[0]["DTSTART"] == utc(start).strftime("%Y%m%dT%H%M%SZ"), events
    assert events[0]["DTEND"] == (utc(start) + timedelta(minutes=15)).strftime("%Y%m%dT%H%M%SZ")
    assert events[0].get("SUMMARY"), events

    # Cancel (pressed twice): the slots come back; then book another one.
    page.locator("#booking-cancel").click()
    expect(page.locator("#booking-cancel")).to_have_text("Tekan lagi untuk membatalkan")
    page.locator("#booking-cancel").click()
    expect(page.locator("#net-banner")).to_contain_text("Janji temu dibatalkan")
    expect(page.locator("#booking-picker")).to_be_visible()
    gone = patient.api(server.url, "GET", "/api/appointments/mine", token=token)["appointment"]
    assert gone is None or gone["status"] == "cancelled", gone
    second = choose_slot(page, 0, 1)
    page.locator("#booking-submit").click()
    expect(page.locator("#booking-time")).to_have_text("09:15–09:30 WITA", timeout=15000)

    # Rebook ("Ganti jadwal"): the new time replaces the old one.
    page.locator("#booking-rebook").click()
    expect(page.locator("#booking-picker-title")).to_have_text("Ganti jadwal janji temu")
    expect(page.locator("#booking-mine")).to_be_hidden()
    third = choose_slot(page, 1, 2)
    page.locator("#booking-submit").click()
    expect(page.locator("#booking-time")).to_have_text("09:30–09:45 WITA", timeout=15000)
    mine = patient.api(server.url, "GET", "/api/appointments/mine", token=token)["appointment"]
    assert mine["start"] == third != second and mine["status"] == "booked", mine

    # After a reload the queue page still says closed, and shows the booking, not the offer.
    page.reload()
    expect(page.locator("#booking-mine")).to_be_visible(timeout=15000)
    expect(page.locator("#queue-status")).to_contain_text("Layanan sedang tutup")
    expect(page.locator("#booking-offer")).to_be_hidden()
    shots(page, "reloaded", full_page=True)

    # Another zone may be chosen (from Makassar, living in Jakarta): slots and booking follow.
    page.locator("#booking-rebook").click()
    page.locator("#booking-zone").select_option("Asia/Jakarta")
    expect(page.locator("#booking-slots .slot").first).to_have_text("08:00–08:15 WIB")
    page.locator("#booking-close").click()
    expect(page.locator("#booking-time")).to_have_text("08:30–08:45 WIB")
    expect(page.locator("#booking-zone-name")).to_contain_text("(Asia/Jakarta)")

    # English is one click away; the zone stays named.
    page.locator("#lang-toggle").click()
    expect(page.locator("#booking-mine-title")).to_have_text("Your appointment")
    expect(page.locator("#booking-zone-name")).to_contain_text("Western Indonesia Time")
    fits_width(page, ["#booking-mine .actions > *"])
    page.context.close()
    assert not [e for e in errors if "socket.io" not in e], errors


# -- 2. the booked time: plan, book, desk list, join ahead of a walk-in ---------------------


def test_join_at_the_booked_time_ahead_of_a_walk_in(
    early_join_server: Server, browser: Any, shots: Shots
) -> None:
    server = early_join_server
    # The supervisor plans two officers for this hour and the next (Jakarta) on the board.
    now = datetime.now(DESK_ZONE)
    supervisor = staff_page(browser, server)
    sup_errors = journey.collect_errors(supervisor)
    supervisor.goto("/supervisor")
    log_in(supervisor, *SUPERVISOR)
    expect(supervisor.locator("#capacity-panel")).to_be_visible(timeout=15000)
    expect(supervisor.locator("#plan-body input")).to_have_count(7 * 24)
    for moment in (now, now + timedelta(hours=1)):
        supervisor.locator(f"#plan-{moment.weekday()}-{moment.hour}").fill("2")
    supervisor.locator("#plan-save").click()
    expect(supervisor.locator("#plan-saved")).to_contain_text("Rencana tersimpan: 2 jam")
    expect(supervisor.locator("#capacity-list tr").first).to_be_visible(timeout=15000)

    # A walk-in waits first.
    walk_in = patient.queued_participant(browser, server, nik("32"), "081234567001")

    # A participant books the next slot (at most 15 minutes away: joinable at once here).
    token = ready(server, nik("32"), "Sari Terjadwal")
    booked = phone_page(browser, server.url, PHONE)
    errors = journey.collect_errors(booked)
    journey.open_with_token(booked, token)
    expect(booked.locator("#step-precheck")).to_be_visible()
    booked.locator("#booking-later-open").click()
    expect(booked.locator("#booking-days .day").first).to_be_visible(timeout=15000)
    expect(booked.locator("#booking-zone-help")).to_have_text("Semua jam ditampilkan dalam WIB.")
    # The first slot at least a minute away (one starting in seconds may be past when booked).
    starts = booked.locator("#booking-slots .slot").evaluate_all(
        "slots => slots.map(s => s.dataset.start)"
    )
    soon = next(
        i for i, s in enumerate(starts) if utc(s) - datetime.now(UTC) >= timedelta(minutes=1)
    )
    start = choose_slot(booked, 0, soon)
    assert utc(start) - datetime.now(UTC) <= timedelta(minutes=16), start
    booked.locator("#booking-submit").click()
    expect(booked.locator("#booking-join")).to_be_visible(timeout=15000)
    expect(booked.locator("#booking-join")).to_have_text("Masuk sekarang")
    booked.locator("#booking-mine").scroll_into_view_if_needed()
    fits_width(booked, ["#booking-join", "#booking-mine .actions > *"])
    shots(booked, "join-now", full_page=False)

    # The officer's desk lists the booking, by name and time in the desk's zone.
    officer = available_officer(browser, server, waiting=1)
    row = officer.locator("#bookings-list tr").first
    expect(row).to_contain_text("Sari Terjadwal", timeout=15000)
    local = utc(start).astimezone(DESK_ZONE).strftime("%H:%M")
    expect(row).to_contain_text(f"{local} WIB")
    expect(officer.locator("#bookings-zone")).to_have_text("WIB")
    shots(officer, "desk-bookings", full_page=True)

    # The supervisor sees it against the slot's capacity.
    supervisor.reload()
    slot_row = supervisor.locator(f'#capacity-list tr[data-start="{start}"]')
    expect(slot_row).to_be_visible(timeout=15000)
    expect(slot_row.locator("td").nth(1)).to_have_text("1")  # booked
    expect(slot_row.locator("td").nth(2)).to_have_text("2")  # capacity
    expect(slot_row.locator("td").nth(0)).to_have_text(f"{local} WIB")
    supervisor.locator("#h-capacity").evaluate("e => e.scrollIntoView()")
    shots(supervisor, "capacity", full_page=False)

    # Joining at the booked time: ahead of the walk-in who waited first.
    booked.locator("#booking-join").click()
    expect(booked.locator("#step-queue")).to_be_visible()
    expect(booked.locator("#queue-position")).to_have_text("1", timeout=15000)
    expect(officer.locator("#desk-count")).to_have_text("2", timeout=15000)
    expect(officer.locator("#waiting-list tr").first).to_contain_text("Sari Terjadwal")
    expect(walk_in.locator("#queue-position")).to_have_text("2", timeout=15000)
    # Behind someone, with no estimate yet: the walk-in is offered a booking too.
    expect(walk_in.locator("#booking-offer-title")).to_have_text(
        "Antrean panjang — buat janji temu", timeout=15000
    )
    assert_in_view(walk_in, "#booking-offer-open")
    fits_width(walk_in, ["#booking-offer", "#queue-leave"])
    shots(walk_in, "walk-in-offer", full_page=False)
    officer.locator("#accept-next").click()
    expect(officer.locator("#callview")).to_be_visible(timeout=15000)
    expect(booked.locator("#step-call")).to_be_visible(timeout=15000)
    expect(officer.locator("#oc-name")).to_have_text("Sari Terjadwal")
    expect(walk_in.locator("#step-queue")).to_be_visible()
    shots(booked, "in-call", full_page=False)
    assert not [e for e in errors if "socket.io" not in e], errors
    assert not [e for e in sup_errors if "socket.io" not in e], sup_errors
    reject_and_close(officer, booked)  # a call left open slows the server's stop
    for page in (walk_in, supervisor):
        page.context.close()
