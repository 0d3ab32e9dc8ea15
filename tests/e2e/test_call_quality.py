"""Honest quality warnings in real Chromium (issue 14, items 1 and 3).

- The page's lighting meter and the server's measure agree on the same picture.
- A call with Chromium's own fake camera on both sides shows no lighting warning, its snapshots
  are usable, and it can be approved.
- A 60 s call on loopback shows no connection warning on either side.
"""

from __future__ import annotations

import importlib.util
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest
from playwright.sync_api import Page, expect

from media.analysis import luma
from tests.e2e import journey, patient
from tests.e2e.conftest import ROOT, Server, Shots, launch, run_server
from tests.e2e.test_resume import accept, available_officer, reject_and_close

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(
        importlib.util.find_spec("signaling.participant") is None,
        reason="the /participant namespace is not built yet",
    ),
]

CONNECTION_HINTS = {"unstable_connection", "low_frame_rate", "low_bandwidth", "low_resolution"}
LIGHTING_HINTS = {"too_dark", "too_bright", "black"}
# Every hint either page ever shows, and every level the officer's light ever takes.
WATCH_HINTS = """
window.__hints = [];
window.__levels = [];
new MutationObserver(() => {
  for (const li of document.querySelectorAll('#call-hints li, #o-hints li')) {
    if (!window.__hints.includes(li.dataset.hint)) window.__hints.push(li.dataset.hint);
  }
  const level = (document.getElementById('traffic') || { dataset: {} }).dataset.level;
  if (level && !window.__levels.includes(level)) window.__levels.push(level);
}).observe(document, {subtree: true, childList: true, attributes: true, characterData: true});
"""
LEVEL_CHANGE = re.compile(r"session \S+: (participant|officer) (\w+) (ok|warn|bad) -> (warn|bad)")


# -- the same picture, measured by the page and by the server ---------------------------------


def still_y4m(path: Path, y: np.ndarray, u: int, v: int, frames: int = 20) -> Path:
    h, w = y.shape
    header = f"YUV4MPEG2 W{w} H{h} F15:1 Ip A1:1 C420jpeg\n".encode()
    chroma = np.full((h // 2) * (w // 2), 0, dtype=np.uint8)
    with path.open("wb") as f:
        f.write(header)
        for _ in range(frames):
            f.write(b"FRAME\n" + y.tobytes() + (chroma + u).tobytes() + (chroma + v).tobytes())
    return path


def pictures() -> dict[str, tuple[np.ndarray, int, int]]:
    h, w = 480, 640
    yy, xx = np.mgrid[0:h, 0:w]
    pacman = np.where((yy - 240) ** 2 + (xx - 320) ** 2 < 120**2, 255, 0).astype(np.uint8)
    rng = np.random.default_rng(4)
    return {
        # Chromium's built-in fake camera paints into Y alone, with U = V = 0.
        "fake-camera-like": (pacman, 0, 0),
        "grey-room": (rng.integers(70, 150, (h, w)).astype(np.uint8), 128, 128),
        "warm-face": (np.clip(140 + 50 * np.sin(xx / 17.0), 0, 255).astype(np.uint8), 110, 150),
        "dim": (rng.integers(25, 65, (h, w)).astype(np.uint8), 125, 132),
    }


def server_luma(clip: Path) -> float:
    with av.open(str(clip)) as container:
        frame = next(container.decode(video=0))
    return float(luma(frame).mean())


PAGE_METER = """async () => {
  const { meanLuma, thresholdsReady } = await import('/static/js/precheck.js');
  await thresholdsReady;
  const stream = await navigator.mediaDevices.getUserMedia({ video: { width: 640, height: 480 } });
  const video = document.createElement('video');
  video.muted = true;
  video.srcObject = stream;
  await video.play();
  await new Promise((r) => setTimeout(r, 800));
  const canvas = document.createElement('canvas');
  canvas.width = 160;
  canvas.height = 120;
  return meanLuma(video, canvas);
}"""


@pytest.mark.parametrize("name", list(pictures()))
def test_page_meter_and_server_agree_on_the_same_picture(
    server: Server, playwright_instance: Any, tmp_path: Path, name: str
) -> None:
    y, u, v = pictures()[name]
    clip = still_y4m(tmp_path / f"{name}.y4m", y, u, v)
    browser = launch(playwright_instance, [f"--use-file-for-fake-video-capture={clip}"])
    try:
        page = browser.new_page(base_url=server.url)  # type: ignore[attr-defined]
        page.context.grant_permissions(["camera"], origin=server.url)
        page.goto("/static/css/app.css")  # same origin, so the page's own module is importable
        on_page = page.evaluate(PAGE_METER)
    finally:
        browser.close()  # type: ignore[attr-defined]
    on_server = server_luma(clip)
    print(f"{name}: page {on_page:.1f}, server {on_server:.1f}, Y plane {y.mean():.1f}")
    assert abs(on_page - on_server) <= 10.0


# -- calls with Chromium's own fake camera ------------------------------------------------------


@pytest.fixture
def own_server(server: Server, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Server]:
    with run_server(tmp_path / "data", log_name=f"e2e-server-{request.node.name}.log") as s:
        yield s


def server_level_changes(request: pytest.FixtureRequest) -> list[tuple[str, ...]]:
    log = ROOT / "test-output" / f"e2e-server-{request.node.name}.log"
    return [m.groups() for m in LEVEL_CHANGE.finditer(log.read_text(errors="replace"))]


def watched_call(browser: Any, server: Server, nik: str, mobile: str) -> tuple[Page, Page, str]:
    """A participant (phone) and an officer (desktop) in a call, both pages watching hints."""
    token = patient.ready_participant(server.url, nik, mobile)
    participant = journey.new_mobile_page(browser, server.url)
    participant.add_init_script(WATCH_HINTS)
    journey.open_with_token(participant, token)
    journey.pass_precheck(participant)
    expect(participant.locator("#check-light")).to_have_attribute("data-status", "ok")
    participant.locator("#precheck-next").click()
    expect(participant.locator("#queue-position")).to_have_text("1", timeout=10000)
    officer = available_officer(browser, server)
    officer.add_init_script(WATCH_HINTS)
    for page in (officer, participant):  # both pages are already open
        page.evaluate(f"() => {{ {WATCH_HINTS} }}")
    code = accept(officer, participant)
    return participant, officer, code


def seen_hints(page: Page) -> set[str]:
    return set(page.evaluate("() => window.__hints"))


def test_fake_camera_call_has_no_lighting_warning_and_can_be_approved(
    own_server: Server, browser: Any, shots: Shots, request: pytest.FixtureRequest
) -> None:
    participant, officer, _ = watched_call(browser, own_server, "3201014101900041", "081234567841")
    errors = journey.collect_errors(officer)
    expect(officer.locator("#traffic")).to_have_attribute("data-level", "ok", timeout=15000)
    participant.wait_for_timeout(6000)  # a dozen analysed samples, several hold periods
    for kind in ("face", "ktp"):
        officer.locator(f"#snap-{kind}").click()
        caption = officer.locator(f"#snapshots figure[data-kind={kind}] figcaption")
        expect(caption).to_contain_text("dapat dipakai", timeout=15000)
        expect(caption).not_to_contain_text("pencahayaan buruk")
    for box in officer.locator("input[name=checklist]").all():
        box.check()
    officer.locator("#result-approved").check()
    shots(officer, "officer-fake-camera")
    shots(participant, "participant-fake-camera", full_page=False)
    assert not (seen_hints(participant) | seen_hints(officer)) & LIGHTING_HINTS
    officer.locator("#decide").click()
    expect(officer.locator("#decision-done")).to_be_visible(timeout=20000)
    expect(participant.locator("#step-result")).to_be_visible(timeout=20000)
    expect(participant.locator("#result-state")).to_have_attribute("data-state", "under_review")
    changes = server_level_changes(request)
    assert not [c for c in changes if c[1] in ("darkness", "brightness", "black")], changes
    assert not errors, errors
    for page in (participant, officer):
        page.context.close()


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_sixty_second_loopback_call_shows_no_connection_warning(
    own_server: Server, browser: Any, shots: Shots, request: pytest.FixtureRequest
) -> None:
    participant, officer, _ = watched_call(browser, own_server, "3201014101900042", "081234567842")
    expect(officer.locator("#traffic")).to_have_attribute("data-level", "ok", timeout=15000)
    participant.wait_for_timeout(60000)
    shots(officer, "officer-after-60s")
    shots(participant, "participant-after-60s", full_page=False)
    p_hints, o_hints = seen_hints(participant), seen_hints(officer)
    levels = officer.evaluate("() => window.__levels")
    changes = server_level_changes(request)
    assert not p_hints and not o_hints, (p_hints, o_hints, changes)
    assert set(levels) <= {"unknown", "ok"}, levels
    assert not changes, changes
    reject_and_close(officer, participant)
