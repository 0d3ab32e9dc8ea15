"""Setting a participant up over the API with a timeout that survives a busy machine.

Uploads now run the photo check and the officer assist's analysis in the server's CPU pool, which
a fresh per-test server starts on the first upload: on a loaded 2-core machine that takes longer
than ``journey.api``'s 10 s. Same steps as ``journey.ready_participant``; only the patience differs.
"""

from __future__ import annotations

import json
import urllib.request
from typing import Any

from playwright.sync_api import Page, expect

from tests.e2e import journey
from tests.e2e.conftest import Server, photo_jpeg

TIMEOUT_S = 90


def api(base_url: str, method: str, path: str, body: Any = None, token: str = "") -> Any:
    data, headers = None, {}
    if isinstance(body, bytes):
        data, headers["Content-Type"] = body, "image/jpeg"
    elif body is not None:
        data, headers["Content-Type"] = json.dumps(body).encode(), "application/json"
    if token:
        headers["Authorization"] = f"Bearer {token}"
    req = urllib.request.Request(base_url + path, data=data, method=method, headers=headers)
    with urllib.request.urlopen(req, timeout=TIMEOUT_S) as response:
        return json.loads(response.read() or b"null")


def ready_participant(base_url: str, nik: str, mobile: str) -> str:
    """Registered, profile filled (born 1990-01-01, female, as the test NIKs say), three good
    photos, consent given; returns the token."""
    body = {"nik": nik, "mobile": mobile, "email": f"{nik}@example.id"}
    token = str(api(base_url, "POST", "/api/participants", body)["token"])
    profile = {"full_name": "Peserta Uji", "birth_date": "1990-01-01", "sex": "female"}
    api(base_url, "PUT", "/api/me/profile", profile, token)
    for i, kind in enumerate(("ktp", "selfie_with_ktp", "face")):
        api(base_url, "PUT", f"/api/me/documents/{kind}", photo_jpeg(seed=10 + i), token)
    api(base_url, "POST", "/api/me/consent", None, token)
    return token


def queued_participant(browser: Any, server: Server, nik: str, mobile: str) -> Page:
    """A participant (phone) past the pre-call check, first in the queue."""
    token = ready_participant(server.url, nik, mobile)
    page = journey.new_mobile_page(browser, server.url)
    journey.open_with_token(page, token)
    journey.pass_precheck(page)
    page.locator("#precheck-next").click()
    expect(page.locator("#queue-position")).to_have_text("1", timeout=15000)
    return page
