"""The services' ``Notifier`` on Socket.IO: a person's room reaches every tab they have open, on
any process (the Redis manager relays emits in a cluster)."""

from __future__ import annotations

from typing import Any

import socketio

from signaling import rooms


class SioNotifier:
    def __init__(self, sio: socketio.AsyncServer) -> None:
        self.sio = sio

    async def to_participant(self, record_id: str, event: str, body: dict[str, Any]) -> None:
        await self.sio.emit(
            event, body, room=rooms.participant_room(record_id), namespace=rooms.PARTICIPANT_NS
        )

    async def to_officer(self, officer_id: str, event: str, body: dict[str, Any]) -> None:
        await self.sio.emit(
            event, body, room=rooms.officer_room(officer_id), namespace=rooms.OFFICER_NS
        )

    async def to_officers(self, event: str, body: dict[str, Any]) -> None:
        await self.sio.emit(event, body, room=rooms.OFFICERS_ROOM, namespace=rooms.OFFICER_NS)
