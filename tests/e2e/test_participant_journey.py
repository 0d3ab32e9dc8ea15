"""The participant's journey in real Chromium, at 360 px: register to a passed pre-call check."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.e2e import journey
from tests.e2e.conftest import Server, Shots, dark_y4m, launch

pytestmark = pytest.mark.e2e

NIK_FEMALE_1990 = "3201014101900001"  # province 32, born 1990-01-01, female (day + 40)


def test_register_to_precheck(
    server: Server, browser: Any, photos: dict[str, Path], shots: Shots
) -> None:
    page = journey.new_mobile_page(browser, server.url)
    errors = journey.collect_errors(page)
    page.goto("/")
    expect(page.locator("#progress-label")).to_contain_text("Langkah 1 dari 8")
    shots(page, "register")

    # A NIK that does not exist: the error sits next to the field, in Indonesian.
    journey.register(page, "9901014101900001")
    expect(page.locator("#err-nik")).to_contain_text("Kode provinsi")
    expect(page.locator("#nik")).to_have_attribute("aria-invalid", "true")
    shots(page, "register-error")

    # Keyboard only: type, Tab to the next field, Enter submits.
    page.locator("#nik").fill("")
    page.locator("#nik").focus()
    page.keyboard.type(NIK_FEMALE_1990)
    page.keyboard.press("Tab")
    expect(page.locator("#mobile")).to_be_focused()
    page.keyboard.press("Tab")
    expect(page.locator("#email")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator("#progress-label")).to_contain_text("Langkah 2 dari 8")
    # Wrong sex for this NIK: the server says which field.
    journey.fill_profile(page, "Sari Wulandari", "1990-01-01", "male")
    expect(page.locator("#err-sex")).to_contain_text("tidak cocok")
    shots(page, "profile-error")
    journey.fill_profile(page, "Sari Wulandari", "1990-01-01", "female")

    # A dark photo gets the upload check's verdict, then a good one replaces it.
    expect(page.locator("#step-documents")).to_be_visible()
    journey.upload(page, "ktp", photos["dark"])
    expect(page.locator("#verdict-ktp")).to_contain_text("Foto terlalu gelap")
    expect(page.locator(".doc[data-kind=ktp]")).to_have_attribute("data-status", "warn")
    shots(page, "documents-dark")
    journey.upload_all(page, photos)
    shots(page, "documents-ok")

    # A reload resumes where we are (the token is in localStorage), it does not start over:
    # all three photos are in, so the next step is consent; the photos can still be changed.
    page.locator("#documents-next").click()
    expect(page.locator("#step-consent")).to_be_visible()
    page.reload()
    expect(page.locator("#step-consent")).to_be_visible()
    page.locator("#consent-back").click()
    expect(page.locator("#step-documents")).to_be_visible()
    expect(page.locator(".doc[data-kind=face] .thumb")).to_be_visible()
    page.locator("#documents-next").click()

    journey.consent(page)
    expect(page.locator("#progress-label")).to_contain_text("Langkah 5 dari 8")
    journey.pass_precheck(page)
    # The fake camera is bright enough; the meter reads it from a canvas in the page.
    expect(page.locator("#check-light")).to_have_attribute("data-status", "ok")
    assert page.locator("#light-meter").evaluate("m => m.value") > 60
    assert page.locator("#precheck-video").evaluate("v => v.videoWidth") > 0
    shots(page, "precheck-passed")

    # A network drop is announced, and so is the way back.
    page.context.set_offline(True)
    expect(page.locator("#net-banner")).to_contain_text("terputus")
    shots(page, "offline")
    page.context.set_offline(False)
    expect(page.locator("#net-banner")).to_contain_text("Tersambung kembali")

    # English is one click away and remembered across reloads.
    page.locator("#lang-toggle").click()
    expect(page.locator("#progress-label")).to_contain_text("Step 5 of 8")
    expect(page.locator("#check-camera .check-state")).to_have_text("working")
    page.reload()
    expect(page.locator("#progress-label")).to_contain_text("Step 5 of 8")
    assert page.evaluate("document.documentElement.lang") == "en"
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    assert not errors, errors
    page.context.close()


def test_dark_camera_shows_lighting_hint(
    server: Server, playwright_instance: Any, tmp_path: Path, shots: Shots
) -> None:
    clip = dark_y4m(tmp_path / "dark.y4m")
    dark_browser = launch(playwright_instance, [f"--use-file-for-fake-video-capture={clip}"])
    try:
        token = journey.ready_participant(
            server.url, "3201014101900002", "081234567891", "1990-01-01", "female"
        )
        page = journey.new_mobile_page(dark_browser, server.url)
        journey.open_with_token(page, token)
        # The record is ready for the call: a fresh page resumes at the pre-call check.
        expect(page.locator("#step-precheck")).to_be_visible()
        page.locator("#precheck-start").click()
        expect(page.locator("#check-camera")).to_have_attribute("data-status", "ok")
        expect(page.locator("#check-light")).to_have_attribute("data-status", "warn")
        expect(page.locator("#check-light .check-state")).to_have_text("terlalu gelap")
        expect(page.locator("#check-light .check-fix")).to_contain_text("lebih terang")
        shots(page, "precheck-dark")
        page.goto("/status")
        expect(page.locator("#result-state")).to_contain_text("Siap untuk video call")
        shots(page, "status")
        page.context.close()
    finally:
        dark_browser.close()
