"""Where domain errors and bad payloads become Socket.IO answers, for ``/participant`` and
``/officer``: one decorator, so every handler answers the same way.

A handler returns a dict; the client's acknowledgement gets ``{"ok": true, ...}``. On failure it
gets ``{"ok": false, "error": {"code", "message", "field"?}}`` and, for clients that did not ask
for an acknowledgement, the same error as an ``error`` event.

``EdgeServer`` guards every namespace before any handler: a client event named like one of
Socket.IO's own (``connect``, ``disconnect``...) would otherwise reach ``on_disconnect`` as if the
client had left; an event name that is not a string, or an event with more than one argument,
would raise in python-socketio's dispatch. Each is answered as an error instead, and the
``gates`` (the event limits, ``signaling.limits``) see every client event first.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable
from typing import Any, Protocol, TypeVar

import socketio
from pydantic import BaseModel
from pydantic import ValidationError as PydanticError

from videocall.app.messages import ERROR
from videocall.errors import VideoCallError

logger = logging.getLogger(__name__)

M = TypeVar("M", bound=BaseModel)


class Emits(Protocol):
    async def emit(self, event: str, data: Any = None, *, to: str | None = None) -> None: ...


Handler = Callable[[Any, str, Any], Awaitable[dict[str, Any]]]


def acknowledged(event: str) -> Callable[[Handler], Handler]:
    """Answer ``event`` with the handler's dict, or with the error it raised."""

    def wrap(fn: Handler) -> Handler:
        @functools.wraps(fn)
        async def handler(self: Emits, sid: str, data: Any = None, *extra: Any) -> dict[str, Any]:
            try:
                if extra:  # EdgeServer refuses these first; kept for direct calls
                    raise VideoCallError(TOO_MANY_ARGUMENTS, code="invalid_payload")
                return {"ok": True, **await fn(self, sid, data)}
            except PydanticError as exc:
                error: dict[str, str] = {"code": "invalid_payload", "message": _first(exc)}
            except VideoCallError as exc:
                error = exc.to_dict()
            except Exception:
                logger.exception("socket event %s failed", event)
                error = {"code": "internal_error", "message": "internal error"}
            await self.emit(ERROR, {"event": event, "error": error}, to=sid)
            return {"ok": False, "error": error}

        return handler

    return wrap


def payload(model: type[M], data: Any) -> M:
    """Validate an event's payload; a missing payload counts as ``{}``."""
    return model.model_validate({} if data is None else data)


def _first(exc: PydanticError) -> str:
    first = exc.errors()[0]
    return f"{'.'.join(str(p) for p in first['loc']) or 'payload'}: {first['msg']}"


# Socket.IO's own event names (the protocol reserves them; the JS client refuses to emit them).
RESERVED_EVENTS = frozenset(
    {"connect", "connect_error", "disconnect", "disconnecting", "newListener", "removeListener"}
)
MAX_EVENT_NAME = 64
TOO_MANY_ARGUMENTS = "an event takes at most one argument"

# (namespace, sid, event) -> an error to answer instead of running the event, or None.
Gate = Callable[[str, str, str], Awaitable[dict[str, Any] | None]]


def event_refusal(data: Any) -> dict[str, str] | None:
    """Why a client event packet's ``[name, *args]`` must not be dispatched, or None."""
    name = data[0] if isinstance(data, list) and data else None
    if not isinstance(name, str) or not name or len(name) > MAX_EVENT_NAME:
        return {"code": "invalid_event", "message": "an event needs a name (a short string)"}
    if name in RESERVED_EVENTS:
        return {"code": "event_reserved", "message": f"{name!r} is reserved by Socket.IO"}
    if len(data) > 2:
        return {"code": "invalid_payload", "message": TOO_MANY_ARGUMENTS}
    return None


class EdgeServer(socketio.AsyncServer):  # type: ignore[misc]  # untyped library
    """python-socketio's ``AsyncServer`` with the checks above in front of every client event.

    It overrides ``_handle_event``, the one method that receives client EVENT and BINARY_EVENT
    packets (``tests/integration/test_security_socket.py`` fails if that changes), and answers a
    refusal the way the library acknowledges a handler's return value."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.gates: list[Gate] = []

    async def _handle_event(self, eio_sid: str, namespace: str | None, id: Any, data: Any) -> None:
        ns = namespace or "/"
        sid = self.manager.sid_from_eio_sid(eio_sid, ns)
        if sid is None or not self.manager.is_connected(sid, ns):
            return  # python-socketio ignores these too
        name = data[0] if isinstance(data, list) and data and isinstance(data[0], str) else ""
        error = None
        for gate in self.gates:
            if (error := await gate(ns, sid, name)) is not None:
                break
        error = error or event_refusal(data)
        if error is None:
            await super()._handle_event(eio_sid, namespace, id, data)
            return
        logger.info("socket event %.64r on %s refused: %s", name, ns, error["code"])
        await self.emit(
            ERROR, {"event": name[:MAX_EVENT_NAME], "error": error}, to=sid, namespace=ns
        )
        if id is not None:
            answer = self.packet_class(
                socketio.packet.ACK, namespace=ns, id=id, data=[{"ok": False, "error": error}]
            )
            await self._send_packet(eio_sid, answer)
