"""The participant's status page on a 360 x 740 phone: it updates by itself, says why a call
must be repeated and what to do, shows a reference one can read out, no due date on a final
result, and what happened after a supervisor sent the participant back; and the profile is
prefilled from the NIK with dates as dd/mm/yyyy whatever the browser's locale.

The record's state changes come from the side (an officer's or supervisor's action), written
with the server's own domain code and SQL adapter into the server's database, the way the
outcome service writes them (same history shape); what is under test is the page.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.e2e import journey
from tests.e2e.conftest import Server, Shots
from tests.e2e.sides import api, change_record, ready
from tests.support import make_nik
from videocall.records import Record, RecordState
from videocall.reference import is_valid

pytestmark = pytest.mark.e2e
S = RecordState
OFFICER = "officer:e2e.officer"


def _now() -> datetime:
    return datetime.now(UTC)


def paired(session_id: str) -> Callable[[Record], None]:
    def change(r: Record) -> None:
        detail = {"session_id": session_id}
        r.transition(S.IN_CALL, actor=OFFICER, now=_now(), reason="paired", detail=detail)

    return change


def decided(session_id: str, result: S, reasons: list[str]) -> Callable[[Record], None]:
    def change(r: Record) -> None:
        detail: dict[str, Any] = {"session_id": session_id, "result": result.value}
        if reasons:
            detail["reasons"] = reasons
        kw: dict[str, Any] = {"actor": OFFICER, "now": _now(), "detail": detail}
        if result is S.UNDER_REVIEW:
            r.start_review(due_at=_now() + timedelta(days=3), reason="officer_approved", **kw)
        else:
            r.transition(result, reason=reasons[0], **kw)

    return change


def released(session_id: str, reason: str) -> Callable[[Record], None]:
    def change(r: Record) -> None:
        detail = {"session_id": session_id, "released": True}
        r.transition(
            S.READY_FOR_CALL,
            actor="supervisor:e2e.supervisor",
            now=_now(),
            reason=reason,
            detail=detail,
        )

    return change


def confirmed(r: Record) -> None:
    r.transition(S.ACTIVE, actor="supervisor:e2e.supervisor", now=_now(), reason="review_confirmed")


def status_page(browser: Any, server: Server, token: str) -> tuple[Page, list[str], list[str]]:
    """The status page on a phone; returns it, its script errors and its /api/me requests."""
    page = journey.new_mobile_page(browser, server.url)
    errors = journey.collect_errors(page)
    me_calls: list[str] = []
    page.on("request", lambda r: me_calls.append(r.url) if r.url.endswith("/api/me") else None)
    journey.open_with_token(page, token, "/status")
    expect(page.locator("body")).to_have_attribute("data-ready", "true")
    return page, errors, me_calls


def test_status_updates_by_itself_to_retry_with_reasons_and_what_to_do(
    browser: Any, server: Server, shots: Shots
) -> None:
    token, me = ready(server, date(1991, 3, 4))
    session = str(uuid.uuid4())
    change_record(server, me["id"], paired(session))
    page, errors, _ = status_page(browser, server, token)
    state = page.locator("#result-state")
    expect(state).to_have_attribute("data-state", "in_call")
    expect(state).to_have_text("Panggilan selesai — menunggu keputusan petugas")
    expect(page.locator("#result-auto")).to_be_visible()
    expect(page.locator("#result-due")).to_be_hidden()
    assert is_valid(me["reference"])
    reference = f"{me['reference'][:4]}-{me['reference'][4:]}"
    expect(page.locator("#result-reference")).to_have_text(reference)
    shots(page, "awaiting-decision", full_page=False)

    # The officer decides; nobody touches the page.
    change_record(
        server, me["id"], decided(session, S.RETRY_REQUIRED, ["poor_lighting", "ktp_unreadable"])
    )
    expect(state).to_have_attribute("data-state", "retry_required", timeout=20_000)
    expect(state).to_have_text("Perlu diulang")
    reasons = page.locator("#result-reasons li")
    expect(reasons).to_have_count(2)
    expect(reasons.nth(0)).to_contain_text("terlalu gelap atau silau")
    expect(reasons.nth(0)).to_contain_text("hadapkan wajah ke arah cahaya")
    expect(reasons.nth(1)).to_contain_text("KTP Anda tidak terbaca di kamera")
    expect(page.locator("#result-due")).to_be_hidden()
    expect(page.locator("#result-auto")).to_be_hidden()
    expect(page.locator("#result-retry")).to_have_text("Ulangi verifikasi")
    assert "(" not in page.locator("#result-reasons").inner_text()  # no codes, no English
    shots(page, "retry-reasons")
    box = page.locator("#result-reasons-box").bounding_box()
    assert box is not None and box["width"] <= 360

    page.locator("#lang-toggle").click()
    expect(reasons.nth(0)).to_contain_text("too dark or too bright")
    expect(reasons.nth(0)).to_contain_text("face the light")
    shots(page, "retry-reasons-en")
    assert errors == []


def test_review_then_active_shows_due_date_only_while_pending_and_stops_polling(
    browser: Any, server: Server, shots: Shots
) -> None:
    token, me = ready(server, date(1991, 3, 4))
    session = str(uuid.uuid4())
    change_record(server, me["id"], paired(session))
    change_record(server, me["id"], decided(session, S.UNDER_REVIEW, []))
    page, errors, me_calls = status_page(browser, server, token)
    state = page.locator("#result-state")
    expect(state).to_have_attribute("data-state", "under_review")
    expect(page.locator("#result-due")).to_be_visible()
    expect(page.locator("#result-due")).not_to_have_text("")
    next_text = page.locator("#result-next").inner_text()
    assert "SMS" not in next_text and "e-mail" not in next_text
    shots(page, "under-review")

    change_record(server, me["id"], confirmed)
    expect(state).to_have_attribute("data-state", "active", timeout=30_000)
    expect(page.locator("#result-due")).to_be_hidden()
    expect(page.locator("#result-due-label")).to_be_hidden()
    expect(page.locator("#result-auto")).to_be_hidden()
    shots(page, "active")
    seen = len(me_calls)
    page.wait_for_timeout(7000)  # longer than the first polling interval
    assert len(me_calls) == seen, "the page still polls after a final state"
    assert errors == []


def test_sent_back_by_a_supervisor_says_why_and_queues_again(
    browser: Any, server: Server, shots: Shots
) -> None:
    token, me = ready(server, date(1991, 3, 4))
    session = str(uuid.uuid4())
    change_record(server, me["id"], paired(session))
    page, errors, _ = status_page(browser, server, token)
    expect(page.locator("#result-state")).to_have_attribute("data-state", "in_call")
    change_record(server, me["id"], released(session, "technical_problem"))
    notice = page.locator("#result-back")
    expect(notice).to_be_visible(timeout=20_000)
    expect(notice).to_have_attribute("data-kind", "released")
    expect(notice).to_contain_text("gangguan teknis di pihak kami")
    button = page.locator("#result-retry")
    expect(button).to_have_text("Masuk antrean lagi")
    shots(page, "released")
    # A reload on the home page opens on this explanation, not on the device check.
    page.goto("/")
    expect(page.locator("body")).to_have_attribute("data-step", "result")
    expect(notice).to_contain_text("gangguan teknis")
    button.click()
    expect(page.locator("body")).to_have_attribute("data-step", re.compile("queue|call"))
    assert errors == []


def test_profile_prefilled_from_nik_with_dd_mm_yyyy_in_a_us_browser(
    browser: Any, server: Server, shots: Shots
) -> None:
    context = browser.new_context(
        viewport=journey.MOBILE_VIEWPORT, base_url=server.url, locale="en-US", has_touch=True
    )
    page = context.new_page()
    errors = journey.collect_errors(page)
    page.goto("/")
    nik = make_nik(date(1985, 5, 12), female=True)
    journey.register(page, nik)
    expect(page.locator("#step-profile")).to_be_visible()
    birth = page.locator("#birth_date")
    expect(birth).to_have_value("12/05/1985")
    expect(page.locator("#sex-female")).to_be_checked()
    expect(page.locator("#profile-from-nik")).to_be_visible()
    page.locator("#full_name").fill("Sari Wulandari")
    shots(page, "profile-prefilled")

    birth.fill("31/02/1985")
    page.locator("#form-profile button[type=submit]").click()
    expect(page.locator("#err-birth_date")).to_contain_text("tidak ada di kalender")
    birth.fill("")
    birth.press_sequentially("12051985")
    expect(birth).to_have_value("12/05/1985")
    page.locator("#form-profile button[type=submit]").click()
    expect(page.locator("#step-documents")).to_be_visible()
    token = page.evaluate("localStorage.getItem('vc_token')")
    me = api(server, "GET", "/api/me", token=token)
    assert (me["birth_date"], me["sex"]) == ("1985-05-12", "female")
    assert errors == []
    context.close()
