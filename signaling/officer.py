"""The ``/officer`` namespace: presence, the queue view, accept next, hang up; supervisors may
also assign a waiting participant to an officer.

Connect with the staff session cookie. Events, each answered with ``{"ok": true, ...}`` or
``{"ok": false, "error": {"code", "message"}}``:

- ``set_presence`` ``{presence: available | away}`` -> ``{presence, queue, undecided, call?}``
  (in a call the answer is ``busy`` and the call's ``paired`` message is sent again;
  ``undecided`` lists the officer's calls awaiting a decision).
- ``accept_next`` ``{}`` -> the ``paired`` message; ``queue_empty``, ``officer_busy``,
  ``officer_away`` or ``decision_pending`` errors.
- ``end_call`` ``{session_id?}``: hang up.
- ``assign`` ``{record_id, officer_id}`` (supervisors) -> ``{session_id}``.

Server -> client: ``queue_view`` (``videocall.queue.OfficerQueueView``: masked NIKs only),
``presence`` ``{presence, undecided}``, ``paired`` ``{session_id, record_id, code, media,
participant, lane}``, ``peer_status``, ``call_ended``, ``error``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from http.cookies import SimpleCookie
from typing import Any, Literal

import socketio
from pydantic import BaseModel, ConfigDict, Field

from signaling import rooms
from signaling.edge import acknowledged, payload
from videocall.accounts import Account, Role
from videocall.app import messages as msg
from videocall.app.desk import DeskService
from videocall.errors import NotAllowed
from videocall.presence import Presence

# The staff session cookie's name and how to turn its value into an account (``web.auth``).
StaffAuth = Callable[[str | None], Awaitable[Account | None]]

_ID = Field(min_length=1, max_length=64)


class NoFields(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class PresenceIn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    presence: Literal["available", "away"]


class EndCallIn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    session_id: str | None = Field(default=None, max_length=64)


class AssignIn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    record_id: str = _ID
    officer_id: str = _ID


def _cookie(environ: dict[str, Any], name: str) -> str | None:
    jar: SimpleCookie = SimpleCookie()
    jar.load(environ.get("HTTP_COOKIE", ""))
    morsel = jar.get(name)
    return morsel.value if morsel else None


class OfficerNamespace(socketio.AsyncNamespace):  # type: ignore[misc]  # untyped library
    def __init__(self, desk: DeskService, staff_auth: StaffAuth, cookie_name: str) -> None:
        super().__init__(rooms.OFFICER_NS)
        self.desk = desk
        self.staff_auth = staff_auth
        self.cookie_name = cookie_name

    async def on_connect(self, sid: str, environ: dict[str, Any], auth: Any = None) -> None:
        account = await self.staff_auth(_cookie(environ, self.cookie_name))
        if account is None:
            error = {"code": "login_required", "message": "please log in"}
            raise socketio.exceptions.ConnectionRefusedError(error["message"], error)
        await self.save_session(
            sid, {"officer_id": account.id, "actor": account.actor, "role": account.role.value}
        )
        await self.enter_room(sid, rooms.OFFICERS_ROOM)
        await self.enter_room(sid, rooms.officer_room(account.id))
        await self.desk.officer_connected(account.id, sid)

    async def on_disconnect(self, sid: str, reason: str | None = None) -> None:
        who = await self.get_session(sid)
        await self.desk.officer_gone(who["officer_id"], sid)

    async def _who(self, sid: str) -> tuple[str, str, Role]:
        who = await self.get_session(sid)
        return who["officer_id"], who["actor"], Role(who["role"])

    @acknowledged("set_presence")
    async def on_set_presence(self, sid: str, data: Any) -> dict[str, Any]:
        request = payload(PresenceIn, data)
        officer_id, actor, _ = await self._who(sid)
        state = await self.desk.set_presence(officer_id, Presence(request.presence), actor)
        if state.get("call"):
            # Back after a reconnect, mid-call: the desk page reopens the call from this.
            await self.emit(msg.PAIRED, state["call"], to=sid)
        return state

    @acknowledged("accept_next")
    async def on_accept_next(self, sid: str, data: Any) -> dict[str, Any]:
        payload(NoFields, data)
        officer_id, actor, _ = await self._who(sid)
        return await self.desk.accept_next(officer_id, actor)

    @acknowledged("end_call")
    async def on_end_call(self, sid: str, data: Any) -> dict[str, Any]:
        request = payload(EndCallIn, data)
        officer_id, actor, _ = await self._who(sid)
        return await self.desk.officer_hangup(officer_id, actor, request.session_id)

    @acknowledged("assign")
    async def on_assign(self, sid: str, data: Any) -> dict[str, Any]:
        request = payload(AssignIn, data)
        _, actor, role = await self._who(sid)
        if role is not Role.SUPERVISOR:
            raise NotAllowed("only a supervisor may assign calls", code="role_forbidden")
        return await self.desk.assign(request.record_id, request.officer_id, actor)
