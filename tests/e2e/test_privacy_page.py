"""The participant downloads their own data and requests deletion from the status page, in
Chromium: the ZIP holds the record and the photos, the request's status is shown, in Indonesian
and (after the switch) in English; a supervisor approves a request on the board."""

from __future__ import annotations

import json
import uuid
import zipfile
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.e2e import journey
from tests.e2e.conftest import SUPERVISOR, Server, Shots
from tests.e2e.sides import api, change_record, ready
from tests.e2e.test_staff_pages import log_in
from tests.e2e.test_status_page import decided, paired, status_page
from videocall.records import RecordState

pytestmark = pytest.mark.e2e


def test_participant_downloads_data_and_requests_deletion(
    browser: Any, server: Server, shots: Shots, tmp_path: Path
) -> None:
    token, me = ready(server, date(1992, 5, 6))
    session = str(uuid.uuid4())
    change_record(server, me["id"], paired(session))
    change_record(server, me["id"], decided(session, RecordState.UNDER_REVIEW, []))
    page, errors, _ = status_page(browser, server, token)
    box = page.locator("#privacy-box")
    expect(box).to_be_visible()
    expect(page.locator("#privacy-download")).to_have_text("Unduh data saya")

    with page.expect_download() as info:
        page.locator("#privacy-download").click()
    saved = tmp_path / "data.zip"
    info.value.save_as(saved)
    with zipfile.ZipFile(saved) as zf:
        names = set(zf.namelist())
        data = json.loads(zf.read("data.json"))
    assert data["record"]["id"] == me["id"]
    assert {"photos/ktp.jpg", "photos/selfie_with_ktp.jpg", "photos/face.jpg"} <= names

    request = page.locator("#privacy-request")
    request.click()
    expect(request).to_have_text("Tekan sekali lagi untuk meminta penghapusan")
    request.click()
    status = page.locator("#privacy-status")
    expect(status).to_contain_text("Permintaan penghapusan Anda diterima")
    expect(request).to_be_hidden()
    shots(page, "privacy-requested")
    page.locator("#lang-toggle").click()
    expect(status).to_contain_text("Your deletion request was received")
    assert errors == []


def test_supervisor_approves_a_deletion_request(browser: Any, server: Server, shots: Shots) -> None:
    token, me = ready(server, date(1993, 7, 8))
    request = api(server, "POST", "/api/me/deletion-request", {"reason": "e2e"}, token)
    context = browser.new_context(viewport={"width": 1280, "height": 900}, base_url=server.url)
    page = context.new_page()
    errors = journey.collect_errors(page)
    page.goto("/supervisor")
    log_in(page, *SUPERVISOR)
    row = page.locator("#deletion-list tr", has_text=me["id"])
    expect(row).to_be_visible(timeout=15_000)
    expect(row).to_contain_text("menunggu")
    approve = row.get_by_role("button", name="Hapus data")
    approve.click()
    row.get_by_role("button", name="Tekan lagi: hapus sekarang").click()
    expect(row).to_contain_text("dihapus")
    shots(page, "deletion-approved")
    done = api(server, "GET", "/api/me/deletion-request", token=token)["items"][0]
    assert done["id"] == request["id"] and done["status"] == "done"
    assert done["deleted"]["photos"] == 3
    assert not [e for e in errors if "socket.io" not in e], errors
    context.close()
