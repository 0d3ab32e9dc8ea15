"""Live call quality: classification, hysteresis, events, series and summary (pure)."""

from __future__ import annotations

import numpy as np
import pytest

from videocall.quality import (
    HINT_FOR_MEASURE,
    HINT_TEXTS,
    ConnectionMetrics,
    PictureMetrics,
    QualityThresholds,
    classify_connection,
    classify_picture,
    frame_motion,
    hint_text,
    measure,
)
from videocall.quality_monitor import Hysteresis, QualityMonitor

TH = QualityThresholds(hold_worse_s=1.5, hold_better_s=2.0)
NORMAL = PictureMetrics(
    mean_luma=120, dark_fraction=0.0, bright_fraction=0.02, contrast=50, sharpness=400
)
DARK = PictureMetrics(
    mean_luma=30, dark_fraction=0.6, bright_fraction=0.0, contrast=10, sharpness=200
)
BLACK = PictureMetrics(
    mean_luma=2, dark_fraction=1.0, bright_fraction=0.0, contrast=0.5, sharpness=0
)


@pytest.mark.parametrize(
    ("metrics", "motion", "expected"),
    [
        (NORMAL, 5.0, {"darkness": "ok", "brightness": "ok", "sharpness": "ok", "frozen": "ok"}),
        (NORMAL, 0.0, {"frozen": "bad"}),
        (DARK, 5.0, {"darkness": "bad", "black": "ok"}),
        (PictureMetrics(60, 0.1, 0.0, 30, 400), None, {"darkness": "warn"}),
        (PictureMetrics(230, 0.0, 0.7, 20, 400), None, {"brightness": "bad"}),
        (PictureMetrics(150, 0.0, 0.3, 20, 400), None, {"brightness": "warn"}),
        (PictureMetrics(120, 0.0, 0.0, 40, 10), None, {"sharpness": "bad"}),
        (PictureMetrics(120, 0.0, 0.0, 40, 50), None, {"sharpness": "warn"}),
        # Black is reported once, as black, not also as dark and blurry.
        (BLACK, 5.0, {"black": "bad", "darkness": "ok", "sharpness": "ok"}),
    ],
)
def test_classify_picture(
    metrics: PictureMetrics, motion: float | None, expected: dict[str, str]
) -> None:
    levels = classify_picture(metrics, motion, TH)
    assert {k: levels[k] for k in expected} == expected
    if motion is None:
        assert "frozen" not in levels


def test_classify_connection_leaves_unknown_out() -> None:
    levels = classify_connection(
        ConnectionMetrics(packet_loss_pct=10, jitter_ms=40, rtt_ms=50, fps=4, height=480), TH
    )
    assert levels == {
        "packet_loss": "bad",
        "jitter": "warn",
        "rtt": "ok",
        "fps": "bad",
        "resolution": "ok",
    }


def test_frame_motion_ignores_fine_noise_but_not_moving_blocks() -> None:
    rng = np.random.default_rng(3)
    a = rng.integers(60, 180, (240, 320), dtype=np.uint8)
    noisy = np.clip(a.astype(np.int16) + rng.integers(-3, 4, a.shape), 0, 255).astype(np.uint8)
    moved = a.copy()
    moved[40:120, 100:200] = 250  # something in the picture moved
    assert frame_motion(a, a) == 0.0
    assert frame_motion(a, noisy) < TH.frozen_motion
    assert frame_motion(a, moved) > 20
    assert frame_motion(a, a[:120]) == 255.0


def test_measure_on_synthetic_frames_matches_classes() -> None:
    rng = np.random.default_rng(1)
    textured = rng.integers(40, 200, (480, 640), dtype=np.uint8)
    levels = classify_picture(measure(textured), None, TH)
    assert levels["darkness"] == "ok" and levels["sharpness"] == "ok"
    dark = (textured // 6).astype(np.uint8)
    assert classify_picture(measure(dark), None, TH)["darkness"] == "bad"


def test_every_hint_has_both_languages() -> None:
    for code in set(HINT_FOR_MEASURE.values()):
        assert hint_text(code, "id") and hint_text(code, "en")
    assert hint_text("too_dark", "en") == "The room is too dark — move somewhere brighter"
    assert hint_text("too_dark", "xx") == HINT_TEXTS["id"]["too_dark"]


def test_hysteresis_needs_time_and_samples() -> None:
    h = Hysteresis()
    assert not h.update(0.0, "bad", TH)
    assert not h.update(1.0, "bad", TH)
    assert h.update(1.5, "bad", TH)
    # A single good sample in between restarts the hold.
    assert not h.update(2.0, "ok", TH)
    assert not h.update(2.5, "bad", TH)
    assert not h.update(3.0, "ok", TH)
    assert not h.update(4.5, "ok", TH)
    assert h.update(5.0, "ok", TH)
    assert h.stable == "ok"


def feed(monitor: QualityMonitor, start: float, end: float, metrics: PictureMetrics) -> list:
    events = []
    t = start
    while t < end - 1e-9:
        events += monitor.observe_picture(t, metrics, 5.0)
        t += 0.5
    return events


def test_monitor_emits_hint_and_clear_without_flicker() -> None:
    monitor = QualityMonitor(TH, start=100.0)
    assert feed(monitor, 100.0, 105.0, NORMAL) == []
    events = feed(monitor, 105.0, 110.0, DARK)
    assert [(e.measure, e.level, e.hint) for e in events] == [("darkness", "bad", "too_dark")]
    assert events[0].at == pytest.approx(6.5)
    # Alternating samples never hold long enough: no events.
    flicker = []
    for i in range(10):
        flicker += feed(monitor, 110.0 + i, 110.5 + i, NORMAL if i % 2 else DARK)
    assert flicker == []
    events = feed(monitor, 120.0, 125.0, NORMAL)
    assert [(e.measure, e.level, e.hint) for e in events] == [("darkness", "ok", None)]


def test_monitor_series_and_summary() -> None:
    monitor = QualityMonitor(TH, start=0.0)
    feed(monitor, 0.0, 10.0, NORMAL)
    feed(monitor, 10.0, 20.0, DARK)
    feed(monitor, 20.0, 30.0, NORMAL)
    series = monitor.series()
    assert [p.t for p in series] == list(range(30))
    assert series[15].levels["darkness"] == "bad"
    assert series[15].values["mean_luma"] == 30
    summary = monitor.summary(30.0)
    assert summary.duration_s == 30.0
    shares = summary.shares["darkness"]
    assert shares["bad"] == pytest.approx(10 / 30, abs=0.02)
    assert shares["ok"] + shares["warn"] + shares["bad"] == pytest.approx(1.0)
    worst = summary.worst_moments[0]
    assert (worst.measure, worst.level) == ("darkness", "bad")
    assert worst.start == pytest.approx(11.5) and worst.end == pytest.approx(22.0)
    assert summary.as_dict()["worst_moments"]


def test_monitor_connection_events() -> None:
    monitor = QualityMonitor(TH, start=0.0)
    events = []
    for t in range(5):
        events += monitor.observe_connection(float(t), ConnectionMetrics(packet_loss_pct=12.0))
    assert [(e.measure, e.hint) for e in events] == [("packet_loss", "unstable_connection")]
    assert monitor.levels() == {"packet_loss": "bad"}
