import io

import pytest
from PIL import Image

from tests.support import photo_bytes
from videocall.documents import DocumentRules, clean_image
from videocall.errors import TooLarge, ValidationError

RULES = DocumentRules()


def gps_exif() -> bytes:
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"
    exif[0x8825] = {1: "S", 2: (6.0, 12.0, 30.0), 3: "E", 4: (106.0, 48.0, 0.0)}
    return exif.tobytes()


def test_good_photo_passes_with_scores() -> None:
    img = clean_image(photo_bytes(), RULES)
    assert img.content_type == "image/jpeg"
    assert (img.width, img.height) == (800, 600)
    assert img.verdicts == ()
    assert 100 < img.metrics.mean_luma < 180


def test_exif_and_gps_are_stripped() -> None:
    raw = photo_bytes(exif=gps_exif())
    assert Image.open(io.BytesIO(raw)).getexif().get(0x8825) is not None
    cleaned = clean_image(raw, RULES)
    exif = Image.open(io.BytesIO(cleaned.data)).getexif()
    assert len(exif) == 0


def test_png_accepted() -> None:
    assert clean_image(photo_bytes(fmt="PNG"), RULES).content_type == "image/png"


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (b"GIF89a" + b"\0" * 100, "image_unreadable"),
        (b"%PDF-1.4 not an image", "image_unreadable"),
        (photo_bytes()[:200], "image_unreadable"),  # truncated
    ],
)
def test_not_an_image(data: bytes, code: str) -> None:
    with pytest.raises(ValidationError) as exc:
        clean_image(data, RULES)
    assert exc.value.code == code


def test_other_image_formats_refused() -> None:
    out = io.BytesIO()
    Image.new("RGB", (800, 600), "white").save(out, format="GIF")
    with pytest.raises(ValidationError) as exc:
        clean_image(out.getvalue(), RULES)
    assert exc.value.code in ("image_type", "image_unreadable")


def test_too_small_and_too_large() -> None:
    with pytest.raises(ValidationError) as exc:
        clean_image(photo_bytes(width=200, height=150), RULES)
    assert exc.value.code == "image_too_small"
    with pytest.raises(TooLarge):
        clean_image(photo_bytes(), DocumentRules(max_bytes=1000))


def test_dark_bright_and_blurry_verdicts() -> None:
    assert "too_dark" in clean_image(photo_bytes(brightness=25), RULES).verdicts
    assert "too_bright" in clean_image(photo_bytes(brightness=245), RULES).verdicts
    assert "blurry" in clean_image(photo_bytes(blur=True), RULES).verdicts
