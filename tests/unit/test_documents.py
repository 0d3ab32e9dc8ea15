import io
import zlib

import pytest
from PIL import Image, ImageCms, PngImagePlugin

from tests.support import photo_bytes
from videocall.documents import DocumentRules, clean_image, decode_cost
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


# -- metadata: nothing but pixels comes back ----------------------------------------------------

COMMENT = b"GPS -6.175392, 106.827153 <script>alert(1)</script>"
XMP = b'http://ns.adobe.com/xap/1.0/\x00<x:xmpmeta xmlns:x="adobe:ns:meta/">secret</x:xmpmeta>'
IPTC = b"Photoshop 3.0\x008BIM\x04\x04\x00\x00\x00\x00\x00\x0c\x1c\x02\x78\x00\x07Jakarta"


def jpeg_segments(data: bytes) -> list[tuple[int, bytes]]:
    """(marker, payload) of every segment before the scan data."""
    assert data[:2] == b"\xff\xd8"
    pos, found = 2, []
    while pos < len(data):
        assert data[pos] == 0xFF, f"not a marker at {pos}"
        marker = data[pos + 1]
        length = int.from_bytes(data[pos + 2 : pos + 4], "big")
        found.append((marker, data[pos + 4 : pos + 2 + length]))
        if marker == 0xDA:  # start of scan: entropy-coded data follows
            break
        pos += 2 + length
    return found


def with_segments(jpeg: bytes, segments: list[tuple[int, bytes]]) -> bytes:
    """``jpeg`` with extra segments inserted right after SOI."""
    extra = b"".join(
        bytes([0xFF, marker]) + (len(payload) + 2).to_bytes(2, "big") + payload
        for marker, payload in segments
    )
    return jpeg[:2] + extra + jpeg[2:]


def png_chunks(data: bytes) -> list[bytes]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, names = 8, []
    while pos < len(data):
        length = int.from_bytes(data[pos : pos + 4], "big")
        names.append(data[pos + 4 : pos + 8])
        pos += 12 + length
    return names


def png_chunk(name: bytes, payload: bytes) -> bytes:
    crc = zlib.crc32(name + payload).to_bytes(4, "big")
    return len(payload).to_bytes(4, "big") + name + payload + crc


def test_jpeg_comment_and_every_app_segment_are_removed() -> None:
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    raw = with_segments(
        photo_bytes(exif=gps_exif()),
        [
            (0xFE, COMMENT),  # COM
            (0xE1, XMP),  # APP1 XMP
            (0xE2, b"ICC_PROFILE\x00\x01\x01" + icc),  # APP2 ICC
            (0xEC, b"Ducky\x00\x01\x00\x04\x00\x00\x00\x50"),  # APP12
            (0xED, IPTC),  # APP13 IPTC (Photoshop)
            (0xEF, b"vendor notes"),  # APP15
        ],
    )
    markers = {m for m, _ in jpeg_segments(raw)}
    assert {0xFE, 0xE1, 0xE2, 0xEC, 0xED, 0xEF} <= markers

    cleaned = clean_image(raw, RULES).data

    segments = jpeg_segments(cleaned)
    apps = [(m, p) for m, p in segments if 0xE0 <= m <= 0xEF or m == 0xFE]
    assert apps == [(0xE0, apps[0][1])] and apps[0][1].startswith(b"JFIF\x00")
    assert b"GPS" not in cleaned and b"<script>" not in cleaned and b"Jakarta" not in cleaned
    assert Image.open(io.BytesIO(cleaned)).info.get("comment") is None


def test_png_text_icc_exif_and_time_chunks_are_removed() -> None:
    source = Image.open(io.BytesIO(photo_bytes(fmt="PNG")))
    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", COMMENT.decode())
    info.add_itxt("XML:com.adobe.xmp", XMP.decode(errors="ignore"), zip=True)
    info.add_text("Location", "GPS -6.1754", zip=True)
    out = io.BytesIO()
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    source.save(out, format="PNG", pnginfo=info, icc_profile=icc, exif=gps_exif(), dpi=(300, 300))
    raw = out.getvalue()
    raw = raw[:-12] + png_chunk(b"tIME", b"\x07\xea\x0b\x19\x0c\x00\x00") + raw[-12:]
    assert {b"tEXt", b"iTXt", b"zTXt", b"iCCP", b"eXIf", b"pHYs", b"tIME"} <= set(png_chunks(raw))

    cleaned = clean_image(raw, RULES).data

    assert set(png_chunks(cleaned)) <= {b"IHDR", b"PLTE", b"tRNS", b"IDAT", b"IEND"}
    assert b"GPS" not in cleaned and b"<script>" not in cleaned


def test_png_transparency_is_kept() -> None:
    image = Image.new("P", (800, 600))
    image.putpalette([0, 0, 0, 200, 30, 30] + [90] * 762)
    image.paste(1, (0, 0, 400, 600))
    out = io.BytesIO()
    image.save(out, format="PNG", transparency=0)
    cleaned = clean_image(out.getvalue(), RULES).data
    assert b"tRNS" in png_chunks(cleaned)
    assert Image.open(io.BytesIO(cleaned)).convert("RGBA").getpixel((700, 10))[3] == 0


def test_upright_and_grey_photos_keep_their_pixels() -> None:
    exif = Image.Exif()
    exif[0x0112] = 6  # rotated 90 degrees: stored 800x600, shown 600x800
    cleaned = clean_image(photo_bytes(exif=exif.tobytes()), RULES)
    assert (cleaned.width, cleaned.height) == (600, 800)
    decoded = Image.open(io.BytesIO(cleaned.data))
    assert decoded.size == (600, 800) and len(decoded.getexif()) == 0
    grey = io.BytesIO()
    Image.new("L", (800, 600), 128).save(grey, format="PNG")
    assert Image.open(io.BytesIO(clean_image(grey.getvalue(), RULES).data)).mode == "L"


# -- memory bound: refused from the header, before decoding -----------------------------------


def forged_png(width: int, height: int, mode_bits: bytes = b"\x08\x02") -> bytes:
    """A PNG header declaring ``width`` x ``height`` followed by pixel data that is garbage:
    decoding it would fail, so a refusal that names the size was made before decoding."""
    ihdr = width.to_bytes(4, "big") + height.to_bytes(4, "big") + mode_bits + b"\x00\x00\x00"
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", ihdr)
        + png_chunk(b"IDAT", b"not deflate data")
        + png_chunk(b"IEND", b"")
    )


def test_a_photo_that_would_not_fit_is_refused_before_decoding() -> None:
    rules = DocumentRules(max_decode_bytes=100 * 1024 * 1024)
    with pytest.raises(TooLarge) as exc:
        clean_image(forged_png(7000, 7000), rules)  # RGB: 196 MB decoded
    assert exc.value.code == "image_too_many_pixels"
    # The same garbage within the bound is decoded, and fails as unreadable.
    with pytest.raises(ValidationError) as unreadable:
        clean_image(forged_png(4000, 3000), rules)
    assert unreadable.value.code == "image_unreadable"


def test_decode_cost_counts_the_decoded_picture_and_one_copy() -> None:
    grey = Image.open(io.BytesIO(forged_png(7000, 7000, b"\x08\x00")))
    assert decode_cost(grey) == 2 * 49_000_000  # kept grey: one byte a pixel
    grey16 = Image.open(io.BytesIO(forged_png(1000, 1000, b"\x10\x00")))
    assert decode_cost(grey16) == 1_000_000 * (2 + 4)  # 16-bit grey is written as RGB
    rgb = Image.open(io.BytesIO(photo_bytes()))
    assert decode_cost(rgb) == 800 * 600 * 4 * 2


@pytest.mark.parametrize(("width", "height"), [(20_000, 20_000), (50_001, 1000)])
def test_more_pixels_than_the_limit_are_refused_unread(width: int, height: int) -> None:
    with pytest.raises(ValidationError) as exc:
        clean_image(forged_png(width, height), RULES)
    assert exc.value.code == "image_unreadable"
