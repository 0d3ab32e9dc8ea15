"""Document photos (KTP, selfie with KTP, face): decoded, checked, cleaned, scored.

The type is decided by decoding the bytes, never by the file name or the declared content type.
Only the pixels are kept: the file is re-encoded without EXIF (which may hold GPS coordinates),
XMP, ICC profile, JPEG comment (COM) or other APPn segments, or PNG text chunks. Decoding is bounded
in memory: the header is read first and a photo that would need more than ``max_decode_bytes`` of
pixel memory is refused before any pixel is decoded.
"""

from __future__ import annotations

import hashlib
import io
import logging
import warnings
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from PIL import Image, ImageOps, UnidentifiedImageError

from videocall.errors import TooLarge, ValidationError
from videocall.quality import SHARPNESS_WIDTH, PictureMetrics, measure

logger = logging.getLogger(__name__)

ALLOWED_FORMATS = {"JPEG": "image/jpeg", "PNG": "image/png"}
# Decompression-bomb guard: far above any phone camera, far below what would exhaust memory.
MAX_PIXELS = 50_000_000
# Modes written back as they were decoded; any other is converted to RGB (RGBA with alpha).
_JPEG_MODES = frozenset({"L", "RGB"})
_PNG_MODES = frozenset({"L", "LA", "P", "RGB", "RGBA"})
# Bytes per pixel of Pillow's in-memory modes (RGB, YCbCr and LA are padded to 4).
_PIXEL_BYTES = {"1": 1, "L": 1, "P": 1, "I;16": 2, "LA": 4, "RGB": 4, "RGBA": 4, "CMYK": 4}
_DECODE_ERRORS = (
    UnidentifiedImageError,
    OSError,
    SyntaxError,
    ValueError,
    Image.DecompressionBombError,
    Image.DecompressionBombWarning,
)


@dataclass(frozen=True, slots=True)
class DocumentRules:
    max_bytes: int = 10 * 1024 * 1024
    min_width: int = 480
    min_height: int = 360
    too_dark_luma: float = 60.0
    too_bright_luma: float = 215.0
    too_bright_clipped: float = 0.35
    blurry_sharpness: float = 60.0
    # Pixel memory one clean-up may use; checked from the header, before decoding. Each CPU
    # pool worker decodes one photo at a time, so the pool needs at most workers x this.
    # The default lets every photo under MAX_PIXELS through (RGB, 4 bytes a pixel, one copy).
    max_decode_bytes: int = MAX_PIXELS * 4 * 2


@dataclass(frozen=True, slots=True)
class CleanImage:
    data: bytes
    content_type: str
    sha256: str
    width: int
    height: int
    metrics: PictureMetrics
    verdicts: tuple[str, ...]  # "too_dark", "too_bright", "blurry"; empty when fine


def verdicts_for(metrics: PictureMetrics, rules: DocumentRules) -> tuple[str, ...]:
    found = []
    if metrics.mean_luma < rules.too_dark_luma:
        found.append("too_dark")
    elif (
        metrics.mean_luma > rules.too_bright_luma
        or metrics.bright_fraction > rules.too_bright_clipped
    ):
        found.append("too_bright")
    if metrics.sharpness < rules.blurry_sharpness:
        found.append("blurry")
    return tuple(found)


def _refuse_unreadable(exc: Exception) -> ValidationError:
    logger.info("upload not decodable: %s: %s", type(exc).__name__, exc)
    return ValidationError(
        "the file is not a readable JPEG or PNG image", code="image_unreadable", field="file"
    )


def _open(data: bytes) -> Image.Image:
    """Read the header only: format, mode and size, before any pixel is decoded."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
    except _DECODE_ERRORS as exc:
        raise _refuse_unreadable(exc) from None
    if image.format not in ALLOWED_FORMATS:
        raise ValidationError(
            "only JPEG and PNG photos are accepted", code="image_type", field="file"
        )
    if image.width * image.height > MAX_PIXELS:
        raise _refuse_unreadable(ValueError(f"{image.width}x{image.height} pixels"))
    return image


def output_mode(image: Image.Image) -> str:
    """The mode the cleaned file is written in: the decoded one when the format can hold it."""
    fmt = image.format or "JPEG"
    keep = _JPEG_MODES if fmt == "JPEG" else _PNG_MODES
    if image.mode in keep:
        return image.mode
    alpha = "A" in image.getbands() or "transparency" in image.info
    return "RGBA" if fmt == "PNG" and alpha else "RGB"


def decode_cost(image: Image.Image) -> int:
    """Peak bytes of pixel memory that cleaning ``image`` needs, from its header: the decoded
    picture plus one full copy (converted, or turned upright; whether a PNG must be turned is
    only known after decoding). Pillow keeps RGB in 4 bytes a pixel."""
    pixels = image.width * image.height
    decoded = pixels * _PIXEL_BYTES.get(image.mode, 4)
    return decoded + pixels * _PIXEL_BYTES[output_mode(image)]


def _decode(image: Image.Image, rules: DocumentRules) -> None:
    cost = decode_cost(image)
    if cost > rules.max_decode_bytes:
        raise TooLarge(
            f"the photo has too many pixels to process ({image.width}x{image.height})",
            code="image_too_many_pixels",
            field="file",
        )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image.load()
    except _DECODE_ERRORS as exc:
        raise _refuse_unreadable(exc) from None


def _check_size(width: int, height: int, rules: DocumentRules) -> None:
    short, long = sorted((width, height))
    if short < min(rules.min_width, rules.min_height) or long < max(
        rules.min_width, rules.min_height
    ):
        raise ValidationError(
            f"the photo is too small ({width}x{height}); at least "
            f"{rules.min_width}x{rules.min_height} is needed",
            code="image_too_small",
            field="file",
        )


def _encode(image: Image.Image, fmt: str) -> bytes:
    """Pixels only: no EXIF, XMP, ICC, comment (COM), text chunks or resolution. Pillow writes
    what an image's ``info`` holds (a JPEG comment, an ICC profile), so that is emptied first;
    a PNG keeps its transparency key, which decoding needs."""
    transparency = image.info.get("transparency") if fmt == "PNG" else None
    image.info.clear()
    if transparency is not None:
        image.info["transparency"] = transparency
    out = io.BytesIO()
    if fmt == "PNG":
        image.save(out, format="PNG", optimize=False)
    else:
        image.save(out, format="JPEG", quality=92)
    return out.getvalue()


def _grey_sample(image: Image.Image) -> NDArray[np.uint8]:
    """The grey picture the scores are measured on, decimated first like ``quality.downscale``
    (one pixel in ``step``) so that a 7000-pixel-wide photo is never converted whole."""
    step = max(1, image.width // SHARPNESS_WIDTH)
    small = image
    if step > 1:
        size = (-(-image.width // step), -(-image.height // step))
        small = image.resize(size, Image.Resampling.NEAREST)
    return np.asarray(small.convert("L"), dtype=np.uint8)


def clean_image(data: bytes, rules: DocumentRules) -> CleanImage:
    """Validate, strip metadata and score an uploaded photo (blocking and CPU-heavy: run it in
    the CPU pool, never on the event loop)."""
    if len(data) > rules.max_bytes:
        raise TooLarge(
            f"the photo is larger than {rules.max_bytes // (1024 * 1024)} MB",
            code="upload_too_large",
            field="file",
        )
    Image.MAX_IMAGE_PIXELS = MAX_PIXELS
    image = _open(data)
    fmt = image.format or "JPEG"
    target = output_mode(image)
    _decode(image, rules)
    # Apply the EXIF orientation to the pixels before the EXIF block is thrown away.
    ImageOps.exif_transpose(image, in_place=True)
    width, height = image.size
    if width < rules.min_width or height < rules.min_height:
        _check_size(width, height, rules)
    pixels = image if image.mode == target else image.convert(target)
    del image  # the decoded copy is not needed once converted
    cleaned = _encode(pixels, fmt)
    metrics = measure(_grey_sample(pixels))
    return CleanImage(
        data=cleaned,
        content_type=ALLOWED_FORMATS[fmt],
        sha256=hashlib.sha256(cleaned).hexdigest(),
        width=width,
        height=height,
        metrics=metrics,
        verdicts=verdicts_for(metrics, rules),
    )
