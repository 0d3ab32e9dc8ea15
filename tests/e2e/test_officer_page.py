"""The officer's page in real Chromium (issue 14): photos and snapshots open large beside the live
video, the officer's camera stops when the call ends, the chosen presence survives a reload."""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.e2e import journey, patient
from tests.e2e.conftest import OFFICER, Server, Shots, run_server
from tests.e2e.test_resume import accept, available_officer
from tests.e2e.test_staff_pages import log_in, staff_page

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(
        importlib.util.find_spec("signaling.officer") is None,
        reason="the /officer namespace is not built yet",
    ),
]

# Every camera the page opens, so the test can see whether its tracks were stopped.
WATCH_CAMERAS = """
window.__streams = [];
const original = navigator.mediaDevices.getUserMedia.bind(navigator.mediaDevices);
navigator.mediaDevices.getUserMedia = async (constraints) => {
  const stream = await original(constraints);
  window.__streams.push(stream);
  return stream;
};
"""
LIVE_TRACKS = (
    "() => window.__streams.flatMap(s => s.getTracks()).filter(t => t.readyState === 'live').length"
)


@pytest.fixture
def own_server(server: Server, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Server]:
    with run_server(tmp_path / "data", log_name=f"e2e-server-{request.node.name}.log") as s:
        yield s


def rect(page: Page, selector: str) -> dict[str, float]:
    return dict(
        page.locator(selector).evaluate(
            """e => { const r = e.getBoundingClientRect();
                      return {top: r.top, bottom: r.bottom, left: r.left, right: r.right,
                              width: r.width, height: r.height, vh: innerHeight}; }"""
        )
    )


def test_presence_survives_a_reload(own_server: Server, browser: Any, shots: Shots) -> None:
    officer = staff_page(browser, own_server)
    errors = journey.collect_errors(officer)
    officer.goto("/officer")
    log_in(officer, *OFFICER)
    officer.locator("#presence-available").check()
    expect(officer.locator("#presence-state")).to_have_attribute("data-presence", "available")
    officer.reload()
    expect(officer.locator("#presence-state")).to_have_attribute(
        "data-presence", "available", timeout=10000
    )
    expect(officer.locator("#presence-available")).to_be_checked()
    shots(officer, "after-reload")
    officer.locator("#presence-away").check()
    expect(officer.locator("#presence-state")).to_have_attribute("data-presence", "away")
    officer.reload()
    expect(officer.locator("#presence-away")).to_be_checked()
    officer.wait_for_timeout(1000)
    expect(officer.locator("#presence-state")).to_have_attribute("data-presence", "away")
    officer.context.close()
    assert not errors, errors


def test_photos_zoom_beside_the_video_and_camera_stops_after_the_call(
    own_server: Server, browser: Any, shots: Shots
) -> None:
    server = own_server
    participant = patient.queued_participant(browser, server, "3201014101900051", "081234567851")
    officer = staff_page(browser, server)
    officer.add_init_script(WATCH_CAMERAS)
    errors = journey.collect_errors(officer)
    officer.goto("/officer")
    log_in(officer, *OFFICER)
    officer.locator("#presence-available").check()
    expect(officer.locator("#desk-count")).to_have_text("1", timeout=10000)
    accept(officer, participant)
    officer.wait_for_function("() => window.__streams.length > 0")

    # A KTP photo opens large, beside the live video (both in view at once).
    officer.wait_for_function("() => document.querySelector('#oc-photo-ktp').naturalWidth > 0")
    thumb = rect(officer, "#oc-photo-ktp")
    officer.locator("#oc-photo-ktp").click()
    expect(officer.locator("#zoom")).to_be_visible()
    officer.wait_for_function("() => document.querySelector('#zoom-img').naturalWidth > 0")
    big, video = rect(officer, "#zoom-img"), rect(officer, "#o-remote-video")
    assert big["width"] >= 3 * thumb["width"], (big, thumb)
    assert big["left"] >= video["right"] - 1, (big, video)  # beside, not on top
    assert big["top"] < video["bottom"] and video["top"] < big["bottom"], (big, video)
    assert 0 <= big["top"] and big["bottom"] <= big["vh"] + 1, big
    expect(officer.locator("#zoom-caption")).to_contain_text("KTP")
    shots(officer, "zoom-ktp", full_page=False)
    officer.keyboard.press("Escape")
    expect(officer.locator("#zoom")).to_be_hidden()

    # A snapshot opens large too.
    officer.locator("#snap-face").click()
    snap = officer.locator("#snapshots figure[data-kind=face] img")
    expect(snap).to_be_visible(timeout=15000)
    snap.click()
    expect(officer.locator("#zoom")).to_be_visible()
    expect(officer.locator("#zoom-caption")).to_contain_text("Wajah")
    officer.wait_for_function("() => document.querySelector('#zoom-img').naturalWidth >= 320")
    shots(officer, "zoom-snapshot", full_page=False)
    officer.locator("#zoom-close").click()
    expect(officer.locator("#zoom")).to_be_hidden()

    # The call ends with a decision: the officer's camera and microphone are off.
    assert officer.evaluate(LIVE_TRACKS) > 0
    officer.locator("#result-rejected").check()
    officer.locator("#reasons-participant_withdrew").check()
    officer.locator("#decide").click()
    expect(officer.locator("#decision-done")).to_be_visible(timeout=15000)
    officer.wait_for_function(f"() => ({LIVE_TRACKS})() === 0", timeout=10000)
    expect(officer.locator("#desk")).to_be_visible(timeout=10000)
    expect(officer.locator("#o-hints li")).to_have_count(0)
    assert not errors, errors
    for page in (participant, officer):
        page.context.close()


def test_camera_stops_when_the_officer_hangs_up(
    own_server: Server, browser: Any, shots: Shots
) -> None:
    server = own_server
    participant = patient.queued_participant(browser, server, "3201014101900052", "081234567852")
    officer = available_officer(browser, server)
    officer.add_init_script(WATCH_CAMERAS)
    officer.evaluate(f"() => {{ {WATCH_CAMERAS} }}")  # the page is already open
    accept(officer, participant)
    officer.wait_for_function("() => window.__streams.length > 0")
    assert officer.evaluate(LIVE_TRACKS) > 0
    officer.locator("#o-hangup").click()
    officer.locator("#o-hangup").click()  # confirm
    expect(officer.locator("#o-hangup")).to_be_disabled(timeout=15000)
    officer.wait_for_function(f"() => ({LIVE_TRACKS})() === 0", timeout=10000)
    expect(officer.locator("#o-hints li")).to_have_count(0)
    expect(officer.locator("#traffic")).to_have_attribute("data-level", "unknown")
    shots(officer, "after-hang-up", full_page=False)
    for page in (participant, officer):
        page.context.close()
