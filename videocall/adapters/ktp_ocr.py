"""Read a KTP photo with Tesseract (Debian's ``tesseract-ocr`` + ``tesseract-ocr-ind``, through
pytesseract): straighten, even out the light, threshold, read the card, then read the NIK line
again with a digit whitelist. CPU-heavy and blocking: run it through the ``CpuPool``.

``read_ktp(data, today)`` never raises for a bad picture: what it cannot read comes back empty
and ``videocall.ktp`` calls it "unreadable".
"""

from __future__ import annotations

import io
import logging
import os
from dataclasses import dataclass
from datetime import date

import numpy as np
import pytesseract
from PIL import Image, ImageFilter, ImageOps, UnidentifiedImageError

from videocall.ktp import KtpFields, parse_ktp_text

logger = logging.getLogger(__name__)

# Tesseract's OpenMP threads would fight the pool's workers on a small machine.
os.environ.setdefault("OMP_THREAD_LIMIT", "1")

WORK_WIDTH = 1600  # the card's text is ~25-40 px high at this width: what Tesseract reads best
MAX_SKEW = 10.0
TESSERACT_TIMEOUT = 20  # seconds per call; a stuck call becomes "unreadable"
MAX_INK = 0.33  # above this share of dark pixels the picture is not a printed card
NIK_CONFIG = "--psm 7 -c tessedit_char_whitelist=0123456789"


@dataclass(frozen=True, slots=True)
class KtpRead:
    fields: KtpFields
    lines: tuple[str, ...]
    skew_degrees: float


def _grey(data: bytes) -> Image.Image | None:
    try:
        image = Image.open(io.BytesIO(data))
        image.load()
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError):
        return None
    grey = ImageOps.exif_transpose(image).convert("L")
    scale = WORK_WIDTH / grey.width
    return grey.resize((WORK_WIDTH, max(1, round(grey.height * scale))), Image.Resampling.BICUBIC)


def _even_light(grey: Image.Image) -> Image.Image:
    """Divide by a heavily blurred copy: shadows and uneven light become a flat background."""
    pixels = np.asarray(grey, dtype=np.float32)
    background = np.asarray(grey.filter(ImageFilter.GaussianBlur(30)), dtype=np.float32)
    flat = np.clip(pixels / np.maximum(background, 1.0) * 220.0, 0, 255)
    return Image.fromarray(flat.astype(np.uint8))


def otsu_level(pixels: np.ndarray) -> int:
    """Otsu's threshold of an 8-bit image: the level that best separates ink from card."""
    hist = np.bincount(pixels.ravel(), minlength=256).astype(np.float64)
    total = hist.sum()
    levels = np.arange(256)
    weight = np.cumsum(hist)
    mean = np.cumsum(hist * levels)
    with np.errstate(divide="ignore", invalid="ignore"):
        between = (mean[-1] * weight / total - mean) ** 2 / (weight * (total - weight))
    if not np.isfinite(between).any():  # one grey level only: nothing to separate
        return 127
    return int(np.nanargmax(np.where(np.isfinite(between), between, -1.0)))


def _binary(grey: Image.Image) -> Image.Image:
    pixels = np.asarray(grey)
    level = otsu_level(pixels)
    return Image.fromarray(np.where(pixels > level, 255, 0).astype(np.uint8))


def estimate_skew(binary: Image.Image) -> float:
    """The rotation (degrees) that makes the text rows sharpest (projection profile)."""
    small = ImageOps.invert(binary.resize((500, max(1, round(500 * binary.height / binary.width)))))

    def sharpness(angle: float) -> float:
        rows = np.asarray(
            small.rotate(angle, resample=Image.Resampling.BILINEAR), dtype=np.float32
        ).sum(1)
        return float(np.square(np.diff(rows)).sum())

    coarse = max(np.arange(-MAX_SKEW, MAX_SKEW + 0.01, 1.0), key=sharpness)
    fine = max(np.arange(coarse - 1.0, coarse + 1.01, 0.2), key=sharpness)
    return float(round(fine, 1))


def _tesseract_data(image: Image.Image) -> dict[str, list[object]]:
    data: dict[str, list[object]] = pytesseract.image_to_data(
        image,
        lang="ind",
        config="--psm 4",
        output_type=pytesseract.Output.DICT,
        timeout=TESSERACT_TIMEOUT,
    )
    return data


def _lines(data: dict[str, list[object]]) -> list[tuple[str, tuple[int, int, int, int], list[int]]]:
    """(text, box, word indexes) per line, top to bottom."""
    groups: dict[tuple[object, object, object], list[int]] = {}
    for i, word in enumerate(data["text"]):
        if str(word).strip():
            groups.setdefault((data["block_num"][i], data["par_num"][i], data["line_num"][i]), [])
            groups[(data["block_num"][i], data["par_num"][i], data["line_num"][i])].append(i)
    out = []
    for idx in groups.values():
        left = min(int(str(data["left"][i])) for i in idx)
        top = min(int(str(data["top"][i])) for i in idx)
        right = max(int(str(data["left"][i])) + int(str(data["width"][i])) for i in idx)
        bottom = max(int(str(data["top"][i])) + int(str(data["height"][i])) for i in idx)
        text = " ".join(str(data["text"][i]) for i in idx)
        out.append((text, (left, top, right, bottom), idx))
    out.sort(key=lambda line: line[1][1])
    return out


def _nik_crop(
    image: Image.Image, data: dict[str, list[object]], line: tuple[str, tuple[int, ...], list[int]]
) -> Image.Image:
    """The part of the NIK line from its first digit on (the label and colon cut off), padded."""
    _, (left, top, right, bottom), idx = line
    start = left
    for i in idx[1:] or idx:
        word = str(data["text"][i])
        value = word.rpartition(":")[2]
        if sum(c.isdigit() for c in value) >= 3:
            x, w = int(str(data["left"][i])), int(str(data["width"][i]))
            start = x + w * (len(word) - len(value)) // max(1, len(word))
            break
    pad = max(6, (bottom - top) // 2)
    return image.crop((max(0, start - pad // 2), max(0, top - pad), right + pad, bottom + pad))


def _read_nik_line(image: Image.Image) -> str:
    text: str = pytesseract.image_to_string(
        image, lang="ind", config=NIK_CONFIG, timeout=TESSERACT_TIMEOUT
    )
    return text.strip()


def read_ktp(data: bytes, today: date) -> KtpRead:
    """OCR a KTP photo into fields. Blocking, ~1 CPU-second: call through a CpuPool."""
    grey = _grey(data)
    if grey is None:
        return KtpRead(KtpFields(), (), 0.0)
    flat = _even_light(grey)
    first = _binary(flat)
    if float((np.asarray(first) == 0).mean()) > MAX_INK:
        # Texture, not print (a photo of something else, noise): Tesseract would spend seconds
        # on it for nothing. Printed cards are 12-17 % ink after the light is evened out.
        return KtpRead(KtpFields(), (), 0.0)
    skew = estimate_skew(first)
    if skew:
        flat = flat.rotate(skew, resample=Image.Resampling.BICUBIC, expand=True, fillcolor=220)
    binary = _binary(flat)
    try:
        tess = _tesseract_data(binary)
        lines = _lines(tess)
        nik_reads = [
            _read_nik_line(_nik_crop(flat, tess, line))
            for line in lines
            if line[0].upper().replace(" ", "").startswith(("NIK", "N1K", "NlK"))
        ][:2]
    except (RuntimeError, OSError, pytesseract.TesseractError) as exc:  # timeout, not installed
        logger.warning("ktp ocr failed: %s", type(exc).__name__)
        return KtpRead(KtpFields(), (), skew)
    texts = [text for text, _, _ in lines]
    return KtpRead(parse_ktp_text(texts, nik_reads, today=today), tuple(texts), skew)
