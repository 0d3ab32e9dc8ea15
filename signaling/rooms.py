"""Socket.IO namespaces and rooms: where the services' messages travel."""

from __future__ import annotations

PARTICIPANT_NS = "/participant"
OFFICER_NS = "/officer"
OFFICERS_ROOM = "officers"  # every connected officer and supervisor: the queue view


def participant_room(record_id: str) -> str:
    return f"record:{record_id}"


def officer_room(officer_id: str) -> str:
    return f"officer:{officer_id}"
