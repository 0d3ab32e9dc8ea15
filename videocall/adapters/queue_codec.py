"""JSON shapes of queue entries, pairings and call sessions as ``redis_queue`` stores them.

Times are ISO 8601 strings in JSON and epoch seconds in sorted-set scores; both round-trip to
the same instant (``datetime`` equality compares instants, whatever the zone).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from videocall.presence import Presence
from videocall.queue import Lane, Pairing, ParticipantCard, QueueEntry
from videocall.sessions import Absence, CallOutcome, CallSession, EndReason, Phase, Side


def score(moment: datetime) -> str:
    """A sorted-set score; repr keeps every bit of the float."""
    return repr(moment.timestamp())


def from_score(value: str | float) -> datetime:
    return datetime.fromtimestamp(float(value), UTC)


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def _time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value is not None else None


def _must_time(value: str) -> datetime:
    return datetime.fromisoformat(value)


# -- queue entries ------------------------------------------------------------------------


def entry_json(card: ParticipantCard, joined_at: datetime) -> str:
    """What ``entries`` holds per record id (lane, seq and grace live in the sorted sets)."""
    return json.dumps(
        {
            "name": card.name,
            "nik_masked": card.nik_masked,
            "documents": list(card.documents),
            "joined_at": joined_at.isoformat(),
        },
        separators=(",", ":"),
    )


def _entry(
    record_id: str, data: dict[str, Any], lane: str, seq: str | int, gone: str
) -> QueueEntry:
    card = ParticipantCard(record_id, data["name"], data["nik_masked"], tuple(data["documents"]))
    return QueueEntry(
        card=card,
        lane=Lane(lane),
        seq=int(float(seq)),
        joined_at=_must_time(data["joined_at"]),
        disconnected_until=from_score(gone) if gone else None,
    )


def entry_from_script(record_id: str, reply: list[str] | None) -> QueueEntry | None:
    """Decode ``entry_of`` from the Lua prelude: [entry JSON, lane, seq, grace or '']."""
    if not reply:
        return None
    raw, lane, seq, gone = reply
    return _entry(record_id, json.loads(raw), lane, seq, gone)


def pairing_from_json(raw: str) -> Pairing:
    data = json.loads(raw)
    entry = _entry(data["record_id"], data["entry"], data["lane"], data["seq"], "")
    return Pairing(data["call_id"], data["officer_id"], _must_time(data["paired_at"]), entry)


# -- call sessions ------------------------------------------------------------------------


def _absence(data: dict[str, str] | None) -> Absence | None:
    if data is None:
        return None
    return Absence(since=_must_time(data["since"]), deadline=_must_time(data["deadline"]))


def _absence_dict(absence: Absence | None) -> dict[str, str] | None:
    if absence is None:
        return None
    return {"since": absence.since.isoformat(), "deadline": absence.deadline.isoformat()}


def _outcome_dict(outcome: CallOutcome | None) -> dict[str, Any] | None:
    if outcome is None:
        return None
    return {
        "reason": outcome.reason.value,
        "ended_by": outcome.ended_by.value if outcome.ended_by else None,
        "ended_at": outcome.ended_at.isoformat(),
        "officer_presence": outcome.officer_presence.value,
        "requeue": outcome.requeue,
        "requeue_away_until": _iso(outcome.requeue_away_until),
        "record_ready": outcome.record_ready,
        "call_seconds": outcome.call_seconds,
    }


def _outcome(data: dict[str, Any] | None) -> CallOutcome | None:
    if data is None:
        return None
    return CallOutcome(
        reason=EndReason(data["reason"]),
        ended_by=Side(data["ended_by"]) if data["ended_by"] else None,
        ended_at=_must_time(data["ended_at"]),
        officer_presence=Presence(data["officer_presence"]),
        requeue=data["requeue"],
        requeue_away_until=_time(data["requeue_away_until"]),
        record_ready=data["record_ready"],
        call_seconds=data["call_seconds"],
    )


def session_json(session: CallSession) -> str:
    return json.dumps(
        {
            "call_id": session.call_id,
            "record_id": session.record_id,
            "officer_id": session.officer_id,
            "paired_at": session.paired_at.isoformat(),
            "phase": session.phase.value,
            "version": session.version,
            "active_since": _iso(session.active_since),
            "participant_away": _absence_dict(session.participant_away),
            "officer_away": _absence_dict(session.officer_away),
            "outcome": _outcome_dict(session.outcome),
            "connect_by": _iso(session.connect_by),
        },
        separators=(",", ":"),
        sort_keys=True,  # the retry check in SAVE_CALL compares the text
    )


def session_from_json(raw: str) -> CallSession:
    data = json.loads(raw)
    return CallSession(
        call_id=data["call_id"],
        record_id=data["record_id"],
        officer_id=data["officer_id"],
        paired_at=_must_time(data["paired_at"]),
        phase=Phase(data["phase"]),
        version=data["version"],
        active_since=_time(data["active_since"]),
        participant_away=_absence(data["participant_away"]),
        officer_away=_absence(data["officer_away"]),
        outcome=_outcome(data["outcome"]),
        connect_by=_time(data.get("connect_by")),  # absent in sessions saved before it existed
    )
