"""Steps of the participant's journey, driven the way a person would: labels, buttons, keys."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from playwright.sync_api import Page, expect

MOBILE_VIEWPORT = {"width": 360, "height": 740}


def register(
    page: Page, nik: str, mobile: str = "081234567890", email: str = "sari@example.id"
) -> None:
    expect(page.locator("#step-register")).to_be_visible()
    page.get_by_label("NIK").fill(nik)
    page.locator("#mobile").fill(mobile)
    page.locator("#email").fill(email)
    page.locator("#form-register button[type=submit]").click()


def fill_profile(page: Page, name: str, birth_date: str, sex: str) -> None:
    expect(page.locator("#step-profile")).to_be_visible()
    page.locator("#full_name").fill(name)
    page.locator("#birth_date").fill(birth_date)
    page.locator(f"#sex-{sex}").check()
    page.locator("#form-profile button[type=submit]").click()


def upload(page: Page, kind: str, path: Path) -> None:
    page.locator(f"#file-{kind}").set_input_files(str(path))


def upload_all(page: Page, photos: dict[str, Path]) -> None:
    expect(page.locator("#step-documents")).to_be_visible()
    for kind in ("ktp", "selfie_with_ktp", "face"):
        upload(page, kind, photos[kind])
        expect(page.locator(f".doc[data-kind={kind}]")).to_have_attribute("data-status", "ok")


def consent(page: Page) -> None:
    expect(page.locator("#step-consent")).to_be_visible()
    page.locator("#consent-check").check()
    page.locator("#form-consent button[type=submit]").click()


def pass_precheck(page: Page) -> None:
    expect(page.locator("#step-precheck")).to_be_visible()
    page.locator("#precheck-start").click()
    expect(page.locator("#check-camera")).to_have_attribute("data-status", "ok")
    expect(page.locator("#check-network")).to_have_attribute("data-status", "ok")
    expect(page.locator("#precheck-next")).to_be_enabled()


def new_mobile_page(browser: Any, base_url: str) -> Page:
    context = browser.new_context(
        viewport=MOBILE_VIEWPORT, base_url=base_url, locale="id-ID", has_touch=True
    )
    context.grant_permissions(["camera", "microphone"], origin=base_url)
    return context.new_page()


def api(base_url: str, method: str, path: str, body: Any = None, token: str = "", **kw: Any) -> Any:
    """A JSON API call from the test itself (to set a participant up quickly)."""
    import json
    import urllib.request

    data, headers = None, {}
    if isinstance(body, bytes):
        data, headers["Content-Type"] = body, "image/jpeg"
    elif body is not None:
        data, headers["Content-Type"] = json.dumps(body).encode(), "application/json"
    if token:
        headers["Authorization"] = f"Bearer {token}"
    req = urllib.request.Request(base_url + path, data=data, method=method, headers=headers)
    with urllib.request.urlopen(req, timeout=60) as response:
        return json.loads(response.read() or b"null")


def ready_participant(base_url: str, nik: str, mobile: str, birth_date: str, sex: str) -> str:
    """Register, fill the profile, upload three good photos and consent; returns the token."""
    from tests.e2e.conftest import photo_jpeg

    out = api(
        base_url,
        "POST",
        "/api/participants",
        {"nik": nik, "mobile": mobile, "email": f"{nik}@example.id"},
    )
    token = out["token"]
    profile = {"full_name": "Peserta Uji", "birth_date": birth_date, "sex": sex}
    api(base_url, "PUT", "/api/me/profile", profile, token)
    for i, kind in enumerate(("ktp", "selfie_with_ktp", "face")):
        api(base_url, "PUT", f"/api/me/documents/{kind}", photo_jpeg(seed=10 + i), token)
    api(base_url, "POST", "/api/me/consent", None, token)
    return token


def open_with_token(page: Page, token: str, path: str = "/") -> None:
    page.goto("/static/css/app.css")  # same origin, so localStorage can be set before the app runs
    page.evaluate("t => localStorage.setItem('vc_token', t)", token)
    page.goto(path)


def collect_errors(page: Page) -> list[str]:
    """Script errors, and failed requests other than the API's expected 4xx answers."""
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(f"pageerror: {exc}"))
    page.on(
        "console",
        lambda m: (
            errors.append(m.text)
            if m.type == "error" and "Failed to load resource" not in m.text
            else None
        ),
    )
    page.on(
        "response",
        lambda r: (
            errors.append(f"{r.status} {r.url}")
            if r.status >= 400 and "/api/" not in r.url
            else None
        ),
    )
    return errors
