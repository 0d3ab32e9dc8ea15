"""The set-up timeline: each step once per call, seconds since the accept; forgotten calls."""

from __future__ import annotations

from videocall.app.setup_timeline import SETUP_STEPS, SetupTimeline


class Clock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def test_steps_are_timed_from_the_accept_once_each() -> None:
    clock, seen = Clock(), []
    timeline = SetupTimeline(lambda step, s: seen.append((step, s)), clock)
    timeline.mark("c1", "accept_ack")  # no accept known here (media on another process)
    timeline.accepted("c1")
    clock.t += 0.25
    timeline.mark("c1", "accept_ack")
    clock.t += 0.5
    timeline.mark("c1", "accept_ack")  # a second time: not observed again
    timeline.mark("c1", "ice_connected")
    assert seen == [("accept_ack", 0.25), ("ice_connected", 0.75)]
    for step in SETUP_STEPS:
        timeline.mark("c1", step)
    assert timeline.pending() == 0  # every step seen: forgotten
    assert [s for s, _ in seen] == ["accept_ack", "ice_connected"] + [
        s for s in SETUP_STEPS if s not in ("accept_ack", "ice_connected")
    ]


def test_a_call_that_never_connects_is_forgotten() -> None:
    clock = Clock()
    timeline = SetupTimeline(lambda step, s: None, clock, max_age_s=60)
    timeline.accepted("lost")
    clock.t += 61
    timeline.accepted("next")
    assert timeline.pending() == 1
