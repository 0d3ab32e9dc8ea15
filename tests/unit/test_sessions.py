"""The call lifecycle state machine: phases, grace windows, how calls end, and tolerance."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from videocall.presence import Presence
from videocall.sessions import (
    Absence,
    CallEnded,
    CallSession,
    Connecting,
    Disconnected,
    EndReason,
    Event,
    Hangup,
    MediaConnected,
    MediaLost,
    NotifyPeer,
    PeerStatus,
    Phase,
    Reconnected,
    SessionConfig,
    Side,
    Started,
    Tick,
    start,
    transition,
)

T0 = datetime(2026, 11, 24, 3, 0, tzinfo=UTC)
PAR, OFF = Side.PARTICIPANT, Side.OFFICER


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def run(*steps: tuple[float, Event], session: CallSession | None = None) -> CallSession:
    """Apply events at the given offsets from T0; returns the final session."""
    current = session or start("call-1", "rec-1", "off-1", T0)
    for seconds, event in steps:
        current, _ = transition(current, event, at(seconds))
    return current


def active() -> CallSession:
    return run((1, Connecting()), (2, MediaConnected()))


def test_start() -> None:
    session = start("call-1", "rec-1", "off-1", T0)
    assert (session.phase, session.version, session.deadline, session.outcome) == (
        Phase.PAIRED,
        0,
        None,
        None,
    )


def test_happy_path_to_completed() -> None:
    s1, e1 = transition(start("c", "r", "o", T0), Connecting(), at(1))
    s2, e2 = transition(s1, MediaConnected(), at(3))
    s3, e3 = transition(s2, Hangup(OFF), at(303))
    assert [s.phase for s in (s1, s2, s3)] == [Phase.CONNECTING, Phase.ACTIVE, Phase.ENDED]
    assert [s.version for s in (s1, s2, s3)] == [1, 2, 3]
    assert e1 == e2 == ()
    assert s2.active_since == at(3)
    outcome = s3.outcome
    assert outcome is not None
    assert e3 == (CallEnded(outcome),)
    assert outcome.reason is EndReason.COMPLETED
    assert outcome.ended_by is OFF and outcome.ended_at == at(303)
    assert outcome.call_seconds == 300.0
    assert outcome.officer_presence is Presence.AVAILABLE
    assert not outcome.requeue and not outcome.record_ready


def test_media_may_connect_straight_from_paired() -> None:
    session, _ = transition(start("c", "r", "o", T0), MediaConnected(), at(2))
    assert session.phase is Phase.ACTIVE and session.active_since == at(2)


@pytest.mark.parametrize(
    ("before", "event"),
    [
        (lambda: run((1, Connecting())), Connecting()),
        (active, Connecting()),
        (active, MediaConnected()),
        (active, Reconnected(PAR)),  # was not away
        (active, Reconnected(OFF)),
        (active, Tick()),
        (lambda: run((1, Disconnected(PAR))), Disconnected(PAR)),  # keeps the first deadline
        (lambda: run((1, Hangup(PAR))), Hangup(OFF)),  # ended: everything is a no-op
        (lambda: run((1, Hangup(PAR))), MediaConnected()),
        (lambda: run((1, Hangup(PAR))), Reconnected(PAR)),
        (lambda: run((1, Hangup(PAR))), Tick()),
    ],
)
def test_events_that_change_nothing(before: Callable[[], CallSession], event: Event) -> None:
    session = before()
    after, effects = transition(session, event, at(10))
    assert after is session
    assert effects == ()


@pytest.mark.parametrize(
    ("side", "grace", "peer"),
    [(OFF, 20, PAR), (PAR, 60, OFF)],
)
def test_disconnect_tells_the_peer_and_sets_a_deadline(side: Side, grace: int, peer: Side) -> None:
    session, effects = transition(active(), Disconnected(side), at(10))
    assert effects == (NotifyPeer(peer, PeerStatus.RECONNECTING),)
    assert session.away(side) == Absence(since=at(10), deadline=at(10 + grace))
    assert session.deadline == at(10 + grace)
    assert session.phase is Phase.ACTIVE


@pytest.mark.parametrize(("side", "grace"), [(OFF, 20), (PAR, 60)])
def test_back_within_grace_resumes_the_same_call(side: Side, grace: int) -> None:
    away, _ = transition(active(), Disconnected(side), at(10))
    back, effects = transition(away, Reconnected(side), at(10 + grace - 0.001))
    assert effects == (NotifyPeer(side.other, PeerStatus.RESUMED),)
    assert back.phase is Phase.ACTIVE and back.away(side) is None and back.deadline is None
    assert back.call_id == away.call_id and back.active_since == at(2)


def test_officer_gone_requeues_the_participant_at_the_head() -> None:
    away, _ = transition(active(), Disconnected(OFF), at(10))
    ended, effects = transition(away, Tick(), at(30))
    outcome = ended.outcome
    assert outcome is not None and effects == (CallEnded(outcome),)
    assert outcome.reason is EndReason.INTERRUPTED and outcome.ended_by is None
    assert outcome.requeue and outcome.requeue_away_until is None
    assert outcome.record_ready
    assert outcome.officer_presence is Presence.AWAY
    assert outcome.ended_at == at(30) and outcome.call_seconds is None


@pytest.mark.parametrize(
    ("steps", "away_until", "presence"),
    [
        ([(1, MediaConnected())], None, Presence.AVAILABLE),
        ([(1, Disconnected(PAR))], at(61), Presence.AVAILABLE),
        ([(1, MediaConnected()), (2, Disconnected(OFF))], None, Presence.AWAY),
    ],
)
def test_media_node_lost_requeues_the_participant(
    steps: list[tuple[float, Event]], away_until: datetime | None, presence: Presence
) -> None:
    ended, effects = transition(run(*steps), MediaLost(), at(10))
    outcome = ended.outcome
    assert outcome is not None and effects == (CallEnded(outcome),)
    assert (outcome.reason, outcome.ended_by, outcome.ended_at) == (
        EndReason.INTERRUPTED,
        None,
        at(10),
    )
    assert outcome.requeue and outcome.record_ready and outcome.call_seconds is None
    assert outcome.requeue_away_until == away_until
    assert outcome.officer_presence is presence


def test_participant_gone_returns_the_record_to_ready() -> None:
    away, _ = transition(active(), Disconnected(PAR), at(10))
    ended, _ = transition(away, Tick(), at(500))  # a late sweep ends it at the deadline
    outcome = ended.outcome
    assert outcome is not None
    assert outcome.reason is EndReason.INTERRUPTED
    assert outcome.ended_at == at(70)
    assert outcome.record_ready and not outcome.requeue
    assert outcome.officer_presence is Presence.AVAILABLE


@pytest.mark.parametrize("event", [Reconnected(PAR), Hangup(PAR), MediaConnected(), Tick()])
def test_an_expired_window_wins_over_any_later_event(event: Event) -> None:
    away, _ = transition(active(), Disconnected(PAR), at(10))
    ended, effects = transition(away, event, at(70))
    assert ended.phase is Phase.ENDED
    assert ended.outcome is not None and ended.outcome.reason is EndReason.INTERRUPTED
    assert effects == (CallEnded(ended.outcome),)


def test_both_away_officer_first_requeues_with_the_rest_of_the_grace() -> None:
    session = run((1, MediaConnected()), (5, Disconnected(PAR)), (10, Disconnected(OFF)))
    ended, _ = transition(session, Tick(), at(30))
    assert ended.outcome is not None
    assert ended.outcome.requeue and ended.outcome.requeue_away_until == at(65)


def test_both_away_participant_first_releases_the_officer_as_away() -> None:
    session = run((1, MediaConnected()), (5, Disconnected(OFF)), (6, Reconnected(OFF)))
    session = run((10, Disconnected(PAR)), (60, Disconnected(OFF)), session=session)
    ended, _ = transition(session, Tick(), at(71))
    assert ended.outcome is not None
    assert ended.outcome.ended_at == at(70) and not ended.outcome.requeue
    assert ended.outcome.officer_presence is Presence.AWAY


def test_deadlines_tie_counts_the_officer_first() -> None:
    session = run((1, MediaConnected()), (0, Disconnected(PAR)))
    session = run((40, Disconnected(OFF)), session=session)  # both run out at 60 s
    ended, _ = transition(session, Tick(), at(60))
    assert ended.outcome is not None and ended.outcome.requeue


@pytest.mark.parametrize(
    ("steps", "reason", "requeue", "record_ready", "presence"),
    [
        # Before media: cancelled.
        ([(2, Hangup(PAR))], EndReason.CANCELLED, False, True, Presence.AVAILABLE),
        ([(2, Hangup(OFF))], EndReason.CANCELLED, True, True, Presence.AVAILABLE),
        (
            [(1, Disconnected(PAR)), (2, Hangup(OFF))],
            EndReason.CANCELLED,
            False,
            True,
            Presence.AVAILABLE,
        ),
        (
            [(1, Disconnected(OFF)), (2, Hangup(PAR))],
            EndReason.CANCELLED,
            False,
            True,
            Presence.AWAY,
        ),
        # After media: completed, whoever says goodbye.
        (
            [(1, MediaConnected()), (9, Hangup(PAR))],
            EndReason.COMPLETED,
            False,
            False,
            Presence.AVAILABLE,
        ),
        (
            [(1, MediaConnected()), (5, Disconnected(OFF)), (9, Hangup(PAR))],
            EndReason.COMPLETED,
            False,
            False,
            Presence.AWAY,
        ),
        # An officer hanging up is at the desk, whatever their socket looked like.
        (
            [(1, MediaConnected()), (5, Disconnected(OFF)), (9, Hangup(OFF))],
            EndReason.COMPLETED,
            False,
            False,
            Presence.AVAILABLE,
        ),
    ],
)
def test_hangups(
    steps: list[tuple[float, Event]],
    reason: EndReason,
    requeue: bool,
    record_ready: bool,
    presence: Presence,
) -> None:
    outcome = run(*steps).outcome
    assert outcome is not None
    assert (outcome.reason, outcome.requeue, outcome.record_ready, outcome.officer_presence) == (
        reason,
        requeue,
        record_ready,
        presence,
    )
    assert outcome.ended_by is steps[-1][1].side  # type: ignore[union-attr]
    assert (outcome.call_seconds is not None) == (reason is EndReason.COMPLETED)


def test_grace_windows_are_configurable() -> None:
    config = SessionConfig(officer_grace_seconds=5, participant_grace_seconds=7)
    officer, _ = transition(active(), Disconnected(OFF), at(10), config)
    participant, _ = transition(active(), Disconnected(PAR), at(10), config)
    assert officer.deadline == at(15) and participant.deadline == at(17)


def test_ended_sessions_have_no_deadline() -> None:
    session = run((1, Disconnected(PAR)), (2, Hangup(OFF)))
    assert session.participant_away is not None and session.deadline is None


# -- the connect timeout ------------------------------------------------------------------


def opened(config: SessionConfig | None = None) -> CallSession:
    config = config or SessionConfig()
    session, effects = transition(start("call-1", "rec-1", "off-1", T0), Started(), at(1), config)
    assert effects == ()
    return session


def test_started_sets_the_connect_deadline_from_the_pairing() -> None:
    session = opened()
    assert (session.connect_by, session.deadline, session.version) == (at(90), at(90), 1)
    again, effects = transition(session, Started(), at(2))
    assert (again, effects) == (session, ())


@pytest.mark.parametrize("steps", [[], [(5, Connecting())]], ids=["paired", "connecting"])
def test_media_that_never_connects_cancels_the_call_and_requeues(
    steps: list[tuple[float, Event]],
) -> None:
    before = run(*steps, session=opened())
    assert run((89.9, Tick()), session=before).phase is not Phase.ENDED
    ended, effects = transition(before, Tick(), at(95))
    outcome = ended.outcome
    assert outcome is not None and effects == (CallEnded(outcome),)
    assert (outcome.reason, outcome.ended_by, outcome.ended_at) == (
        EndReason.CANCELLED,
        None,
        at(90),
    )
    assert (outcome.requeue, outcome.requeue_away_until, outcome.record_ready) == (True, None, True)
    assert (outcome.officer_presence, outcome.call_seconds) == (Presence.AVAILABLE, None)


def test_connected_media_lifts_the_connect_timeout() -> None:
    session = run((5, Connecting()), (30, MediaConnected()), session=opened())
    assert session.deadline is None
    assert run((600, Tick()), session=session).phase is Phase.ACTIVE


def test_connect_timeout_while_the_participant_is_away_keeps_the_rest_of_the_grace() -> None:
    session = run((50, Disconnected(PAR)), (91, Tick()), session=opened())
    assert session.outcome is not None
    assert (session.outcome.reason, session.outcome.requeue) == (EndReason.CANCELLED, True)
    assert session.outcome.requeue_away_until == at(110)


def test_connect_timeout_while_the_officer_is_away_releases_them_as_away() -> None:
    session = run((80, Disconnected(OFF)), (91, Tick()), session=opened())
    assert session.outcome is not None and session.outcome.reason is EndReason.CANCELLED
    assert session.outcome.officer_presence is Presence.AWAY


def test_a_grace_window_that_ran_out_first_decides() -> None:
    session = run((20, Disconnected(PAR)), (100, Tick()), session=opened())
    assert session.outcome is not None
    assert (session.outcome.reason, session.outcome.requeue) == (EndReason.INTERRUPTED, False)
    assert session.outcome.ended_at == at(80)


def test_connect_timeout_is_configurable() -> None:
    config = SessionConfig(connect_timeout_seconds=10)
    session = opened(config)
    assert session.deadline == at(10)
    ended, _ = transition(session, Tick(), at(10), config)
    assert ended.phase is Phase.ENDED


# -- properties over random event sequences ----------------------------------------------

events = st.one_of(
    st.just(Connecting()),
    st.just(MediaConnected()),
    st.just(Tick()),
    st.sampled_from([Disconnected(PAR), Disconnected(OFF), Reconnected(PAR), Reconnected(OFF)]),
    st.sampled_from([Hangup(PAR), Hangup(OFF)]),
    st.just(MediaLost()),
    st.just(Started()),
)
timelines = st.lists(st.tuples(st.floats(0, 90), events), max_size=25)


@given(timelines)
def test_invariants_over_any_event_sequence(timeline: list[tuple[float, Event]]) -> None:
    session = start("c", "r", "o", T0)
    now = T0
    ended_effects = 0
    for gap, event in timeline:
        now += timedelta(seconds=gap)
        before = session
        session, effects = transition(session, event, now)
        ended_effects += sum(isinstance(e, CallEnded) for e in effects)
        # A change bumps the version by one, so a compare-and-set save spots a lost race.
        assert session.version - before.version in (0, 1)
        if session == before:
            assert effects == ()
        if before.phase is Phase.ENDED:
            assert session is before
        if session.phase is Phase.ENDED:
            outcome = session.outcome
            assert outcome is not None and session.deadline is None
            assert not (outcome.requeue and outcome.reason is EndReason.COMPLETED)
            assert outcome.record_ready == (outcome.reason is not EndReason.COMPLETED)
            assert outcome.call_seconds is None or outcome.call_seconds >= 0
            assert outcome.ended_at <= now
        else:
            assert session.outcome is None
            assert session.deadline is None or session.deadline > now
    assert ended_effects == (1 if session.phase is Phase.ENDED else 0)


def test_sessions_are_immutable_values() -> None:
    session = active()
    with pytest.raises(AttributeError):
        session.phase = Phase.ENDED  # type: ignore[misc]
    assert replace(session) == session
