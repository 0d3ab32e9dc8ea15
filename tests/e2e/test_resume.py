"""Resuming in real Chromium: a reload during the wait or the call, and a network drop mid-call.

The issue: "Reconnects by itself after a network drop and says so; a reload of the page during
the wait or the call resumes, it does not start over."
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.e2e import journey
from tests.e2e.conftest import OFFICER, Server, Shots, run_server
from tests.e2e.test_full_call import bright_browser, video_is_playing
from tests.e2e.test_staff_pages import log_in, staff_page

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(
        importlib.util.find_spec("signaling.participant") is None
        or importlib.util.find_spec("signaling.officer") is None,
        reason="the /participant and /officer namespaces are not built yet",
    ),
]

SHORT_GRACE_SECONDS = 3
_ = bright_browser  # a fixture, shared with the full-call test


@pytest.fixture
def own_server(server: Server, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Server]:
    """A server of this test's own: a call a failed test leaves open (the officer busy) does not
    spill into the next test, nor into the shared server's later tests."""
    with run_server(tmp_path / "data", log_name=f"e2e-server-{request.node.name}.log") as s:
        yield s


@pytest.fixture
def short_grace_server(
    server: Server, request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[Server]:
    """A server whose participants get only a few seconds to come back."""
    extra = {"PARTICIPANT_GRACE_SECONDS": str(SHORT_GRACE_SECONDS)}
    log_name = f"e2e-server-{request.node.name}.log"
    with run_server(tmp_path / "data", extra, log_name=log_name) as s:
        yield s


def queued_participant(browser: Any, server: Server, nik: str, mobile: str) -> Page:
    """A participant (ready for the call) on the queue step, first in line."""
    token = journey.ready_participant(server.url, nik, mobile, "1990-01-01", "female")
    page = journey.new_mobile_page(browser, server.url)
    journey.open_with_token(page, token)
    journey.pass_precheck(page)
    page.locator("#precheck-next").click()
    expect(page.locator("#step-queue")).to_be_visible()
    expect(page.locator("#queue-position")).to_have_text("1", timeout=10000)
    return page


def available_officer(browser: Any, server: Server, waiting: int = 1) -> Page:
    officer = staff_page(browser, server)
    officer.goto("/officer")
    log_in(officer, *OFFICER)
    officer.locator("#presence-available").check()
    expect(officer.locator("#presence-state")).to_have_attribute("data-presence", "available")
    expect(officer.locator("#desk-count")).to_have_text(str(waiting), timeout=10000)
    return officer


def accept(officer: Page, participant: Page) -> str:
    """The officer accepts the next participant; both see the call; returns the random code."""
    officer.locator("#accept-next").click()
    expect(officer.locator("#callview")).to_be_visible(timeout=10000)
    expect(participant.locator("#step-call")).to_be_visible(timeout=10000)
    video_is_playing(officer, "#o-remote-video")
    code = officer.locator("#o-code").inner_text()
    assert code.isdigit()
    expect(participant.locator("#call-code")).to_have_text(code)
    return code


def officer_video_frames(officer: Page) -> int:
    """Frames decoded by the officer's participant video so far (drops to 0 on a new stream)."""
    return int(
        officer.locator("#o-remote-video").evaluate(
            "v => v.getVideoPlaybackQuality ? v.getVideoPlaybackQuality().totalVideoFrames : 0"
        )
    )


def officer_video_resumes(officer: Page) -> None:
    """New frames of the participant reach the officer (a frozen last frame does not count:
    currentTime of a live stream advances without frames), and the video plays."""
    start = officer_video_frames(officer)
    officer.wait_for_function(
        "n => document.querySelector('#o-remote-video')"
        ".getVideoPlaybackQuality().totalVideoFrames > n + 15",
        arg=start,
        timeout=20000,
    )
    video_is_playing(officer, "#o-remote-video")


def reject_and_close(officer: Page, participant: Page) -> None:
    """End the call with a final decision (no supervisor review left behind for later tests)."""
    officer.locator("#result-rejected").check()
    # A reason that needs no snapshots (Chromium's own fake camera is too dark for them).
    officer.locator("#reasons-participant_withdrew").check()
    officer.locator("#decide").click()
    expect(officer.locator("#decision-done")).to_be_visible(timeout=15000)
    expect(participant.locator("#step-result")).to_be_visible(timeout=20000)
    expect(officer.locator("#desk")).to_be_visible(timeout=10000)
    for page in (participant, officer):
        page.context.close()


def test_reload_while_waiting_keeps_the_place(
    own_server: Server, browser: Any, shots: Shots
) -> None:
    server = own_server
    participant = queued_participant(browser, server, "3201014101900011", "081234567811")
    errors = journey.collect_errors(participant)
    shots(participant, "queue-before-reload")

    participant.reload()
    # Back on the queue step with its place, not on registration or the pre-call check.
    expect(participant.locator("#step-queue")).to_be_visible(timeout=10000)
    expect(participant.locator("#step-register")).to_be_hidden()
    expect(participant.locator("#queue-position")).to_have_text("1", timeout=10000)
    shots(participant, "queue-after-reload")

    # Still in the queue as far as the desk is concerned: an officer can accept them.
    officer = available_officer(browser, server)
    expect(officer.locator("#waiting-list tr")).to_have_count(1)
    accept(officer, participant)
    video_is_playing(participant, "#remote-video")
    shots(participant, "call-after-reload")
    reject_and_close(officer, participant)
    assert not errors, errors


def test_reload_during_call_resumes_the_call(
    own_server: Server, bright_browser: Any, shots: Shots
) -> None:
    server, browser = own_server, bright_browser
    participant = queued_participant(browser, server, "3201014101900012", "081234567812")
    officer = available_officer(browser, server)
    code = accept(officer, participant)
    shots(participant, "call-before-reload")

    participant.reload()
    errors = journey.collect_errors(participant)
    # The call view comes back with the same code, not registration or the queue.
    expect(participant.locator("#step-call")).to_be_visible(timeout=10000)
    expect(participant.locator("#call-code")).to_have_text(code, timeout=10000)
    expect(officer.locator("#callview")).to_be_visible()
    expect(officer.locator("#o-code")).to_have_text(code)
    # A new media connection for the same session: the officer's video plays again.
    officer_video_resumes(officer)
    video_is_playing(participant, "#remote-video")
    shots(participant, "call-after-reload")
    shots(officer, "officer-after-reload")
    reject_and_close(officer, participant)
    assert not errors, errors


def test_network_drop_mid_call_reconnects(
    own_server: Server, bright_browser: Any, shots: Shots
) -> None:
    server, browser = own_server, bright_browser
    participant = queued_participant(browser, server, "3201014101900013", "081234567813")
    errors = journey.collect_errors(participant)
    officer = available_officer(browser, server)
    code = accept(officer, participant)

    participant.context.set_offline(True)
    expect(participant.locator("#net-banner")).to_contain_text("terputus")
    shots(participant, "offline")
    participant.wait_for_timeout(3000)
    participant.context.set_offline(False)
    expect(participant.locator("#net-banner")).to_contain_text("Tersambung kembali")
    shots(participant, "back-online")

    # The call goes on: same code, and the officer sees the participant's video playing again.
    expect(participant.locator("#step-call")).to_be_visible()
    expect(participant.locator("#call-code")).to_have_text(code)
    expect(officer.locator("#o-hangup")).to_be_enabled()
    officer_video_resumes(officer)
    # ... and the call's own status stops saying it is reconnecting.
    expect(participant.locator("#call-status")).not_to_contain_text("terputus", timeout=15000)
    shots(participant, "call-reconnected")
    video_is_playing(participant, "#remote-video")
    shots(officer, "officer-after-drop")
    reject_and_close(officer, participant)
    assert not [e for e in errors if "socket.io" not in e], errors


def test_network_drop_longer_than_grace_ends_the_call(
    short_grace_server: Server, browser: Any, shots: Shots
) -> None:
    server = short_grace_server
    participant = queued_participant(browser, server, "3201014101900014", "081234567814")
    officer = available_officer(browser, server)
    accept(officer, participant)

    participant.context.set_offline(True)
    expect(participant.locator("#net-banner")).to_contain_text("terputus")
    # The officer is told the participant is gone, then that the call ended.
    expect(officer.locator("#o-call-status")).to_contain_text("Panggilan selesai", timeout=20000)
    expect(officer.locator("#o-hangup")).to_be_disabled()
    shots(officer, "officer-call-ended")
    participant.context.set_offline(False)
    for page in (participant, officer):
        page.context.close()
