"""The call benchmark's set-up timeline: steps of both peers count when the later one got
there, each step's duration is the time since the previous measured step."""

from __future__ import annotations

from typing import Any

from bench.timeline import call_timeline, slowest_step, step_durations, summarize_timeline

ACCEPT = 100.0
SIGNALLING = {"accept_ack": 100.010, "both_told": 100.012}
PARTICIPANT = {
    "offers_gathered": 100.050,
    "offers_answered": 100.090,
    "ice_checking": 100.091,
    "ice_connected": 100.120,
    "dtls_connected": 100.130,
    "first_rtp": 100.500,  # the officer's video at the participant: not in the officer's steps
}
OFFICER = {
    "offers_gathered": 100.060,
    "offers_answered": 100.080,
    "ice_checking": 100.081,
    "ice_connected": 100.140,
    "dtls_connected": 100.150,
    "first_rtp": 100.170,
    "first_keyframe": 100.175,
    "first_frame": 100.180,
}


def test_steps_of_both_peers_are_the_later_one_and_media_is_at_the_officer() -> None:
    timeline = call_timeline(ACCEPT, SIGNALLING, PARTICIPANT, OFFICER)

    assert timeline == {
        "accept_ack": 10.0,
        "both_told": 12.0,
        "offers_gathered": 60.0,
        "offers_answered": 90.0,
        "ice_checking": 91.0,
        "ice_connected": 140.0,
        "dtls_connected": 150.0,
        "first_rtp": 170.0,
        "first_keyframe": 175.0,
        "first_frame": 180.0,
    }


def test_a_step_one_peer_never_reached_is_missing_and_skipped_in_durations() -> None:
    officer = {k: v for k, v in OFFICER.items() if k != "ice_connected"}
    timeline = call_timeline(ACCEPT, {}, PARTICIPANT, officer)

    assert timeline["ice_connected"] is None and timeline["accept_ack"] is None
    durations = step_durations(timeline)
    assert "ice_connected" not in durations
    assert durations["offers_gathered"] == 60.0  # since the accept: no signalling steps
    assert durations["dtls_connected"] == 59.0  # since ice_checking, the last one measured


def test_the_slowest_step_is_the_one_with_the_largest_p95_duration() -> None:
    fast = call_timeline(ACCEPT, SIGNALLING, PARTICIPANT, OFFICER)
    slow_ice = dict(fast, ice_connected=900.0, dtls_connected=910.0, first_rtp=930.0)
    slow_ice |= {"first_keyframe": 935.0, "first_frame": 940.0}
    calls: list[dict[str, Any]] = [{"timeline": fast}, {"timeline": slow_ice}, {"timeline": None}]

    summary = summarize_timeline(calls)

    assert summary["ice_connected"]["step_p95_ms"] == 809.0
    assert summary["ice_connected"]["at_p50_ms"] == 140.0
    assert summary["first_frame"]["missing"] == 0
    assert slowest_step(summary) == "ice_connected"
