"""What the services tell people's pages, as event names and plain JSON-ready dicts.

The browser modules name the events (``web/static/js/participant_live.js`` and ``officer.js``);
the shapes are built here, in one place, from the domain's values. How they travel (Socket.IO
namespaces and rooms) is the signalling adapter's business (``signaling/rooms.py``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from videocall.app.ports import UndecidedRow
from videocall.appointments import booking_offered
from videocall.hours import OutsideServiceHours
from videocall.queue import (
    Lane,
    OfficerQueueView,
    ParticipantCard,
    WaitingListItem,
    WaitStatus,
)
from videocall.sessions import CallOutcome

# /participant, server -> client
QUEUE_STATUS = "queue_status"
# /officer, server -> client
QUEUE_VIEW = "queue_view"
PRESENCE = "presence"
# both namespaces, server -> client
PAIRED = "paired"
PEER_STATUS = "peer_status"
CALL_ENDED = "call_ended"
# /participant: a supervisor sent the participant of an undecided call back to the queue
CALL_RELEASED = "call_released"
# /participant: the officer's decision is stored (the status page shows the result)
DECIDED = "decided"
ERROR = "error"


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def queue_status(status: WaitStatus, offer_after: float | None = None) -> dict[str, Any]:
    """``booking_offered``: the page offers an appointment instead of waiting (a long or
    unknown wait, ``videocall.appointments.booking_offered``; never without appointments)."""
    offered = offer_after is not None and booking_offered(
        status.estimated_wait_seconds, status.position, status.lane is Lane.PRIORITY, offer_after
    )
    return {
        "closed": False,
        "position": status.position,
        "estimated_wait_seconds": status.estimated_wait_seconds,
        "lane": status.lane.value,
        "booking_offered": offered,
    }


def queue_closed(error: OutsideServiceHours, *, booking: bool = False) -> dict[str, Any]:
    """Joining refused outside service hours: the page shows when it opens (and offers an
    appointment when the desk takes them)."""
    return {
        "closed": True,
        "opens_at": _iso(error.next_opening),
        "position": None,
        "estimated_wait_seconds": None,
        "code": error.code,
        "message": error.message,
        "booking_offered": booking,
    }


def _item(item: WaitingListItem) -> dict[str, Any]:
    return {
        "record_id": item.record_id,
        "name": item.name,
        "nik_masked": item.nik_masked,
        "documents": list(item.documents),
        "lane": item.lane.value,
        "joined_at": item.joined_at.isoformat(),
        "wait_seconds": item.wait_seconds,
        "connected": item.connected,
    }


def queue_view(view: OfficerQueueView) -> dict[str, Any]:
    return {
        "waiting": view.waiting,
        "longest_wait_seconds": view.longest_wait_seconds,
        "officers_available": view.officers_available,
        "officers_busy": view.officers_busy,
        "entries": [_item(i) for i in view.entries],
    }


def card(card: ParticipantCard) -> dict[str, Any]:
    return {"name": card.name, "nik_masked": card.nik_masked, "documents": list(card.documents)}


def call_ended(call_id: str, outcome: CallOutcome) -> dict[str, Any]:
    return {
        "session_id": call_id,
        "reason": outcome.reason.value,
        "ended_by": outcome.ended_by.value if outcome.ended_by else None,
        # The participant is back at the head of the queue: the page should rejoin it.
        "requeued": outcome.requeue,
        # The conversation took place: the officer records the decision now.
        "awaiting_decision": outcome.awaiting_decision,
    }


def undecided_item(row: UndecidedRow, *, stale: bool) -> dict[str, Any]:
    return {
        "session_id": row.session_id,
        "record_id": row.record_id,
        "officer_id": row.officer_id,
        "officer_name": row.officer_name,
        "full_name": row.full_name,
        "connected_at": _iso(row.connected_at),
        "ended_at": row.ended_at.isoformat(),
        "stale": stale,
    }
