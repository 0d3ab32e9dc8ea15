"""The decision trap of issue 12, in real Chromium.

Flagged snapshots and "Simpan keputusan" while the call is live: the officer stays in the call,
with video, and is told what is missing. "Akhiri panggilan" without a decision, then a reload:
the undecided call is first on the desk, openable to decide; the next call is refused until then.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.e2e import journey, patient
from tests.e2e.conftest import OFFICER, Server, Shots, run_server
from tests.e2e.test_full_call import video_is_playing
from tests.e2e.test_phone_layout import dark_browser
from tests.e2e.test_resume import (
    accept,
    available_officer,
    reject_and_close,
)
from tests.e2e.test_staff_pages import log_in

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(
        importlib.util.find_spec("videocall.app") is None,
        reason="the call lifecycle service (issue 12) is not built yet",
    ),
]
_ = dark_browser  # a fixture: a camera too dark for usable snapshots


@pytest.fixture
def own_server(server: Server, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Server]:
    with run_server(tmp_path / "data", log_name=f"e2e-server-{request.node.name}.log") as s:
        yield s


@pytest.mark.timeout(240)
def test_decision_trap_keeps_the_call_then_the_undecided_call_waits_on_the_desk(
    own_server: Server, dark_browser: Any, shots: Shots
) -> None:
    server, browser = own_server, dark_browser
    participant = patient.queued_participant(browser, server, "3201014101900061", "081234567861")
    officer = available_officer(browser, server)
    o_errors = journey.collect_errors(officer)
    accept(officer, participant)

    # Snapshots of a dark picture are flagged; an approval is refused while the call goes on.
    for kind in ("face", "ktp"):
        officer.locator(f"#snap-{kind}").click()
        caption = officer.locator(f"#snapshots figure[data-kind={kind}] figcaption")
        expect(caption).to_contain_text("⚠", timeout=15000)
    for box in officer.locator("input[name=checklist]").all():
        box.check()
    officer.locator("#result-approved").check()
    officer.locator("#decide").click()
    missing = officer.locator("#err-snapshots")
    expect(missing).to_be_visible(timeout=15000)
    expect(missing).to_contain_text("Wajah")
    expect(missing).to_contain_text("KTP")
    expect(missing).to_contain_text("Panggilan masih berlangsung")
    # Still in the call, with video, and able to fix it.
    expect(officer.locator("#callview")).to_be_visible()
    expect(officer.locator("#o-hangup")).to_be_enabled()
    expect(officer.locator("#snap-face")).to_be_enabled()
    expect(officer.locator("#decision-done")).to_be_hidden()
    video_is_playing(officer, "#o-remote-video")
    expect(participant.locator("#step-call")).to_be_visible()
    shots(officer, "refused-still-in-call")

    # Hang up without a decision: the participant is told the officer is recording it.
    officer.locator("#o-hangup").click()
    officer.locator("#o-hangup").click()
    expect(officer.locator("#o-hangup")).to_be_disabled(timeout=15000)
    expect(participant.locator("#net-banner")).to_contain_text("mencatat keputusan", timeout=15000)
    expect(participant.locator("#call-status")).to_contain_text("mencatat keputusan")
    expect(participant.locator("#call-hangup")).to_be_hidden()
    shots(participant, "participant-awaiting-decision", full_page=False)

    # A second participant waits; after a reload the undecided call is first on the desk.
    second = patient.queued_participant(browser, server, "3201014101900062", "081234567862")
    officer.reload()
    expect(officer.locator("#desk")).to_be_visible(timeout=10000)
    undecided = officer.locator("#undecided-list tr")
    expect(undecided).to_have_count(1, timeout=10000)
    expect(undecided.first).to_contain_text("Peserta Uji")
    # ... and after logging out and in again.
    officer.locator("#logout").click()
    log_in(officer, *OFFICER)
    expect(officer.locator("#undecided-list tr")).to_have_count(1, timeout=10000)
    officer.locator("#presence-available").check()
    expect(officer.locator("#desk-count")).to_have_text("1", timeout=10000)
    officer.locator("#accept-next").click()
    expect(officer.locator("#err-desk")).to_contain_text("keputusan", timeout=10000)
    expect(officer.locator("#callview")).to_be_hidden()
    shots(officer, "desk-undecided-first")

    # Opened from the desk with its evidence, and decided.
    officer.locator("#undecided-list button").first.click()
    expect(officer.locator("#callview")).to_be_visible()
    expect(officer.locator("#snapshots figure")).to_have_count(2, timeout=10000)
    expect(officer.locator("#o-hangup")).to_be_disabled()
    officer.locator("#result-retry_required").check()
    officer.locator("#reasons-poor_lighting").check()
    shots(officer, "decide-undecided")
    officer.locator("#decide").click()
    expect(officer.locator("#decision-done")).to_be_visible(timeout=15000)
    expect(officer.locator("#desk")).to_be_visible(timeout=10000)
    expect(officer.locator("#undecided")).to_be_hidden(timeout=10000)

    # Now the next participant can be taken (and that call is closed with a decision).
    accept(officer, second)
    reject_and_close(officer, second)
    participant.context.close()
    assert not [e for e in o_errors if "socket.io" not in e], o_errors
