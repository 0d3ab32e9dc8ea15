"""Officer and supervisor pages in real Chromium: log-in, desk, review board (desktop size)."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.e2e import journey
from tests.e2e.conftest import OFFICER, SUPERVISOR, Server, Shots

pytestmark = pytest.mark.e2e

DESKTOP = {"width": 1280, "height": 860}


def staff_page(browser: Any, server: Server) -> Page:
    context = browser.new_context(viewport=DESKTOP, base_url=server.url, locale="id-ID")
    context.grant_permissions(["camera", "microphone"], origin=server.url)
    return context.new_page()


def log_in(page: Page, username: str, password: str) -> None:
    expect(page.locator("#login")).to_be_visible()
    page.get_by_label("Nama pengguna").fill(username)
    page.get_by_label("Kata sandi").fill(password)
    page.get_by_label("Kata sandi").press("Enter")


def test_officer_login_and_desk(server: Server, browser: Any, shots: Shots) -> None:
    page = staff_page(browser, server)
    errors = journey.collect_errors(page)
    page.goto("/officer")
    log_in(page, OFFICER[0], "wrong-password-123")
    expect(page.locator("#err-form-login")).to_contain_text("salah")
    shots(page, "login-error")
    log_in(page, *OFFICER)
    expect(page.locator("#desk")).to_be_visible()
    expect(page.locator("#whoami")).to_contain_text("petugas")
    # Reasons and checklist come from the outcomes API, translated by code.
    expect(page.locator("#checklist li")).to_have_count(6)
    shots(page, "desk")
    # The session survives a reload (HttpOnly cookie), and logging out ends it.
    page.reload()
    expect(page.locator("#desk")).to_be_visible()
    page.locator("#logout").click()
    expect(page.locator("#login")).to_be_visible()
    assert not [e for e in errors if "socket.io" not in e], errors
    page.context.close()


def test_supervisor_board(server: Server, browser: Any, shots: Shots) -> None:
    page = staff_page(browser, server)
    errors = journey.collect_errors(page)
    page.goto("/supervisor")
    # An officer may not use the supervisor's board.
    log_in(page, *OFFICER)
    expect(page.locator("#err-form-login")).to_contain_text("Peran Anda")
    log_in(page, *SUPERVISOR)
    expect(page.locator("#board")).to_be_visible()
    expect(page.locator("#dash-waiting")).to_have_text("0")
    expect(page.locator("#reviews-empty")).to_be_visible()
    expect(page.locator("#webhooks-empty")).to_be_visible()
    shots(page, "board-empty")
    page.locator("#lang-toggle").click()
    expect(page.locator("#h-dash")).to_have_text("Overview")
    assert not errors, errors
    page.context.close()
