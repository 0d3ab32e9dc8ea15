"""The supervisor's board for calls left without a decision (issue 12), in real Chromium: stale
undecided calls are listed; a supervisor sends one participant back to the queue with a reason
(their phone says why, by itself) and decides another; a review names the deciding officer and
the time.

Each undecided call is set up with the server's own SQL adapters (a session paired, connected and
hung up before the decision, with its snapshots and recording listed), as the lifecycle service
leaves it; the decision and the release go through the HTTP API from the supervisor's page.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.e2e import journey
from tests.e2e.conftest import OFFICER, ROOT, SUPERVISOR, Server, Shots, run_server
from tests.e2e.sides import database, ready, run_async
from videocall.adapters.sql_records import SqlRecordRepository
from videocall.adapters.sql_sessions import SqlCallSessions

pytestmark = pytest.mark.e2e
DESKTOP = {"width": 1366, "height": 768}
SECOND_SUPERVISOR = ("e2e.supervisor2", "Supervisor-Dua-2026x")


@pytest.fixture(scope="module")
def board_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    if not (ROOT / "web" / "node_modules" / "socket.io-client").is_dir():
        pytest.skip("web/node_modules missing: run `make web-deps`")
    env = {"UNDECIDED_ESCALATE_SECONDS": "60"}
    with run_server(tmp_path_factory.mktemp("board"), env, "e2e-board-server.log") as server:
        subprocess.run(
            [
                *(
                    sys.executable,
                    "-m",
                    "videocall.adapters.accounts_cli",
                    "create",
                    "--if-missing",
                ),
                *("--username", SECOND_SUPERVISOR[0], "--role", "supervisor"),
                *("--name", "Supervisor Kedua"),
            ],
            env={**server.env, "ACCOUNT_PASSWORD": SECOND_SUPERVISOR[1]},
            cwd=ROOT,
            check=True,
            capture_output=True,
        )
        yield server


def account_id(server: Server, username: str, password: str) -> str:
    out = journey.api(
        server.url, "POST", "/api/auth/login", {"username": username, "password": password}
    )
    return str(out["id"])


def undecided_call(server: Server, record_id: str, officer_id: str, ended_ago: timedelta) -> str:
    """A call that had media and was hung up `ended_ago` without a decision."""

    async def main() -> str:
        db = database(server)
        try:
            sessions = SqlCallSessions(db, SqlRecordRepository(db))
            ended = datetime.now(UTC) - ended_ago
            row = await sessions.start(
                record_id=record_id,
                officer_id=officer_id,
                officer_actor=f"officer:{OFFICER[0]}",
                now=ended - timedelta(minutes=3),
            )
            await sessions.mark_connected(row.id, ended - timedelta(minutes=2))
            await sessions.update_media(
                row.id,
                snapshots=[
                    {"kind": "face", "file": "face.jpg", "bad": False},
                    {"kind": "ktp", "file": "ktp.jpg", "bad": False},
                ],
                recording={"segments": [{"file": "0.webm", "sha256": "ab" * 32}]},
            )
            assert await sessions.await_decision(row.id, reason="officer_hung_up", now=ended)
            return str(row.id)
        finally:
            await db.close()

    return str(run_async(main))


def supervisor_page(browser: Any, server: Server, login: tuple[str, str]) -> Page:
    context = browser.new_context(viewport=DESKTOP, base_url=server.url, locale="id-ID")
    page = context.new_page()
    page.goto("/supervisor")
    page.get_by_label("Nama pengguna").fill(login[0])
    page.get_by_label("Kata sandi").fill(login[1])
    page.get_by_label("Kata sandi").press("Enter")
    expect(page.locator("body")).to_have_attribute("data-ready", "true")
    return page


def test_undecided_calls_released_or_decided_by_a_supervisor(
    board_server: Server, browser: Any, shots: Shots, tmp_path: Path
) -> None:
    server = board_server
    officer = account_id(server, *OFFICER)
    token_a, a = ready(server, date(1988, 2, 3))
    _, b = ready(server, date(1979, 7, 8))
    _, c = ready(server, date(1995, 11, 12))
    session_a = undecided_call(server, a["id"], officer, timedelta(minutes=20))
    session_b = undecided_call(server, b["id"], officer, timedelta(minutes=18))
    session_c = undecided_call(server, c["id"], officer, timedelta(seconds=0))

    # The participant waits on their phone, told the decision is pending.
    phone = journey.new_mobile_page(browser, server.url)
    phone_errors = journey.collect_errors(phone)
    # Opening the home page lands on the status page, not on the (ended) call.
    journey.open_with_token(phone, token_a, "/")
    expect(phone.locator("body")).to_have_attribute("data-step", "result")
    expect(phone.locator("#result-state")).to_have_attribute("data-state", "in_call")
    expect(phone.locator("#result-state")).to_have_attribute(
        "data-call-status", "awaiting_decision"
    )
    expect(phone.locator("#result-state")).to_have_text(
        "Panggilan selesai — menunggu keputusan petugas"
    )

    page = supervisor_page(browser, server, SUPERVISOR)
    errors = journey.collect_errors(page)
    rows = page.locator("#undecided-list tr")
    expect(rows).to_have_count(3)
    expect(page.locator(f"#undecided-list tr[data-session-id='{session_a}']")).to_have_attribute(
        "data-stale", "true"
    )
    expect(page.locator(f"#undecided-list tr[data-session-id='{session_c}']")).to_have_attribute(
        "data-stale", "false"
    )
    row_a = page.locator(f"#undecided-list tr[data-session-id='{session_a}']")
    expect(row_a.locator("td").nth(1)).to_have_text(OFFICER[0].title())  # the display name
    shots(page, "undecided-list")

    # A: sent back to the queue, with a reason.
    page.locator(f"#undecided-list tr[data-session-id='{session_a}'] button").click()
    expect(page.locator("#undecided-actions")).to_be_visible()
    expect(page.locator("#form-review")).to_be_hidden()
    page.locator("#release").click()
    expect(page.locator("#err-form-release")).to_contain_text("Pilih alasan")
    page.locator("#release-reason").select_option("technical_problem")
    page.locator("#release").click()
    expect(page.locator("#release-done")).to_be_visible()
    expect(page.locator(f"#undecided-list tr[data-session-id='{session_a}']")).to_have_count(0)
    shots(page, "released")
    notice = phone.locator("#result-back")
    expect(notice).to_be_visible(timeout=20_000)
    expect(notice).to_contain_text("gangguan teknis")
    expect(phone.locator("#result-retry")).to_have_text("Masuk antrean lagi")
    shots(phone, "participant-told")

    # B: decided by the supervisor (an approval: its snapshots and recording are listed).
    page.locator(f"#undecided-list tr[data-session-id='{session_b}'] button").click()
    expect(page.locator("#decide")).to_be_enabled()
    page.locator("#result-approved").check()
    for box in page.locator("#checklist input").all():
        box.check()
    page.locator("#decide").click()
    expect(page.locator("#decision-done")).to_have_attribute("data-state", "under_review")
    expect(page.locator("#decision-done")).to_contain_text("Sedang ditinjau")
    shots(page, "decided")

    # C: still with its officer: the supervisor may send it back but not decide it yet.
    page.locator(f"#undecided-list tr[data-session-id='{session_c}'] button").click()
    expect(page.locator("#decide")).to_be_disabled()
    expect(page.locator("#decide-not-stale")).to_be_visible()

    # Another supervisor reviews B's approval: the review says who decided it, and when.
    other = supervisor_page(browser, server, SECOND_SUPERVISOR)
    review_row = other.locator(f"#review-list tr[data-record-id='{b['id']}']")
    review_row.locator("button").click()
    decided_by = other.locator("#r-decided-by")
    expect(decided_by).to_contain_text(SUPERVISOR[0].title())  # the display name
    expect(decided_by).to_contain_text(str(datetime.now(UTC).astimezone().year))
    reference = b["reference"]
    expect(other.locator("#rv-reference")).to_have_text(f"{reference[:4]}-{reference[4:]}")
    shots(other, "review-decided-by")
    assert not [e for e in errors if "/recording/" not in e and "/snapshots/" not in e], errors
    assert phone_errors == []
