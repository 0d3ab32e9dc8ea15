"""The call's lighting measure on decoded frames (PyAV) is the luma of the picture as a browser
shows it: BT.601 limited-range YUV -> RGB (clipped, as libyuv does), then BT.601 weights."""

from __future__ import annotations

import av
import numpy as np
import pytest

from media.analysis import luma
from videocall.quality import QualityThresholds, classify_picture, measure


def frame_from(y: np.ndarray, u: int, v: int) -> av.VideoFrame:
    h, w = y.shape
    chroma = np.full((h // 4, w), u, dtype=np.uint8), np.full((h // 4, w), v, dtype=np.uint8)
    return av.VideoFrame.from_ndarray(np.vstack([y, *chroma]), format="yuv420p")


def shown_luma(y: np.ndarray, u: int, v: int) -> float:
    """What a browser's canvas meter reads: limited-range BT.601 to RGB, clipped, then luma."""
    c, d, e = 1.164 * (y.astype(float) - 16), u - 128.0, v - 128.0
    r = np.clip(c + 1.596 * e, 0, 255)
    g = np.clip(c - 0.392 * d - 0.813 * e, 0, 255)
    b = np.clip(c + 2.017 * d, 0, 255)
    return float((0.299 * r + 0.587 * g + 0.114 * b).mean())


def pacman(h: int = 480, w: int = 640) -> np.ndarray:
    """Chromium's fake camera paints into Y only (background 0, shapes 255) with U = V = 0."""
    y = np.zeros((h, w), dtype=np.uint8)
    yy, xx = np.mgrid[0:h, 0:w]
    y[(yy - h // 2) ** 2 + (xx - w // 2) ** 2 < (h // 4) ** 2] = 255
    return y


@pytest.mark.parametrize(
    ("name", "y", "u", "v"),
    [
        ("fake camera", pacman(), 0, 0),
        (
            "grey room",
            np.random.default_rng(1).integers(60, 140, (480, 640), dtype=np.uint8),
            128,
            128,
        ),
        (
            "warm face",
            np.random.default_rng(2).integers(90, 200, (480, 640), dtype=np.uint8),
            110,
            150,
        ),
        ("dark", np.random.default_rng(3).integers(16, 50, (480, 640), dtype=np.uint8), 128, 128),
    ],
)
def test_call_luma_is_the_shown_pictures(name: str, y: np.ndarray, u: int, v: int) -> None:
    grey = luma(frame_from(y, u, v))
    assert grey.shape == (240, 320)
    assert abs(float(grey.mean()) - shown_luma(y, u, v)) < 3.0, name


def test_fake_camera_is_not_judged_dark() -> None:
    y = pacman()
    assert float(y.mean()) < 60  # the encoded Y plane alone reads "too dark"
    levels = classify_picture(measure(luma(frame_from(y, 0, 0))), None, QualityThresholds())
    assert levels["darkness"] == "ok" and levels["black"] == "ok"
