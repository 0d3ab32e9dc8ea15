"""The participant's pages on a phone (360 x 740 and 390 x 844), checked by element geometry:
during the call the officer's video, the random code, the current hint and "Akhiri panggilan"
are in view without scrolling; on the pre-call page the start button is in view."""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.e2e import journey, patient
from tests.e2e.conftest import Server, Shots, dark_y4m, launch, run_server
from tests.e2e.test_resume import accept, available_officer, reject_and_close

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(
        importlib.util.find_spec("signaling.participant") is None,
        reason="the /participant namespace is not built yet",
    ),
]

PHONES = {"360x740": (360, 740), "390x844": (390, 844)}


def phone_page(browser: Any, base_url: str, size: tuple[int, int]) -> Page:
    context = browser.new_context(
        viewport={"width": size[0], "height": size[1]},
        base_url=base_url,
        locale="id-ID",
        has_touch=True,
        is_mobile=True,
    )
    context.grant_permissions(["camera", "microphone"], origin=base_url)
    return context.new_page()


def geometry(page: Page, selector: str) -> dict[str, float]:
    return dict(
        page.locator(selector)
        .first.evaluate(
            """e => { const r = e.getBoundingClientRect();
                      return {top: r.top, bottom: r.bottom, left: r.left, right: r.right,
                              height: r.height, vw: innerWidth, vh: innerHeight}; }"""
        )
        .items()
    )


def assert_in_view(page: Page, selector: str) -> dict[str, float]:
    g = geometry(page, selector)
    assert g["height"] > 0, (selector, g)
    assert g["top"] >= 0 and g["bottom"] <= g["vh"] + 0.5, (selector, g)
    assert g["left"] >= 0 and g["right"] <= g["vw"] + 0.5, (selector, g)
    return g


def assert_no_scrolling(page: Page) -> None:
    scroll = page.evaluate(
        "() => ({y: scrollY, height: document.scrollingElement.scrollHeight, vh: innerHeight})"
    )
    assert scroll["y"] == 0 and scroll["height"] <= scroll["vh"] + 1, scroll


@pytest.fixture(scope="module")
def dark_browser(playwright_instance: Any, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """A camera too dark for the call, so that a real hint shows on the participant's page."""
    clip = dark_y4m(tmp_path_factory.mktemp("clips") / "dark.y4m")
    b = launch(playwright_instance, [f"--use-file-for-fake-video-capture={clip}"])
    yield b
    b.close()


@pytest.fixture
def own_server(server: Server, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Server]:
    name = request.node.name.replace("[", "-").replace("]", "")
    with run_server(tmp_path / "data", log_name=f"e2e-server-{name}.log") as s:
        yield s


@pytest.mark.parametrize("phone", list(PHONES))
def test_precheck_start_button_in_view(
    server: Server, browser: Any, shots: Shots, phone: str
) -> None:
    nik, mobile = {"360x740": ("3201014101900031", "081234567831")}.get(
        phone, ("3201014101900032", "081234567832")
    )
    token = patient.ready_participant(server.url, nik, mobile)
    page = phone_page(browser, server.url, PHONES[phone])
    errors = journey.collect_errors(page)
    journey.open_with_token(page, token)
    expect(page.locator("#step-precheck")).to_be_visible()
    # No empty black preview before the check starts: the start button is on the first screen.
    expect(page.locator("#step-precheck .preview-box")).to_be_hidden()
    assert_in_view(page, "#precheck-start")
    shots(page, "precheck-before", full_page=False)
    journey.pass_precheck(page)
    expect(page.locator("#check-light")).to_have_attribute("data-status", "ok")
    expect(page.locator("#step-precheck .preview-box")).to_be_visible()
    page.locator("#precheck-next").scroll_into_view_if_needed()
    shots(page, "precheck-passed", full_page=False)
    page.context.close()
    assert not errors, errors


@pytest.mark.parametrize("phone", list(PHONES))
def test_call_essentials_in_view_without_scrolling(
    own_server: Server, dark_browser: Any, shots: Shots, phone: str
) -> None:
    server, browser = own_server, dark_browser
    token = patient.ready_participant(server.url, "3201014101900033", "081234567833")
    participant = phone_page(browser, server.url, PHONES[phone])
    errors = journey.collect_errors(participant)
    journey.open_with_token(participant, token)
    expect(participant.locator("#step-precheck")).to_be_visible()
    participant.locator("#precheck-start").click()
    expect(participant.locator("#precheck-next")).to_be_enabled(timeout=15000)
    participant.locator("#precheck-next").click()
    expect(participant.locator("#queue-position")).to_have_text("1", timeout=10000)

    officer = available_officer(browser, server)
    code = accept(officer, participant)
    # The dark camera gives a real hint: the current hint is one of the things to keep in view.
    expect(participant.locator("#call-hints li").first).to_be_visible(timeout=20000)
    participant.wait_for_timeout(500)
    for selector in ("#remote-video", "#call-code", "#call-hints li", "#call-hangup"):
        assert_in_view(participant, selector)
    assert_no_scrolling(participant)
    video = geometry(participant, "#remote-video")
    assert video["height"] >= 0.35 * video["vh"], video  # the officer's face, not a stamp
    expect(participant.locator("#call-code")).to_have_text(code)
    shots(participant, "call", full_page=False)
    reject_and_close(officer, participant)
    assert not [e for e in errors if "socket.io" not in e], errors
