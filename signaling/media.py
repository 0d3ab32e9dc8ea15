"""The ``/media`` namespace: SDP offer/answer, snapshots and live quality for one call.

A client gets a *media ticket* with its pairing message — the URL of the process that hosts the
call's media, a signed token for (session, side) and its ICE servers — and connects there with
``io(url + "/media", {auth: {token}})``. Events (each acknowledged with ``{"ok": true, ...}`` or
``{"ok": false, "error": {"code", "message"}}``; failures are also emitted as ``error``):

- ``offer`` ``{sdp, type: "offer"}`` -> ``{ok, sdp, type: "answer"}``
- ``answer`` ``{sdp, type: "answer"}`` -> ``{ok}``: the answer to the server's ``renegotiate``
- ``snapshot`` ``{kind: "face" | "ktp"}`` (officer) -> ``{ok, snapshot, thumbnail}`` (data URL)
- ``levels`` -> ``{ok, participant: {...}, officer: {...}}`` current quality classes

Server -> client: ``hint`` (participant: ``{measure, level, hint, text}`` in their language,
``hint: null`` clears) and ``quality`` (officer: ``{side, measure, level, hint}``), and
``renegotiate`` ``{sdp, type: "offer"}``: the server offers the side's connection again (a
participant's late H.264 offer switches the officer's leg to that format); the client answers
on a new ``RTCPeerConnection`` with the ``answer`` event.

The calls hosted here and their sweeper are in ``signaling.media_hub``; the tickets and
payloads in ``signaling.media_tickets`` (both names importable from here too).
"""

from __future__ import annotations

import base64
import functools
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import socketio
from pydantic import ValidationError as PydanticError

from media.call import Side
from signaling.media_hub import MediaHub, MediaSweeper
from signaling.media_tickets import (
    MAX_SDP_CHARS,
    NAMESPACE,
    TICKET_TTL_SECONDS,
    AnswerIn,
    MediaTickets,
    OfferIn,
    SnapshotIn,
)
from videocall.errors import Conflict, NotAllowed, Unauthenticated, VideoCallError

logger = logging.getLogger(__name__)

__all__ = [
    "MAX_SDP_CHARS",
    "NAMESPACE",
    "TICKET_TTL_SECONDS",
    "MediaHub",
    "MediaNamespace",
    "MediaSweeper",
    "MediaTickets",
    "OfferIn",
    "answers",
]


Handler = Callable[..., Awaitable[dict[str, Any]]]


def answers(event: str) -> Callable[[Handler], Callable[..., Awaitable[dict[str, Any]]]]:
    """Turn domain errors and bad payloads into an acknowledgement and an ``error`` event."""

    def wrap(fn: Handler) -> Callable[..., Awaitable[dict[str, Any]]]:
        @functools.wraps(fn)
        async def handler(self: MediaNamespace, sid: str, data: Any = None) -> dict[str, Any]:
            try:
                return {"ok": True, **await fn(self, sid, data)}
            except PydanticError as exc:
                err: dict[str, Any] = {"code": "invalid_payload", "message": _pydantic_msg(exc)}
            except VideoCallError as exc:
                err = exc.to_dict()
            except Exception:
                logger.exception("media event %s failed", event)
                err = {"code": "internal_error", "message": "internal error"}
            await self.emit("error", {"event": event, "error": err}, to=sid)
            return {"ok": False, "error": err}

        return handler

    return wrap


def _pydantic_msg(exc: PydanticError) -> str:
    first = exc.errors()[0]
    return f"{'.'.join(str(p) for p in first['loc']) or 'payload'}: {first['msg']}"


class MediaNamespace(socketio.AsyncNamespace):  # type: ignore[misc]
    def __init__(self, hub: MediaHub) -> None:
        super().__init__(NAMESPACE)
        self.hub = hub

    async def on_connect(self, sid: str, environ: dict[str, Any], auth: Any = None) -> None:
        token = auth.get("token") if isinstance(auth, dict) else None
        try:
            session_id, side = self.hub.tickets.verify(token)
        except Unauthenticated as exc:
            raise socketio.exceptions.ConnectionRefusedError(exc.message, exc.to_dict()) from None
        await self.save_session(sid, {"session_id": session_id, "side": side})
        await self.enter_room(sid, session_id)
        await self.enter_room(sid, f"{session_id}:{side}")

    async def _who(self, sid: str) -> tuple[str, Side]:
        session = await self.get_session(sid)
        return session["session_id"], session["side"]

    @answers("offer")
    async def on_offer(self, sid: str, data: Any) -> dict[str, Any]:
        offer = OfferIn.model_validate(data if isinstance(data, dict) else {"_": data})
        session_id, side = await self._who(sid)
        call = await self.hub.call_for(session_id)
        answer_sdp, answer_type = await call.accept_offer(side, offer.sdp, offer.type)
        self.hub.after_answer(session_id, call, side)
        return {"sdp": answer_sdp, "type": answer_type}

    @answers("answer")
    async def on_answer(self, sid: str, data: Any) -> dict[str, Any]:
        answer = AnswerIn.model_validate(data if isinstance(data, dict) else {"_": data})
        session_id, side = await self._who(sid)
        call = self.hub.calls.get(session_id)
        if call is None:
            raise Conflict("the call has no media here", code="no_offer_pending")
        await call.accept_answer(side, answer.sdp, answer.type)
        return {}

    @answers("snapshot")
    async def on_snapshot(self, sid: str, data: Any) -> dict[str, Any]:
        request = SnapshotIn.model_validate(data if isinstance(data, dict) else {"_": data})
        session_id, side = await self._who(sid)
        if side != "officer":
            raise NotAllowed("only the officer takes snapshots", code="role_forbidden")
        call = self.hub.calls.get(session_id)
        if call is None:
            raise Conflict("the call has no media yet", code="no_video")
        snap = await call.snapshot(request.kind)
        entry = {
            **snap.as_dict(),
            "bad": snap.bad_lighting or snap.blurry,
            "taken_at": self.hub.clock.now().isoformat(),
        }
        sessions = self.hub.sessions
        current = (await sessions.get(session_id)).snapshots or []
        await sessions.update_media(session_id, snapshots=[*current, entry])
        thumb = "data:image/jpeg;base64," + base64.b64encode(snap.thumbnail).decode()
        return {"snapshot": entry, "thumbnail": thumb}

    @answers("levels")
    async def on_levels(self, sid: str, data: Any) -> dict[str, Any]:
        session_id, _side = await self._who(sid)
        call = self.hub.calls.get(session_id)
        if call is None:
            return {"participant": {}, "officer": {}}
        return {s: call.quality_levels(s) for s in ("participant", "officer")}
