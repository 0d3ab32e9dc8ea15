"""Where domain errors and bad payloads become Socket.IO answers, for ``/participant`` and
``/officer``: one decorator, so every handler answers the same way.

A handler returns a dict; the client's acknowledgement gets ``{"ok": true, ...}``. On failure it
gets ``{"ok": false, "error": {"code", "message", "field"?}}`` and, for clients that did not ask
for an acknowledgement, the same error as an ``error`` event.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable
from typing import Any, Protocol, TypeVar

from pydantic import BaseModel
from pydantic import ValidationError as PydanticError

from signaling.messages import ERROR
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
        async def handler(self: Emits, sid: str, data: Any = None) -> dict[str, Any]:
            try:
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
