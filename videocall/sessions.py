"""The lifecycle of one call, as a pure state machine: ``transition(session, event, now)``.

    paired -> connecting -> active -> ended (completed | interrupted | cancelled)

Either side may drop out and come back within a grace window (participant 60 s, officer 20 s by
default); while a side is away the other is told its peer is reconnecting. When a window runs
out the call ends ``interrupted``:

- the officer is gone: the participant goes back to the head of the queue (priority lane), as
  when the server hosting the call's media is lost (``MediaLost``);
- the participant is gone: the record returns to ``ready_for_call`` (they may queue again).

A call whose media never connects has a time limit too (``connect_timeout_seconds`` after the
pairing, 90 s by default; the clock starts with ``Started``, sent once the call is opened). It
ends ``cancelled`` by nobody: we cannot tell whose side failed, so the participant goes back to
the head of the queue (keeping the rest of their grace if away, as on ``MediaLost``) and the
officer is released. A grace window that ran out earlier decides instead.

Hanging up ends the call ``completed`` once media flowed (the officer then records the
decision), ``cancelled`` before that. The machine is tolerant: an event that makes no sense in
the current state (a late hang-up, a duplicate reconnect) changes nothing and has no effects,
because network events arrive late, twice and out of order.

Every change bumps ``version``; stores save with compare-and-set on it, so two nodes applying
events to one call cannot overwrite each other.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum

from videocall.presence import Presence


class Side(StrEnum):
    PARTICIPANT = "participant"
    OFFICER = "officer"

    @property
    def other(self) -> Side:
        return Side.OFFICER if self is Side.PARTICIPANT else Side.PARTICIPANT


class Phase(StrEnum):
    PAIRED = "paired"  # the officer took the participant; nobody is in the room yet
    CONNECTING = "connecting"  # both in the room, negotiating media
    ACTIVE = "active"  # media flows
    ENDED = "ended"


class EndReason(StrEnum):
    COMPLETED = "completed"  # media flowed and someone hung up
    INTERRUPTED = "interrupted"  # a side did not come back within its grace window
    CANCELLED = "cancelled"  # hung up before media flowed


class PeerStatus(StrEnum):
    RECONNECTING = "reconnecting"
    RESUMED = "resumed"


@dataclass(frozen=True, slots=True)
class SessionConfig:
    officer_grace_seconds: float = 20.0
    participant_grace_seconds: float = 60.0
    connect_timeout_seconds: float = 90.0

    @property
    def connect_timeout(self) -> timedelta:
        return timedelta(seconds=self.connect_timeout_seconds)

    def grace(self, side: Side) -> timedelta:
        if side is Side.OFFICER:
            return timedelta(seconds=self.officer_grace_seconds)
        return timedelta(seconds=self.participant_grace_seconds)


@dataclass(frozen=True, slots=True)
class Absence:
    since: datetime
    deadline: datetime


@dataclass(frozen=True, slots=True)
class CallOutcome:
    """How a call ended and what the stores must do about it (the store applies it atomically)."""

    reason: EndReason
    ended_by: Side | None  # None when a grace window ran out
    ended_at: datetime
    officer_presence: Presence  # the officer's presence once released from the call
    requeue: bool  # the participant goes back to the head of the queue
    # Set when requeued while the participant is still away: they keep the rest of their grace.
    requeue_away_until: datetime | None
    record_ready: bool  # the record returns to ready_for_call (not after a completed call)
    call_seconds: float | None  # media time of a completed call; feeds the wait estimate

    @property
    def awaiting_decision(self) -> bool:
        """The conversation took place: the call waits for the officer's decision."""
        return self.reason is EndReason.COMPLETED


@dataclass(frozen=True, slots=True)
class CallSession:
    call_id: str
    record_id: str
    officer_id: str
    paired_at: datetime
    phase: Phase = Phase.PAIRED
    version: int = 0
    active_since: datetime | None = None
    participant_away: Absence | None = None
    officer_away: Absence | None = None
    outcome: CallOutcome | None = None
    connect_by: datetime | None = None  # media must flow by then (set by ``Started``)

    def away(self, side: Side) -> Absence | None:
        return self.officer_away if side is Side.OFFICER else self.participant_away

    @property
    def deadline(self) -> datetime | None:
        """When the next grace window or the connect timeout runs out; stores index calls by
        it for the sweeper."""
        if self.phase is Phase.ENDED:
            return None
        deadlines = [a.deadline for a in (self.participant_away, self.officer_away) if a]
        connect_by = self.connect_deadline
        if connect_by is not None:
            deadlines.append(connect_by)
        return min(deadlines, default=None)

    @property
    def connect_deadline(self) -> datetime | None:
        return None if self.active_since is not None else self.connect_by


# -- events -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Started:
    """The call was opened and both sides told: the connect timeout runs from the pairing."""


@dataclass(frozen=True, slots=True)
class Connecting:
    """Both sides are in the call room and media negotiation began."""


@dataclass(frozen=True, slots=True)
class MediaConnected:
    """Media flows between the peers."""


@dataclass(frozen=True, slots=True)
class Disconnected:
    side: Side


@dataclass(frozen=True, slots=True)
class Reconnected:
    side: Side


@dataclass(frozen=True, slots=True)
class Hangup:
    side: Side


@dataclass(frozen=True, slots=True)
class MediaLost:
    """The server process hosting the call's media is gone: our failure, not the participant's."""


@dataclass(frozen=True, slots=True)
class Tick:
    """Time passed: ends the call if a grace window ran out (sent by the deadline sweeper)."""


Event = (
    Started | Connecting | MediaConnected | Disconnected | Reconnected | Hangup | MediaLost | Tick
)


# -- effects ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class NotifyPeer:
    """Tell ``to`` that the other side is reconnecting, or back."""

    to: Side
    status: PeerStatus


@dataclass(frozen=True, slots=True)
class CallEnded:
    """Tell both sides; update the record (``outcome.record_ready``)."""

    outcome: CallOutcome


Effect = NotifyPeer | CallEnded
Transition = tuple[CallSession, tuple[Effect, ...]]


def start(call_id: str, record_id: str, officer_id: str, paired_at: datetime) -> CallSession:
    """A new session in ``paired``, version 0."""
    return CallSession(call_id, record_id, officer_id, paired_at)


def transition(
    session: CallSession, event: Event, now: datetime, config: SessionConfig = SessionConfig()
) -> Transition:
    """Apply ``event`` at ``now``. A grace window that ran out by ``now`` ends the call first,
    whatever the event: a participant back after 61 s finds the call over."""
    session, effects = _expire(session, now)
    if session.phase is Phase.ENDED:
        return session, effects
    after, more = _apply(session, event, now, config)
    return after, effects + more


def _apply(session: CallSession, event: Event, now: datetime, config: SessionConfig) -> Transition:
    match event:
        case Started() if session.connect_by is None and session.active_since is None:
            connect_by = session.paired_at + config.connect_timeout
            if connect_by <= now:  # opening the call took longer than the whole timeout
                return _end(session, _connect_timeout_outcome(session, connect_by))
            return _bump(session, connect_by=connect_by), ()
        case Connecting() if session.phase is Phase.PAIRED:
            return _bump(session, phase=Phase.CONNECTING), ()
        case MediaConnected() if session.phase is not Phase.ACTIVE:
            return _bump(session, phase=Phase.ACTIVE, active_since=session.active_since or now), ()
        case Disconnected(side) if session.away(side) is None:
            absence = Absence(since=now, deadline=now + config.grace(side))
            return _set_away(session, side, absence), (
                NotifyPeer(side.other, PeerStatus.RECONNECTING),
            )
        case Reconnected(side) if session.away(side) is not None:
            return _set_away(session, side, None), (NotifyPeer(side.other, PeerStatus.RESUMED),)
        case Hangup(side):
            return _end(session, _hangup_outcome(session, side, now))
        case MediaLost():
            return _end(session, _requeue_outcome(session, now, _officer_presence(session)))
    return session, ()


def _bump(session: CallSession, **changes: object) -> CallSession:
    return replace(session, version=session.version + 1, **changes)  # type: ignore[arg-type]


def _set_away(session: CallSession, side: Side, absence: Absence | None) -> CallSession:
    if side is Side.OFFICER:
        return _bump(session, officer_away=absence)
    return _bump(session, participant_away=absence)


def _end(session: CallSession, outcome: CallOutcome) -> Transition:
    ended = _bump(session, phase=Phase.ENDED, outcome=outcome)
    return ended, (CallEnded(outcome),)


def _expire(session: CallSession, now: datetime) -> Transition:
    deadline = session.deadline
    if deadline is None or now < deadline:
        return session, ()
    officer, participant = session.officer_away, session.participant_away
    connect_by = session.connect_deadline
    away = [a.deadline for a in (officer, participant) if a is not None]
    # A grace window that ran out first (or at the same time) decides how the call ended.
    if connect_by is not None and all(connect_by < d for d in away):
        return _end(session, _connect_timeout_outcome(session, connect_by))
    # On a tie the officer's window counts first: requeueing is the kinder outcome.
    if officer is not None and (participant is None or officer.deadline <= participant.deadline):
        return _end(session, _officer_gone_outcome(session, officer.deadline))
    assert participant is not None
    return _end(session, _participant_gone_outcome(session, participant.deadline))


def _officer_presence(session: CallSession) -> Presence:
    return Presence.AWAY if session.officer_away is not None else Presence.AVAILABLE


def _presence_after_hangup(session: CallSession, side: Side) -> Presence:
    # An officer who hangs up is evidently at the desk, even if their socket looked gone.
    return Presence.AVAILABLE if side is Side.OFFICER else _officer_presence(session)


def _officer_gone_outcome(session: CallSession, at: datetime) -> CallOutcome:
    return _requeue_outcome(session, at, Presence.AWAY)


def _requeue_outcome(session: CallSession, at: datetime, officer: Presence) -> CallOutcome:
    """Cut off by our side: the participant goes back to the head of the queue."""
    away = session.participant_away
    return CallOutcome(
        reason=EndReason.INTERRUPTED,
        ended_by=None,
        ended_at=at,
        officer_presence=officer,
        requeue=True,
        requeue_away_until=away.deadline if away else None,
        record_ready=True,
        call_seconds=None,
    )


def _connect_timeout_outcome(session: CallSession, at: datetime) -> CallOutcome:
    """Media never flowed: nobody is to blame for sure, so the participant keeps the head."""
    return replace(
        _requeue_outcome(session, at, _officer_presence(session)), reason=EndReason.CANCELLED
    )


def _participant_gone_outcome(session: CallSession, at: datetime) -> CallOutcome:
    return CallOutcome(
        reason=EndReason.INTERRUPTED,
        ended_by=None,
        ended_at=at,
        officer_presence=_officer_presence(session),
        requeue=False,
        requeue_away_until=None,
        record_ready=True,
        call_seconds=None,
    )


def _hangup_outcome(session: CallSession, side: Side, now: datetime) -> CallOutcome:
    if session.active_since is not None:
        # The conversation took place; whoever said goodbye, the officer records the decision.
        return CallOutcome(
            reason=EndReason.COMPLETED,
            ended_by=side,
            ended_at=now,
            officer_presence=_presence_after_hangup(session, side),
            requeue=False,
            requeue_away_until=None,
            record_ready=False,
            call_seconds=(now - session.active_since).total_seconds(),
        )
    # Cancelled before media: the officer giving up on a present participant is our side's
    # failure, so the participant keeps the head of the queue.
    requeue = side is Side.OFFICER and session.participant_away is None
    return CallOutcome(
        reason=EndReason.CANCELLED,
        ended_by=side,
        ended_at=now,
        officer_presence=_presence_after_hangup(session, side),
        requeue=requeue,
        requeue_away_until=None,
        record_ready=True,
        call_seconds=None,
    )
