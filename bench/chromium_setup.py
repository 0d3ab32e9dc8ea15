"""Accept -> first frame in real Chromium, on both sides: the real pages, one call after another.

    python -m bench.chromium_setup [--calls 20] [--out PATH]

The real server (``server.py``, as ``bench.calls`` starts it) and Debian Chromium with its fake
camera (Playwright's sync API, like tests/e2e, but a benchmark: nothing is asserted). Per call:
a participant is made ready over the API and opens the participant page up to the queue; a
fresh officer (one account per call: a finished call waits for its decision, which would block
the same officer's next accept) logs in, goes available and clicks "Terima berikutnya". Both
pages note, on one clock (``performance.timeOrigin + performance.now()``, epoch ms):

- the click on the officer's page,
- the first video frame presented on each page (``requestVideoFrameCallback`` on
  ``#o-remote-video`` and ``#remote-video``),
- each page's own steps on the way (``PAGE_STEPS``: camera asked/open, peer connection
  created, ICE gathered, offer made, answer applied, ICE checking/connected, DTLS), by
  wrapping ``getUserMedia`` and ``RTCPeerConnection`` before the page's scripts run,

so accept -> first frame is measured for the officer (the participant's picture) and the
participant (the officer's). The officer then hangs up and both pages close before the next
call. At the end the server's own set-up timeline is read from ``/metrics``
(``bench.server_timeline``). Results: ``bench/results/chromium-setup.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from pathlib import Path
from typing import Any

from bench.procs import start_server
from bench.report import environment, percentile, print_table, write_result
from bench.server_timeline import read_server_timeline, server_timeline_rows
from bench.signalling import (
    DOCUMENT_KINDS,
    OFFICER_PASSWORD,
    create_officers,
    make_nik,
    officer_name,
    photo,
)

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--use-fake-ui-for-media-stream",
    "--use-fake-device-for-media-stream",
    "--allow-loopback-in-peer-connection",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
STEP_TIMEOUT_MS = 30_000
# Runs in every page before its scripts: the first presented frame of a video element, and the
# officer's click on "accept next", on one clock shared by all pages of the machine.
WATCH_JS = """
window.__bench = {click: null, frames: {}, marks: {}};
const stamp = () => performance.timeOrigin + performance.now();
const mark = name => {  // every occurrence: the pre-call check opens a camera and a connection too
  (window.__bench.marks[name] = window.__bench.marks[name] || []).push(stamp());
};
// The page's own steps: camera, peer connection, ICE gathering, offer/answer, ICE, DTLS.
const gum = navigator.mediaDevices.getUserMedia.bind(navigator.mediaDevices);
navigator.mediaDevices.getUserMedia = async c => {
  mark('camera_asked'); const s = await gum(c); mark('camera_open'); return s;
};
const PC = window.RTCPeerConnection;
window.RTCPeerConnection = class extends PC {
  constructor(...a) {
    super(...a); mark('pc_created');
    this.addEventListener('icegatheringstatechange', () => {
      if (this.iceGatheringState === 'complete') mark('ice_gathered');
    });
    this.addEventListener('iceconnectionstatechange', () => {
      if (this.iceConnectionState === 'checking') mark('ice_checking');
      if (this.iceConnectionState === 'connected') mark('ice_connected');
    });
    this.addEventListener('connectionstatechange', () => {
      if (this.connectionState === 'connected') mark('dtls_connected');
    });
  }
  async setLocalDescription(d) {
    const r = await super.setLocalDescription(d); mark('offer_made'); return r;
  }
  async setRemoteDescription(d) {
    const r = await super.setRemoteDescription(d); mark('answer_applied'); return r;
  }
};
document.addEventListener('click', ev => {
  if (ev.target && ev.target.closest && ev.target.closest('#accept-next')) {
    window.__bench.click = stamp();
  }
}, true);
const watch = () => {
  for (const id of ['o-remote-video', 'remote-video']) {
    const v = document.getElementById(id);
    if (v && !v.__benchWatched && v.requestVideoFrameCallback) {
      v.__benchWatched = true;
      v.requestVideoFrameCallback(() => { window.__bench.frames[id] = stamp(); });
    }
  }
};
document.addEventListener('DOMContentLoaded', watch);
setInterval(watch, 50);
"""


def api(url: str, method: str, path: str, body: Any = None, token: str = "") -> Any:
    import urllib.request

    data, headers = None, {}
    if isinstance(body, bytes):
        data, headers["Content-Type"] = body, "image/jpeg"
    elif body is not None:
        data, headers["Content-Type"] = json.dumps(body).encode(), "application/json"
    if token:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(url + path, data=data, method=method, headers=headers)
    with urllib.request.urlopen(request, timeout=90) as response:
        return json.loads(response.read() or b"null")


def ready_participant(url: str, photos: list[bytes]) -> str:
    """Register, profile, three photos, consent (over the API); the participant's token."""
    nik = make_nik()
    body = {"nik": nik, "mobile": "081234567890", "email": "bench@example.co.id"}
    out = api(url, "POST", "/api/participants", body)
    token: str = out["token"]
    profile = {"full_name": "Peserta Bench", "birth_date": "1990-01-01", "sex": "female"}
    api(url, "PUT", "/api/me/profile", profile, token)
    for kind, data in zip(DOCUMENT_KINDS, photos, strict=True):
        api(url, "PUT", f"/api/me/documents/{kind}", data, token)
    api(url, "POST", "/api/me/consent", None, token)
    return token


def one_call(browser: Any, url: str, n: int, photos: list[bytes]) -> dict[str, Any]:
    from playwright.sync_api import expect

    token = ready_participant(url, photos)
    p_context = browser.new_context(
        viewport={"width": 360, "height": 740}, base_url=url, locale="id-ID"
    )
    o_context = browser.new_context(
        viewport={"width": 1280, "height": 900}, base_url=url, locale="id-ID"
    )
    try:
        for context in (p_context, o_context):
            context.grant_permissions(["camera", "microphone"], origin=url)
            context.add_init_script(WATCH_JS)
        participant = p_context.new_page()
        participant.goto("/static/css/app.css")  # same origin: set the token before the app
        participant.evaluate("t => localStorage.setItem('vc_token', t)", token)
        participant.goto("/")
        expect(participant.locator("#step-precheck")).to_be_visible(timeout=STEP_TIMEOUT_MS)
        participant.locator("#precheck-start").click()
        expect(participant.locator("#precheck-next")).to_be_enabled(timeout=STEP_TIMEOUT_MS)
        participant.locator("#precheck-next").click()
        expect(participant.locator("#step-queue")).to_be_visible(timeout=STEP_TIMEOUT_MS)

        officer = o_context.new_page()
        officer.goto("/officer")
        expect(officer.locator("#login")).to_be_visible(timeout=STEP_TIMEOUT_MS)
        officer.locator("#login-username").fill(officer_name(n))
        officer.locator("#login-password").fill(OFFICER_PASSWORD)
        officer.locator("#login-password").press("Enter")
        officer.locator("#presence-available").check()
        expect(officer.locator("#desk-count")).to_have_text("1", timeout=STEP_TIMEOUT_MS)
        expect(officer.locator("#accept-next")).to_be_enabled(timeout=STEP_TIMEOUT_MS)
        officer.locator("#accept-next").click()
        frames = "id => window.__bench.frames[id] != null"
        officer.wait_for_function(frames, arg="o-remote-video", timeout=STEP_TIMEOUT_MS)
        participant.wait_for_function(frames, arg="remote-video", timeout=STEP_TIMEOUT_MS)
        o_marks = officer.evaluate("() => window.__bench")
        p_marks = participant.evaluate("() => window.__bench")
        click = o_marks["click"]
        result = {
            "call": n,
            "officer_first_frame_ms": round(o_marks["frames"]["o-remote-video"] - click, 1),
            "participant_first_frame_ms": round(p_marks["frames"]["remote-video"] - click, 1),
            "officer_steps_ms": page_steps(o_marks, click),
            "participant_steps_ms": page_steps(p_marks, click),
        }
        officer.locator("#o-hangup").click()  # asks to confirm
        officer.locator("#o-hangup").click()
        return result
    finally:
        p_context.close()
        o_context.close()


PAGE_STEPS = (
    "camera_asked",
    "camera_open",
    "pc_created",
    "ice_gathered",
    "offer_made",
    "answer_applied",
    "ice_checking",
    "ice_connected",
    "dtls_connected",
)


def page_steps(marks: dict[str, Any], click: float) -> dict[str, float]:
    """A page's steps: the first occurrence after the officer's click, ms since it (what came
    before, such as the participant's pre-call check, is not part of the set-up)."""
    out = {}
    for step in PAGE_STEPS:
        after = [t for t in marks["marks"].get(step, []) if t >= click]
        if after:
            out[step] = round(min(after) - click, 1)
    return out


def run_calls(url: str, calls: int) -> tuple[list[dict[str, Any]], list[str]]:
    from playwright.sync_api import sync_playwright

    photos = [photo(i) for i in range(len(DOCUMENT_KINDS))]
    results, failures = [], []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            for n in range(calls):
                try:
                    results.append(one_call(browser, url, n, photos))
                    print(f"  call {n}: {results[-1]}")
                except Exception as exc:  # one call failing does not lose the others
                    failures.append(f"call {n}: {exc!r}"[:300])
                    print(f"  call {n} FAILED: {exc!r}"[:300])
                time.sleep(1.0)  # let the ended call's media close before the next accept
        finally:
            browser.close()
    return results, failures


def summarize(results: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {"calls": len(results)}
    for side in ("officer", "participant"):
        values = [r[f"{side}_first_frame_ms"] for r in results]
        out[f"{side}_first_frame_p50_ms"] = percentile(values, 50)
        out[f"{side}_first_frame_p95_ms"] = percentile(values, 95)
        out[f"{side}_first_frame_max_ms"] = max(values, default=None)
        steps = {}
        for step in PAGE_STEPS:
            at = [r[f"{side}_steps_ms"][step] for r in results if step in r[f"{side}_steps_ms"]]
            if at:
                steps[step] = {"p50_ms": percentile(at, 50), "p95_ms": percentile(at, 95)}
        out[f"{side}_page_steps"] = steps
    return out


def page_rows(summary: dict[str, Any]) -> list[tuple[str, str]]:
    rows = [("page steps since the click p50 / p95 ms: officer | participant", "")]
    officer, participant = summary["officer_page_steps"], summary["participant_page_steps"]
    for step in PAGE_STEPS:
        o, p = officer.get(step), participant.get(step)
        o_text = f"{o['p50_ms']} / {o['p95_ms']}" if o else "-"
        p_text = f"{p['p50_ms']} / {p['p95_ms']}" if p else "- (before the call)"
        rows.append((f"  {step}", f"{o_text} | {p_text}"))
    return rows


async def run(calls: int, out: Path | None) -> dict[str, Any]:
    env = environment()
    server = await start_server("signalling", "ours")
    try:
        await create_officers(server.data_dir, calls)
        results, failures = await asyncio.to_thread(run_calls, server.url, calls)
        timeline = await read_server_timeline(server.url)
    finally:
        await server.stop()
    summary = summarize(results) | {"failures": failures, "server_timeline": timeline}
    data: dict[str, Any] = {"benchmark": "chromium-setup", "config": {"calls": calls}}
    data |= {"env": env, "result": summary, "raw_calls": results}
    path = write_result("chromium-setup", data) if out is None else save(out, data)
    print(f"Chromium set-up benchmark: {summary['calls']} calls in sequence")
    print_table(
        [
            (
                "officer sees participant: accept -> first frame p50/p95/max ms",
                f"{summary['officer_first_frame_p50_ms']} / {summary['officer_first_frame_p95_ms']}"
                f" / {summary['officer_first_frame_max_ms']}",
            ),
            (
                "participant sees officer: accept -> first frame p50/p95/max ms",
                f"{summary['participant_first_frame_p50_ms']} / "
                f"{summary['participant_first_frame_p95_ms']} / "
                f"{summary['participant_first_frame_max_ms']}",
            ),
            ("calls failed", len(failures)),
            *page_rows(summary),
            *server_timeline_rows(timeline),
        ]
    )
    if failures:
        print(f"  server files kept in {server.data_dir}")
    else:
        server.remove_files()
    print(f"  result: {path}")
    return summary


def save(out: Path, data: dict[str, Any]) -> Path:
    out.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=20)
    parser.add_argument("--out", type=Path, help="write the result here, not bench/results/")
    args = parser.parse_args()
    if not CHROMIUM.exists():
        raise SystemExit("Debian chromium missing: run `make chromium`")
    asyncio.run(run(args.calls, args.out))


if __name__ == "__main__":
    main()
