"""The ``/participant`` namespace: the queue and call control for the person being verified.

Connect with ``io("/participant", {auth: {token}})`` (the participant access token). Events,
each answered with ``{"ok": true, ...}`` or ``{"ok": false, "error": {"code", "message"}}``:

- ``join_queue`` ``{}`` -> ``{queue: {position, estimated_wait_seconds, lane, closed: false}}``;
  outside service hours ``{ok: false, queue: {closed: true, opens_at, code, message}}``; after
  a reconnect during a call ``{call: <paired>}`` (joining is idempotent: the place is kept).
- ``leave_queue`` ``{}``: leave at once.
- ``end_call`` ``{}``: hang up.

Server -> client: ``queue_status`` (position or estimate moved), ``paired`` ``{session_id,
record_id, code, media}``, ``peer_status`` ``{session_id, status: reconnecting | resumed}``,
``call_ended`` ``{session_id, reason, ended_by, requeued, awaiting_decision}``, ``decided``
``{session_id, result}``, ``call_released`` ``{session_id, reason}``, ``error`` ``{event, error}``.
While the record waits for the officer's decision, ``join_queue`` answers
``{awaiting_decision: {session_id}}``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import socketio
from pydantic import BaseModel, ConfigDict

from signaling import rooms
from signaling.edge import acknowledged, payload
from videocall.app.desk import DeskService
from videocall.errors import Unauthenticated


class NoFields(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class ParticipantNamespace(socketio.AsyncNamespace):  # type: ignore[misc]  # untyped library
    def __init__(self, desk: DeskService, verify_token: Callable[[str], str]) -> None:
        super().__init__(rooms.PARTICIPANT_NS)
        self.desk = desk
        self.verify_token = verify_token

    async def on_connect(self, sid: str, environ: dict[str, Any], auth: Any = None) -> None:
        token = auth.get("token") if isinstance(auth, dict) else None
        try:
            if not isinstance(token, str) or not token:
                raise Unauthenticated(
                    "a participant access token is required", code="token_missing"
                )
            record_id = self.verify_token(token)
        except Unauthenticated as exc:
            # The page reads ``err.data.code`` to tell an expired token from a network error.
            raise socketio.exceptions.ConnectionRefusedError(exc.message, exc.to_dict()) from None
        await self.save_session(sid, {"record_id": record_id})
        await self.enter_room(sid, rooms.participant_room(record_id))
        await self.desk.participant_connected(record_id, sid)

    async def on_disconnect(self, sid: str, reason: str | None = None) -> None:
        await self.desk.participant_gone(await self._record(sid), sid)

    async def _record(self, sid: str) -> str:
        return str((await self.get_session(sid))["record_id"])

    @acknowledged("join_queue")
    async def on_join_queue(self, sid: str, data: Any) -> dict[str, Any]:
        payload(NoFields, data)
        return await self.desk.join(await self._record(sid))

    @acknowledged("leave_queue")
    async def on_leave_queue(self, sid: str, data: Any) -> dict[str, Any]:
        payload(NoFields, data)
        return await self.desk.leave(await self._record(sid))

    @acknowledged("end_call")
    async def on_end_call(self, sid: str, data: Any) -> dict[str, Any]:
        payload(NoFields, data)
        return await self.desk.participant_hangup(await self._record(sid))
