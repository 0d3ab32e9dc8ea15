"""Reading rendered KTP photos with Tesseract (Debian's tesseract-ocr + tesseract-ocr-ind).

The cards are drawn here with Pillow and a Debian font in the KTP's layout, then photographed
in software: rotated within ±8°, scaled, blurred, JPEG-compressed and lit unevenly. What this
shows: the preprocessing and the NIK rules read a clean printed layout under those distortions.
What it cannot show: real cards (guilloche background, hologram glare, worn print, the real
typeface) — those need a set of consented real photos, which a test suite cannot ship.
"""

from __future__ import annotations

import io
import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from datetime import date

import pytest
from PIL import Image

from tests.assist_support import Card, Variant, photograph, render_ktp, variants
from videocall.adapters.ktp_ocr import otsu_level, read_ktp
from videocall.ktp import KtpFields, Registered, compare
from videocall.nik import Sex

TODAY = date(2026, 11, 25)
CARD = Card(
    nik="3578106512880016",  # Jawa Timur, born 25-12-1988, female; digits with look-alikes
    name="DEWI LESTARI",
    birth="SURABAYA, 25-12-1988",
    sex="PEREMPUAN",
    province="JAWA TIMUR",
    regency="KOTA SURABAYA",
)
REGISTERED = Registered(
    nik=CARD.nik, full_name="Dewi Lestari", birth_date=date(1988, 12, 25), sex=Sex.FEMALE
)


@pytest.mark.timeout(600)  # ~25 CPU-seconds; far longer on a machine busy with other work
def test_nik_read_exactly_in_at_least_95_percent_of_40_photos() -> None:
    card = render_ktp(CARD)
    photos = variants(40)
    # Two worker processes: the reads are independent and each is ~0.5 CPU-second.
    context = multiprocessing.get_context("forkserver")
    with ProcessPoolExecutor(2, mp_context=context) as pool:
        reads = list(pool.map(_read, [photograph(card, v) for v in photos]))
    exact = [f.nik == CARD.nik for f in reads]
    misses = [(v, f.nik) for v, f, ok in zip(photos, reads, exact, strict=True) if not ok]
    assert sum(exact) / len(exact) >= 0.95, misses
    # The other fields come along, compared tolerantly with the registration.
    results = [compare(f, REGISTERED, today=TODAY) for f in reads]
    assert sum(r.name == "same" for r in results) >= 36
    assert sum(r.birth_date == "same" for r in results) >= 36
    assert sum(r.card_consistent == "same" for r in results) >= 36


def test_one_digit_mismatch_is_reported() -> None:
    registered = Registered("3578106512880026", "Dewi Lestari", None, None)  # card: ...0016
    photo = photograph(render_ktp(CARD), variants(1, seed=7)[0])
    result = compare(read_ktp(photo, TODAY).fields, registered, today=TODAY)
    assert result.nik == "mismatch"
    assert result.nik_differing_digits == 1
    assert result.name == "same"


def _read(photo: bytes) -> KtpFields:
    return read_ktp(photo, TODAY).fields


def _jpeg(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=70)
    return out.getvalue()


@pytest.mark.parametrize(
    "photo",
    [
        _jpeg(Image.new("RGB", (900, 600), (120, 110, 100))),  # a blank wall
        photograph(render_ktp(CARD), Variant(3.0, 900, 6.0, 60, 1.0, 0.0)),  # badly blurred
        b"not a picture at all",
    ],
    ids=["blank", "blurred", "not-an-image"],
)
def test_unreadable_photo_is_a_result(photo: bytes) -> None:
    fields = read_ktp(photo, TODAY).fields
    assert compare(fields, REGISTERED, today=TODAY).nik == "unreadable"


def test_otsu_separates_two_levels() -> None:
    import numpy as np

    pixels = np.array([[30] * 50 + [200] * 50] * 10, dtype=np.uint8)
    assert 30 <= otsu_level(pixels) < 200
