"""The weak-uplink rule: pause after a run of unusable intervals, resume after a usable run."""

from __future__ import annotations

import pytest

from videocall.uplink import UplinkRule, UplinkSample, WeakUplink

GOOD = UplinkSample(fps=15.0, video_kbps=300.0, loss_pct=1.0)
THIN = UplinkSample(fps=2.0, video_kbps=30.0, loss_pct=5.0)
LOSSY = UplinkSample(fps=15.0, video_kbps=300.0, loss_pct=35.0)
RULE = UplinkRule(pause_after_s=10.0, resume_after_s=3.0)


def feed(uplink: WeakUplink, sample: UplinkSample, start: float, end: float) -> list[str]:
    changes = []
    t = start
    while t <= end:
        change = uplink.observe(t, sample)
        if change is not None:
            changes.append(f"{change}@{t:g}")
        t += 1.0
    return changes


@pytest.mark.parametrize("bad", [THIN, LOSSY, UplinkSample(4.9, 300.0, 0.0)])
def test_pauses_after_ten_seconds_of_unusable_video(bad: UplinkSample) -> None:
    uplink = WeakUplink(RULE, start=0.0)
    assert feed(uplink, GOOD, 0, 4) == []
    assert feed(uplink, bad, 5, 20) == ["paused@15"]
    assert uplink.state == "audio_only"


def test_a_usable_interval_restarts_the_count() -> None:
    uplink = WeakUplink(RULE, start=0.0)
    assert feed(uplink, THIN, 0, 8) == []
    assert uplink.observe(9.0, GOOD) is None
    assert feed(uplink, THIN, 10, 19) == []
    assert feed(uplink, THIN, 20, 20) == ["paused@20"]


def test_resumes_after_a_usable_run_and_reports_the_pauses() -> None:
    uplink = WeakUplink(RULE, start=100.0)
    assert feed(uplink, THIN, 100, 110) == ["paused@110"]
    assert feed(uplink, GOOD, 111, 112) == []
    assert uplink.observe(113.0, THIN) is None  # a relapse restarts the usable run
    assert feed(uplink, GOOD, 114, 117) == ["resumed@117"]
    assert uplink.state == "video"
    assert uplink.pauses(200.0) == [(10.0, 17.0)]


def test_an_open_pause_ends_now_and_no_media_counts_as_unusable() -> None:
    uplink = WeakUplink(RULE, start=0.0)
    for t in range(11):
        uplink.no_media(float(t))
    assert uplink.state == "audio_only"
    assert uplink.pauses(25.0) == [(10.0, 25.0)]


def test_a_short_outage_is_not_a_weak_uplink() -> None:
    uplink = WeakUplink(RULE, start=0.0)
    feed(uplink, GOOD, 0, 5)
    assert [uplink.no_media(float(t)) for t in range(6, 11)] == [None] * 5
    assert feed(uplink, GOOD, 11, 30) == []
