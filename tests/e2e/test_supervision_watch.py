"""Live supervision in real Chromium: a supervisor watches a call in progress from the board
(both videos playing), the officer's call view says so, and the supervisor ends the call with
a reason, which the officer sees."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.e2e import journey, patient
from tests.e2e.conftest import SUPERVISOR, Server, Shots, run_server
from tests.e2e.test_full_call import video_is_playing
from tests.e2e.test_resume import accept, available_officer
from tests.e2e.test_staff_pages import log_in, staff_page

pytestmark = [pytest.mark.e2e]


@pytest.fixture
def own_server(server: Server, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Server]:
    # Its own server: the call ended here waits for a decision on the shared officer's desk.
    with run_server(tmp_path / "data", log_name=f"e2e-server-{request.node.name}.log") as s:
        yield s


@pytest.mark.timeout(240)
def test_supervisor_watches_and_ends_a_call(own_server: Server, browser: Any, shots: Shots) -> None:
    server = own_server
    participant = patient.queued_participant(browser, server, "3201014101900071", "081234567871")
    officer = available_officer(browser, server)
    o_errors = journey.collect_errors(officer)
    accept(officer, participant)
    expect(officer.locator("#o-watched")).to_be_hidden()

    supervisor = staff_page(browser, server)
    s_errors = journey.collect_errors(supervisor)
    supervisor.goto("/supervisor")
    log_in(supervisor, *SUPERVISOR)
    row = supervisor.locator("#live-list tr")
    expect(row).to_have_count(1, timeout=15000)
    row.get_by_role("button", name="Pantau").click()
    expect(supervisor.locator("#watch-view")).to_be_visible()
    video_is_playing(supervisor, "#watch-participant")
    video_is_playing(supervisor, "#watch-officer")
    expect(supervisor.locator("#watch-status")).to_have_text("Sedang memantau")
    notice = officer.locator("#o-watched")
    expect(notice).to_contain_text("Supervisor sedang memantau panggilan ini", timeout=10000)
    shots(supervisor, "supervisor-watching")
    shots(officer, "officer-watched")

    supervisor.locator("#end-reason").fill("Uji pemantauan mutu")
    supervisor.get_by_role("button", name="Akhiri panggilan").click()
    expect(supervisor.locator("#end-done")).to_be_visible(timeout=10000)
    expect(supervisor.locator("#watch-status")).to_have_text(
        "Panggilan telah berakhir.", timeout=15000
    )
    expect(notice).to_contain_text("mengakhiri panggilan: Uji pemantauan mutu", timeout=10000)
    expect(officer.locator("#callview")).to_have_attribute("data-live", "false", timeout=10000)
    expect(supervisor.locator("#live-empty")).to_be_visible(timeout=15000)
    assert not o_errors, o_errors
    assert not s_errors, s_errors
    for page in (participant, officer, supervisor):
        page.context.close()
