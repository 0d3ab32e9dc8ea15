"""Lighting on one formula (BT.601 luma of the RGB picture) and connection warnings that do not
fire while a healthy sender ramps up (issue 14, items 1 and 3)."""

from __future__ import annotations

import numpy as np
import pytest

from videocall.quality import (
    ConnectionMetrics,
    PictureMetrics,
    QualityThresholds,
    bt601_luma,
    classify_connection,
    classify_picture,
    measure,
)
from videocall.quality_monitor import QualityMonitor

TH = QualityThresholds()


@pytest.mark.parametrize(
    ("rgb", "expected"),
    [
        ((0, 0, 0), 0),
        ((255, 255, 255), 255),
        ((255, 0, 0), 76),  # 0.299 * 255
        ((0, 255, 0), 150),  # 0.587 * 255
        ((0, 0, 255), 29),  # 0.114 * 255
        ((0, 135, 0), 79),  # the background of Chromium's fake camera, as shown
        ((200, 100, 50), 124),
    ],
)
def test_bt601_luma_of_one_colour(rgb: tuple[int, int, int], expected: int) -> None:
    image = np.broadcast_to(np.array(rgb, dtype=np.uint8), (4, 6, 3))
    grey = bt601_luma(image)
    assert grey.shape == (4, 6) and grey.dtype == np.uint8
    assert int(grey[0, 0]) == expected


def test_bt601_luma_matches_pillow_l_mode() -> None:
    """The photo check converts uploads with Pillow's "L": the same numbers, to the level."""
    from PIL import Image

    rng = np.random.default_rng(5)
    rgb = rng.integers(0, 256, (40, 60, 3), dtype=np.uint8)
    pillow = np.asarray(Image.fromarray(rgb).convert("L"))
    assert np.abs(pillow.astype(int) - bt601_luma(rgb).astype(int)).max() <= 1


def test_fake_camera_green_is_not_dark() -> None:
    """A flat green (0, 135, 0) with a brighter shape: what Chromium's fake camera shows."""
    rgb = np.zeros((240, 320, 3), dtype=np.uint8)
    rgb[..., 1] = 135
    rgb[80:160, 100:220] = (70, 255, 20)
    levels = classify_picture(measure(bt601_luma(rgb)), None, TH)
    assert levels["darkness"] == "ok" and levels["black"] == "ok"


def test_lighting_limits_for_the_page_are_the_calls() -> None:
    lighting = TH.lighting()
    assert lighting["formula"] == "bt601"
    assert lighting["dark_luma_warn"] == TH.dark_luma_warn
    assert lighting["bright_luma_warn"] == TH.bright_luma_warn
    at_limit = PictureMetrics(TH.dark_luma_warn, 0.0, 0.0, 40, 400)
    assert classify_picture(at_limit, None, TH)["darkness"] == "warn"
    above = PictureMetrics(TH.dark_luma_warn + 1, 0.0, 0.0, 40, 400)
    assert classify_picture(above, None, TH)["darkness"] == "ok"


HEALTHY = {"packet_loss_pct": 0.0, "jitter_ms": 4.0, "rtt_ms": 15.0, "fps": 25.0, "height": 480}


def test_low_bitrate_on_a_healthy_link_is_not_a_warning() -> None:
    levels = classify_connection(ConnectionMetrics(bitrate_kbps=60.0, **HEALTHY), TH)
    assert levels["bitrate"] == "ok"
    assert set(levels.values()) == {"ok"}


@pytest.mark.parametrize(
    ("poor", "bitrate_level"),
    [
        ({"packet_loss_pct": 5.0}, "bad"),
        ({"rtt_ms": 700.0}, "bad"),
        ({"jitter_ms": 40.0}, "bad"),
        ({"fps": 7.0}, "bad"),
    ],
)
def test_low_bitrate_counts_once_the_link_is_poor(
    poor: dict[str, float], bitrate_level: str
) -> None:
    metrics = ConnectionMetrics(bitrate_kbps=60.0, **{**HEALTHY, **poor})  # type: ignore[arg-type]
    assert classify_connection(metrics, TH)["bitrate"] == bitrate_level
    fine = ConnectionMetrics(bitrate_kbps=900.0, **{**HEALTHY, **poor})  # type: ignore[arg-type]
    assert classify_connection(fine, TH)["bitrate"] == "ok"


def test_ramp_up_then_loss_then_recovery() -> None:
    """A sender ramping from 40 to 900 kbps on a clean link raises nothing; loss raises the
    connection warnings, and every one of them clears once the loss is gone."""
    monitor = QualityMonitor(TH, start=0.0)
    events = []
    for t in range(12):
        rate = 40.0 + 80.0 * t
        events += monitor.observe_connection(
            float(t), ConnectionMetrics(bitrate_kbps=rate, **HEALTHY)
        )
    assert events == []
    lossy = {**HEALTHY, "packet_loss_pct": 12.0}
    for t in range(12, 18):
        events += monitor.observe_connection(
            float(t), ConnectionMetrics(bitrate_kbps=80.0, **lossy)
        )
    raised = {e.measure for e in events if e.level != "ok"}
    assert raised == {"packet_loss", "bitrate"}
    for t in range(18, 25):
        events += monitor.observe_connection(
            float(t), ConnectionMetrics(bitrate_kbps=80.0, **HEALTHY)
        )
    assert set(monitor.levels().values()) == {"ok"}
    cleared = {e.measure for e in events if e.level == "ok"}
    assert cleared == raised
