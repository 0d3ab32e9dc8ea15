"""Document photos (KTP, selfie with KTP, face): decoded, checked, cleaned, scored.

The type is decided by decoding the bytes, never by the file name or the declared content type.
EXIF (which may hold GPS coordinates) is dropped by re-encoding the pixels only.
"""

from __future__ import annotations

import hashlib
import io
import logging
import warnings
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from videocall.errors import TooLarge, ValidationError
from videocall.quality import PictureMetrics, measure

logger = logging.getLogger(__name__)

ALLOWED_FORMATS = {"JPEG": "image/jpeg", "PNG": "image/png"}
# Decompression-bomb guard: far above any phone camera, far below what would exhaust memory.
MAX_PIXELS = 50_000_000


@dataclass(frozen=True, slots=True)
class DocumentRules:
    max_bytes: int = 10 * 1024 * 1024
    min_width: int = 480
    min_height: int = 360
    too_dark_luma: float = 60.0
    too_bright_luma: float = 215.0
    too_bright_clipped: float = 0.35
    blurry_sharpness: float = 60.0


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


def _decode(data: bytes) -> Image.Image:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
            image.load()
    except (
        UnidentifiedImageError,
        OSError,
        SyntaxError,
        ValueError,
        Image.DecompressionBombError,
        Image.DecompressionBombWarning,
    ) as exc:
        logger.info("upload not decodable: %s: %s", type(exc).__name__, exc)
        raise ValidationError(
            "the file is not a readable JPEG or PNG image", code="image_unreadable", field="file"
        ) from None
    if image.format not in ALLOWED_FORMATS:
        raise ValidationError(
            "only JPEG and PNG photos are accepted", code="image_type", field="file"
        )
    return image


def clean_image(data: bytes, rules: DocumentRules) -> CleanImage:
    """Validate, strip metadata and score an uploaded photo."""
    if len(data) > rules.max_bytes:
        raise TooLarge(
            f"the photo is larger than {rules.max_bytes // (1024 * 1024)} MB",
            code="upload_too_large",
            field="file",
        )
    Image.MAX_IMAGE_PIXELS = MAX_PIXELS
    image = _decode(data)
    fmt = image.format or "JPEG"
    # Apply the EXIF orientation to the pixels before the EXIF block is thrown away.
    upright = ImageOps.exif_transpose(image)
    width, height = upright.size
    if width < rules.min_width or height < rules.min_height:
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
    out = io.BytesIO()
    if fmt == "PNG":
        pixels = upright.convert("RGBA" if "A" in upright.getbands() else "RGB")
        pixels.save(out, format="PNG", optimize=False)
    else:
        upright.convert("RGB").save(out, format="JPEG", quality=92)
    cleaned = out.getvalue()
    grey = np.asarray(upright.convert("L"), dtype=np.uint8)
    metrics = measure(grey)
    return CleanImage(
        data=cleaned,
        content_type=ALLOWED_FORMATS[fmt],
        sha256=hashlib.sha256(cleaned).hexdigest(),
        width=width,
        height=height,
        metrics=metrics,
        verdicts=verdicts_for(metrics, rules),
    )
