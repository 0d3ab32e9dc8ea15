"""From the app to the call and back, in real Chromium at 360x740: the upstream system creates a
record and a hand-off link; the link opens the page at the record's step without registering
again (profile fields the app sent are filled in), the code leaves the address bar, the journey
goes on to the queue; a stub host bridge (``window.ReactNativeWebView``) receives the events in
order, up to the call's end, the review and the result; a second use of the link gets a clear
page in Indonesian."""

from __future__ import annotations

import importlib.util
import json
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.e2e import journey
from tests.e2e.conftest import SUPERVISOR, Server, Shots, photo_jpeg, run_server
from tests.e2e.test_full_call import bright_browser
from tests.e2e.test_resume import accept, available_officer
from tests.e2e.test_staff_pages import log_in, staff_page

pytestmark = pytest.mark.e2e
_ = bright_browser  # a fixture, shared with the full-call test

API_KEY = "e2e-upstream-key"
# The app's web view, as react-native-webview injects it: every event arrives as JSON text.
# Each is also handed to the test (``hostPost``), which keeps them across a navigation.
HOST_STUB = """
window.__hostEvents = [];
window.ReactNativeWebView = {
  postMessage: (text) => {
    window.__hostEvents.push(JSON.parse(text));
    if (window.hostPost) window.hostPost(text);
  },
};
"""
PROFILE = {"full_name": "Sari Wulandari", "birth_date": "1990-01-01", "sex": "female"}


def upstream(server: Server, method: str, path: str, body: Any = None, token: str = "") -> Any:
    """The app's backend (API key), or with ``token`` the participant; photos are bytes."""
    headers = {"X-API-Key": API_KEY, "Content-Type": "application/json"}
    data = body if isinstance(body, bytes) else json.dumps(body).encode() if body else None
    if isinstance(body, bytes):
        headers["Content-Type"] = "image/jpeg"
    if token:
        headers = {**headers, "Authorization": f"Bearer {token}"}
        del headers["X-API-Key"]
    req = urllib.request.Request(server.url + path, data=data, method=method, headers=headers)
    # Generous: the first photo of a fresh server starts its worker processes on a busy machine.
    with urllib.request.urlopen(req, timeout=60) as response:
        return json.loads(response.read())


def app_page(browser: Any, server: Server) -> Page:
    page = journey.new_mobile_page(browser, server.url)
    page.add_init_script(HOST_STUB)
    return page


def host_events(page: Page) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = page.evaluate("() => window.__hostEvents")
    return events


def wait_for_event(page: Page, type_: str, timeout: float = 20000) -> None:
    page.wait_for_function(
        "t => window.__hostEvents.some(e => e.type === t)", arg=type_, timeout=timeout
    )


def link_path(link: dict[str, Any]) -> str:
    return "/r/" + str(link["url"]).rsplit("/r/", 1)[1]


def test_the_link_opens_the_page_at_its_step_and_goes_on_to_the_queue(
    server: Server, browser: Any, photos: dict[str, Path], shots: Shots
) -> None:
    created = upstream(
        server,
        "POST",
        "/api/upstream/records",
        {"nik": "3201014101900021", "mobile": "081234567821", "email": "sari@example.id"},
    )
    record = created["record"]
    link = upstream(
        server, "POST", f"/api/upstream/records/{record['id']}/handoff", {"profile": PROFILE}
    )
    page = app_page(browser, server)
    errors = journey.collect_errors(page)
    registrations: list[str] = []
    page.on(
        "request",
        lambda r: registrations.append(r.url) if r.url.endswith("/api/participants") else None,
    )
    page.goto(link_path(link))

    # At the record's step, with what the app sent filled in; the code is gone from the address.
    expect(page.locator("#step-profile")).to_be_visible()
    assert page.url == server.url + "/"
    # Replaced, not pushed: the only entries are the blank tab and this page.
    assert page.evaluate("() => history.length") == 2
    assert page.evaluate("() => localStorage.getItem('vc_token')")
    expect(page.locator("#full_name")).to_have_value(PROFILE["full_name"])
    expect(page.locator("#birth_date")).to_have_value("01/01/1990")  # shown dd/mm/yyyy
    expect(page.locator("#sex-female")).to_be_checked()
    expect(page.locator("#handoff-prefilled")).to_contain_text("diisi dari aplikasi")
    shots(page, "handoff-profile-prefilled")

    page.locator("#form-profile button[type=submit]").click()
    expect(page.locator("#step-documents")).to_be_visible()
    for kind in ("ktp", "selfie_with_ktp", "face"):
        journey.upload(page, kind, photos[kind])
        ok = expect(page.locator(f".doc[data-kind={kind}]"))
        ok.to_have_attribute("data-status", "ok", timeout=30000)  # a busy machine is slow
    page.locator("#documents-next").click()
    journey.consent(page)
    journey.pass_precheck(page)
    page.locator("#precheck-next").click()
    expect(page.locator("#step-queue")).to_be_visible()
    expect(page.locator("#queue-position")).to_have_text("1", timeout=10000)
    shots(page, "handoff-queue")
    assert registrations == [], "the link must not register the person again"

    events = host_events(page)
    assert [(e["type"], e.get("step")) for e in events] == [
        ("opened", "profile"),
        ("step", "documents"),
        ("step", "consent"),
        ("step", "precheck"),
        ("step", "queue"),
    ]
    assert all(e["source"] == "videocall" and e["version"] == 1 for e in events)
    assert events[0]["record_id"] == record["id"]
    assert events[0]["reference"] == record["reference"]
    token = page.evaluate("() => localStorage.getItem('vc_token')")
    assert not [e for e in events if token in json.dumps(e)]
    page.locator("#queue-leave").click()  # the shared server's queue stays empty for later tests
    assert not errors, errors

    # The same link a second time: a clear page in Indonesian, and the app is told.
    again = app_page(browser, server)
    response = again.goto(link_path(link))
    assert response is not None and response.status == 410
    expect(again.locator("#handoff-reason")).to_contain_text("sudah pernah dibuka")
    expect(again.locator("#handoff-what-to-do")).to_contain_text("Buka lagi dari aplikasi")
    wait_for_event(again, "link_refused")
    assert host_events(again)[-1]["error"] == "handoff_used"
    shots(again, "handoff-used")
    # No return URL on this server: the button only tells the app, which closes its web view.
    again.locator("#host-return-button").click()
    wait_for_event(again, "back_to_app")
    assert host_events(again)[-1]["return_url"] is None
    for p in (page, again):
        p.context.close()


def test_a_link_used_meanwhile_is_refused_by_the_page_too(server: Server, browser: Any) -> None:
    """The page was served while the link was good, but another tab used it first."""
    created = upstream(
        server,
        "POST",
        "/api/upstream/records",
        {"nik": "3201014101900023", "mobile": "081234567823", "email": "rina@example.id"},
    )
    code = link_path(created["handoff"]).removeprefix("/r/")
    page = app_page(browser, server)

    def other_tab_first(route: Any) -> None:
        journey.api(server.url, "POST", "/api/handoff/exchange", {"code": code})
        route.continue_()

    page.route("**/api/handoff/exchange", other_tab_first)
    page.goto(f"/r/{code}")
    expect(page.locator("#handoff-refused")).to_contain_text("sudah pernah dibuka")
    expect(page.locator("#handoff-refused")).to_contain_text("Buka lagi dari aplikasi")
    assert page.url == server.url + "/"
    assert page.evaluate("() => localStorage.getItem('vc_token')") is None
    expect(page.locator("#step-register")).to_be_hidden()
    wait_for_event(page, "link_refused")
    assert [e["type"] for e in host_events(page)] == ["link_refused"]
    expect(page.locator("#host-return-button")).to_be_visible()
    page.context.close()


@pytest.fixture
def own_server(server: Server, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Server]:
    """A server of this test's own (a call a failed test leaves open stays here), with a return
    URL for the "Kembali ke aplikasi" button."""
    extra = {"APP_RETURN_URL": "https://app.example.id/kembali"}
    with run_server(tmp_path / "data", extra, log_name=f"e2e-server-{request.node.name}.log") as s:
        yield s


@pytest.mark.skipif(
    importlib.util.find_spec("signaling.participant") is None,
    reason="the /participant and /officer namespaces are not built yet",
)
def test_the_app_hears_the_call_end_the_review_and_the_result(
    own_server: Server, bright_browser: Any, shots: Shots
) -> None:
    server, browser = own_server, bright_browser
    created = upstream(
        server,
        "POST",
        "/api/upstream/records",
        {"nik": "3201014101900022", "mobile": "081234567822", "email": "dewi@example.id"},
    )
    token, record_id = created["token"], created["record"]["id"]
    upstream(server, "PUT", "/api/me/profile", PROFILE, token)
    for i, kind in enumerate(("ktp", "selfie_with_ktp", "face")):
        upstream(server, "PUT", f"/api/me/documents/{kind}", photo_jpeg(seed=30 + i), token)

    participant = app_page(browser, server)
    heard: list[dict[str, Any]] = []
    participant.expose_function("hostPost", lambda text: heard.append(json.loads(text)))
    participant.goto(link_path(created["handoff"]))
    expect(participant.locator("#step-consent")).to_be_visible()
    journey.consent(participant)
    journey.pass_precheck(participant)
    participant.locator("#precheck-next").click()
    expect(participant.locator("#queue-position")).to_have_text("1", timeout=10000)

    officer = available_officer(browser, server)
    accept(officer, participant)
    wait_for_event(participant, "call_started")
    officer.locator("#snap-face").click()
    expect(officer.locator("#snapshots figure[data-kind=face] img")).to_be_visible(timeout=15000)
    officer.locator("#snap-ktp").click()
    expect(officer.locator("#snapshots figure[data-kind=ktp] img")).to_be_visible(timeout=15000)
    # The officer hangs up first: the call is over, the decision still to come.
    officer.locator("#o-hangup").click()
    officer.locator("#o-hangup").click()
    expect(officer.locator("#o-hangup")).to_be_disabled(timeout=15000)
    expect(participant.locator("#step-result")).to_be_visible(timeout=20000)
    wait_for_event(participant, "call_finished")
    finished = next(e for e in host_events(participant) if e["type"] == "call_finished")
    assert (finished["awaiting_decision"], finished["state"]) == (True, "in_call")
    for box in officer.locator("input[name=checklist]").all():
        box.check()
    officer.locator("#result-approved").check()
    officer.locator("#decide").click()
    expect(officer.locator("#decision-done")).to_be_visible(timeout=15000)
    wait_for_event(participant, "under_review")  # seen by the status page's own polling
    expect(participant.locator("#host-return-button")).to_be_visible()
    shots(participant, "handoff-under-review")

    supervisor = staff_page(browser, server)
    supervisor.goto("/supervisor")
    log_in(supervisor, *SUPERVISOR)
    supervisor.locator("#review-list button").click()
    supervisor.locator("#action-confirm").check()
    supervisor.locator("#review-submit").click()
    expect(supervisor.locator("#review-done")).to_have_attribute("data-state", "active")
    participant.locator("#result-refresh").click()
    wait_for_event(participant, "result")

    types = [e["type"] for e in host_events(participant)]
    assert types[0] == "opened" and types.count("opened") == 1
    named = [t for t in types if t not in ("opened", "step")]
    assert named == ["call_started", "call_finished", "under_review", "result"], types
    last = host_events(participant)[-1]
    assert (last["result"], last["state"], last["record_id"]) == ("approved", "active", record_id)

    # "Kembali ke aplikasi": the app is told, then the page goes to the configured return URL.
    participant.route("https://app.example.id/**", lambda route: route.fulfill(body="kembali"))
    participant.locator("#host-return-button").click()
    participant.wait_for_url("https://app.example.id/kembali")
    assert heard[-1]["type"] == "back_to_app"
    assert heard[-1]["return_url"] == "https://app.example.id/kembali"
    for page in (participant, officer, supervisor):
        page.context.close()
