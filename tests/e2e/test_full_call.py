"""The whole flow in real Chromium: participant queues, officer accepts and sees the video,
takes snapshots and approves, supervisor confirms, the record is active."""

from __future__ import annotations

import importlib.util
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.e2e import journey
from tests.e2e.conftest import OFFICER, SUPERVISOR, Server, Shots, bright_y4m, launch
from tests.e2e.test_staff_pages import log_in, staff_page

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(
        importlib.util.find_spec("signaling.participant") is None
        or importlib.util.find_spec("signaling.officer") is None,
        reason="the /participant and /officer namespaces are not built yet",
    ),
]


def video_is_playing(page: Page, selector: str) -> None:
    """videoWidth > 0 and currentTime advancing."""
    expect(page.locator(selector)).to_have_js_property("readyState", 4, timeout=20000)
    page.wait_for_function(
        """sel => { const v = document.querySelector(sel);
                   return v && v.videoWidth > 0 && v.currentTime > 0; }""",
        arg=selector,
        timeout=20000,
    )
    first = page.locator(selector).evaluate("v => v.currentTime")
    page.wait_for_timeout(700)
    assert page.locator(selector).evaluate("v => v.currentTime") > first


@pytest.fixture(scope="module")
def bright_browser(playwright_instance: Any, tmp_path_factory: pytest.TempPathFactory) -> Any:
    clip = bright_y4m(tmp_path_factory.mktemp("clips") / "bright.y4m")
    b = launch(playwright_instance, [f"--use-file-for-fake-video-capture={clip}"])
    yield b
    b.close()


def test_full_call(server: Server, bright_browser: Any, shots: Shots) -> None:
    browser = bright_browser
    token = journey.ready_participant(
        server.url, "3201014101900003", "081234567892", "1990-01-01", "female"
    )
    participant = journey.new_mobile_page(browser, server.url)
    p_errors = journey.collect_errors(participant)
    journey.open_with_token(participant, token)
    journey.pass_precheck(participant)
    participant.locator("#precheck-next").click()
    expect(participant.locator("#step-queue")).to_be_visible()
    expect(participant.locator("#queue-position")).to_have_text("1", timeout=10000)
    shots(participant, "participant-queue")

    officer = staff_page(browser, server)
    o_errors = journey.collect_errors(officer)
    officer.goto("/officer")
    log_in(officer, *OFFICER)
    officer.locator("#presence-available").check()
    expect(officer.locator("#presence-state")).to_have_attribute("data-presence", "available")
    expect(officer.locator("#desk-count")).to_have_text("1", timeout=10000)
    expect(officer.locator("#waiting-list tr")).to_have_count(1)
    shots(officer, "officer-desk")
    officer.locator("#accept-next").click()

    expect(officer.locator("#callview")).to_be_visible(timeout=10000)
    expect(participant.locator("#step-call")).to_be_visible(timeout=10000)
    video_is_playing(officer, "#o-remote-video")
    video_is_playing(participant, "#remote-video")
    code = officer.locator("#o-code").inner_text()
    assert code.isdigit()
    expect(participant.locator("#call-code")).to_have_text(code)
    expect(officer.locator("#traffic")).not_to_have_attribute(
        "data-level", "unknown", timeout=15000
    )
    shots(participant, "participant-call")

    officer.locator("#snap-face").click()
    expect(officer.locator("#snapshots figure[data-kind=face] img")).to_be_visible(timeout=15000)
    officer.locator("#snap-ktp").click()
    expect(officer.locator("#snapshots figure[data-kind=ktp] img")).to_be_visible(timeout=15000)
    for box in officer.locator("input[name=checklist]").all():
        box.check()
    officer.locator("#result-approved").check()
    shots(officer, "officer-call")
    officer.locator("#decide").click()
    expect(officer.locator("#decision-done")).to_be_visible(timeout=15000)

    expect(participant.locator("#step-result")).to_be_visible(timeout=20000)
    expect(participant.locator("#result-state")).to_have_attribute("data-state", "under_review")
    expect(participant.locator("#result-due")).not_to_have_text("–")
    shots(participant, "participant-result")

    supervisor = staff_page(browser, server)
    seen = []
    supervisor.on("response", lambda r: seen.append(f"{r.status} {r.url}"))
    supervisor.goto("/supervisor")
    log_in(supervisor, *SUPERVISOR)
    expect(supervisor.locator("#review-list tr")).to_have_count(1)
    supervisor.locator("#review-list button").click()
    expect(supervisor.locator("#r-code")).to_have_text(code)
    # Evidence: the recording plays, the snapshots and the participant's photos are shown.
    expect(supervisor.locator("#recordings video")).to_have_count(1)
    try:
        supervisor.wait_for_function(
            "() => document.querySelector('#recordings video').duration > 0", timeout=10000
        )
    except Exception:
        print("\n".join(r for r in seen if "/api/" in r))
        raise
    images = [f"#r-snapshots figure[data-kind={kind}] img" for kind in ("face", "ktp")]
    images += [f"#rv-photo-{kind}" for kind in ("ktp", "selfie_with_ktp", "face")]
    for selector in images:
        try:
            supervisor.wait_for_function(
                "sel => document.querySelector(sel).naturalWidth > 0", arg=selector
            )
        except Exception:
            print("\n".join(r for r in seen if "/api/" in r))
            raise
    supervisor.locator("#action-confirm").check()
    shots(supervisor, "supervisor-review")
    supervisor.locator("#review-submit").click()
    expect(supervisor.locator("#review-done")).to_have_attribute("data-state", "active")

    participant.locator("#result-refresh").click()
    expect(participant.locator("#result-state")).to_have_attribute("data-state", "active")
    shots(participant, "participant-active")
    assert not p_errors, p_errors
    assert not o_errors, o_errors
    for page in (participant, officer, supervisor):
        page.context.close()
