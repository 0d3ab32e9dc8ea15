"""The participant downloads their own data and requests deletion from the status page, in
Chromium: the ZIP holds the record and the photos, the request's status is shown, in Indonesian
and (after the switch) in English."""

from __future__ import annotations

import json
import uuid
import zipfile
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import Server, Shots
from tests.e2e.sides import change_record, ready
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
