"""Officer assist in real Chromium: a KTP photo with another NIK is flagged to the participant
beside the photo, a retake clears it; in the call the officer's view shows the KTP as read and
the face scores, marked "bantuan, bukan keputusan". Its own server, so that the call it leaves
waiting for a decision does not hold up the shared officer of the other tests."""

from __future__ import annotations

import importlib.util
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from playwright.sync_api import expect
from skimage import data

from tests.assist_support import Card, Variant, photograph, render_ktp
from tests.e2e import journey
from tests.e2e.conftest import OFFICER, Server, Shots, bright_y4m, launch, run_server
from tests.e2e.test_full_call import video_is_playing
from tests.e2e.test_staff_pages import log_in, staff_page

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(
        importlib.util.find_spec("signaling.officer") is None,
        reason="the /officer namespace is not built yet",
    ),
]

NIK = "3204095708900003"  # born 17-08-1990, female
OTHER_NIK = "3204095708900013"  # one digit differs
PHOTO = Variant(angle=-3.0, width=1100, blur=0.3, quality=85, brightness=1.0, shadow=0.1)


def _jpeg(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.convert("RGB").save(out, format="JPEG", quality=88)
    return out.getvalue()


def _person() -> Image.Image:
    return Image.fromarray(data.astronaut())  # Eileen Collins, NASA, public domain


def _ktp(nik: str) -> bytes:
    card = Card(nik=nik, name="SITI NURHALIZA", birth="BANDUNG, 17-08-1990", sex="PEREMPUAN")
    return photograph(render_ktp(card, face=_person().crop((120, 30, 330, 300))), PHOTO)


def _selfie() -> bytes:
    canvas = Image.new("RGB", (1200, 800), (200, 200, 200))
    canvas.paste(_person().resize((760, 760)), (0, 20))
    canvas.paste(Image.open(io.BytesIO(_ktp(NIK))).resize((440, 300)), (740, 440))
    return _jpeg(canvas)


@pytest.fixture(scope="module")
def assist_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with run_server(tmp_path_factory.mktemp("assist-data"), log_name="e2e-assist.log") as s:
        yield s


@pytest.fixture(scope="module")
def camera_browser(playwright_instance: Any, tmp_path_factory: pytest.TempPathFactory) -> Any:
    clip = bright_y4m(tmp_path_factory.mktemp("clips") / "bright.y4m")
    b = launch(playwright_instance, [f"--use-file-for-fake-video-capture={clip}"])
    yield b
    b.close()


def _file(tmp: Path, name: str, content: bytes) -> Path:
    path = tmp / name
    path.write_bytes(content)
    return path


@pytest.mark.timeout(600)  # the OCR and face models run on a machine shared with other work
def test_ktp_nik_check_and_officer_assist(
    assist_server: Server, camera_browser: Any, shots: Shots, tmp_path: Path
) -> None:
    server = assist_server
    out = journey.api(
        server.url,
        "POST",
        "/api/participants",
        {"nik": NIK, "mobile": "081234567891", "email": "siti@example.id"},
    )
    token = out["token"]
    profile = {"full_name": "Siti Nurhaliza", "birth_date": "1990-08-17", "sex": "female"}
    journey.api(server.url, "PUT", "/api/me/profile", profile, token)

    participant = journey.new_mobile_page(camera_browser, server.url)
    p_errors = journey.collect_errors(participant)
    journey.open_with_token(participant, token)
    expect(participant.locator("#step-documents")).to_be_visible()
    box = participant.locator("#assist-ktp")

    journey.upload(participant, "ktp", _file(tmp_path, "ktp-other.jpg", _ktp(OTHER_NIK)))
    expect(box).to_have_attribute("data-assist", "mismatch", timeout=120000)
    expect(box).to_contain_text(
        "NIK pada foto KTP tidak sama dengan NIK yang didaftarkan — foto ulang KTP Anda"
    )
    shots(participant, "participant-ktp-nik-mismatch")

    journey.upload(participant, "ktp", _file(tmp_path, "ktp.jpg", _ktp(NIK)))
    expect(box).to_have_attribute("data-assist", "match", timeout=120000)
    journey.upload(participant, "selfie_with_ktp", _file(tmp_path, "selfie.jpg", _selfie()))
    journey.upload(participant, "face", _file(tmp_path, "face.jpg", _jpeg(_person())))
    expect(participant.locator("#documents-next")).to_be_enabled()
    participant.locator("#documents-next").click()
    journey.consent(participant)
    journey.pass_precheck(participant)
    participant.locator("#precheck-next").click()
    expect(participant.locator("#queue-position")).to_have_text("1", timeout=10000)

    officer = staff_page(camera_browser, server)
    o_errors = journey.collect_errors(officer)
    officer.goto("/officer")
    log_in(officer, *OFFICER)
    officer.locator("#presence-available").check()
    expect(officer.locator("#desk-count")).to_have_text("1", timeout=10000)
    officer.locator("#accept-next").click()
    expect(officer.locator("#callview")).to_be_visible(timeout=10000)

    panel = officer.locator("#assist-panel")
    expect(panel).to_be_visible(timeout=20000)
    expect(officer.locator("#assist-notice")).to_have_text("bantuan, bukan keputusan")
    nik_row = officer.locator("#assist-ktp-table tr[data-field=nik] td[data-check]")
    expect(nik_row).to_have_attribute("data-check", "match", timeout=120000)
    expect(officer.locator("#assist-ktp-table tr[data-field=name] td[data-check]")).to_have_text(
        "sama"
    )
    ktp_face = officer.locator("#assist-faces li[data-pair=ktp_vs_face]")
    expect(ktp_face).to_have_attribute("data-band", "similar", timeout=120000)
    expect(ktp_face).to_contain_text("mirip")
    expect(officer.locator("#assist-faces li[data-pair=selfie_person_vs_card]")).to_have_attribute(
        "data-band", "similar"
    )
    # A live snapshot is compared with the KTP too; the fake camera shows stripes, no face.
    video_is_playing(officer, "#o-remote-video")
    officer.locator("#snap-face").click()
    expect(officer.locator("#snapshots figure[data-kind=face] img")).to_be_visible(timeout=15000)
    snapshot = officer.locator("#assist-faces li[data-pair=snapshot_vs_ktp]")
    expect(snapshot).to_have_attribute("data-band", "no_face", timeout=120000)
    panel.scroll_into_view_if_needed()
    shots(officer, "officer-assist")

    officer.locator("#o-hangup").click()
    officer.locator("#o-hangup").click()  # asked twice
    expect(officer.locator("#o-hangup")).to_be_disabled(timeout=15000)
    assert not p_errors, p_errors
    assert not o_errors, o_errors
    for page in (participant, officer):
        page.context.close()
