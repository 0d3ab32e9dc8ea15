"""Attach the python-socketio ``AsyncServer`` to the aiohttp app.

With ``REDIS_URL`` set the server uses ``AsyncRedisManager`` so that rooms and emits reach clients
connected to any server process. Namespaces are registered here, in one place:

- ``/participant`` and ``/officer`` — queue, pairing, call control (``signaling.participant``,
  ``signaling.officer``), when those modules exist;
- ``/media`` — SDP offer/answer, snapshots and quality hints for one call, served by the process
  that hosts the call's media (``signaling.media``).
"""

from __future__ import annotations

import asyncio
import importlib
import logging
from collections.abc import AsyncIterator

import socketio
from aiohttp import web

from web import keys

logger = logging.getLogger(__name__)

SIO = web.AppKey("sio", socketio.AsyncServer)
# Large enough for an SDP offer with many candidates, small enough to refuse abuse.
MAX_MESSAGE_BYTES = 256 * 1024


def create_sio(app: web.Application) -> socketio.AsyncServer:
    settings = app[keys.SETTINGS]
    manager = None
    if settings.redis_url:
        manager = socketio.AsyncRedisManager(
            settings.redis_url, channel=f"{settings.redis_prefix}:socketio"
        )
    sio = socketio.AsyncServer(
        async_mode="aiohttp",
        client_manager=manager,
        cors_allowed_origins=[],  # same origin only
        max_http_buffer_size=MAX_MESSAGE_BYTES,
        logger=False,
        engineio_logger=False,
    )
    sio.attach(app)
    return sio


def install(app: web.Application) -> None:
    sio = create_sio(app)
    app[SIO] = sio
    for module_name in ("signaling.participant", "signaling.officer", "signaling.media"):
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name != module_name:
                raise
            continue
        module.register(app, sio)
    app.cleanup_ctx.append(_shutdown)


async def _shutdown(app: web.Application) -> AsyncIterator[None]:
    yield
    sio = app[SIO]
    # Tell connected clients we are going away so they reconnect elsewhere at once.
    try:
        await sio.shutdown()
    except Exception:  # pragma: no cover - best effort at shutdown
        logger.warning("socket.io shutdown failed", exc_info=True)
    # The Redis manager's pub/sub listener runs until cancelled; python-socketio never stops it.
    listener = getattr(sio.manager, "thread", None)
    if listener is not None:
        listener.cancel()
        await asyncio.gather(listener, return_exceptions=True)
