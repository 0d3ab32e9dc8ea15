"""Attach the python-socketio ``AsyncServer`` to the aiohttp app.

With ``REDIS_URL`` set the server uses ``AsyncRedisManager`` so that rooms and emits reach clients
connected to any server process. The composition root (``server.py``) registers the
namespaces once the services exist:

- ``/participant`` and ``/officer`` — queue, pairing, call control (``signaling.participant``,
  ``signaling.officer``);
- ``/media`` — SDP offer/answer, snapshots and quality hints for one call, served by the process
  that hosts the call's media (``signaling.media``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

import socketio
from aiohttp import web

from signaling import limits
from signaling.edge import EdgeServer
from videocall.clock import Clock, SystemClock
from videocall.settings import Settings

logger = logging.getLogger(__name__)

# Large enough for an SDP offer with many candidates, small enough to refuse abuse.
MAX_MESSAGE_BYTES = 256 * 1024


class ResyncingRedisManager(socketio.AsyncRedisManager):  # type: ignore[misc]
    """``AsyncRedisManager`` that resubscribes quickly after a Redis outage (the library backs
    off up to 60 s) and then tells its listeners, so they resend state clients may have missed:
    emits published while nobody was subscribed are lost."""

    MAX_RETRY_SECONDS = 2.0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.on_resubscribed: list[Callable[[], None]] = []

    async def _redis_listen_with_retries(self) -> AsyncIterator[Any]:
        retry_sleep, subscribed, first = 0.25, False, True
        while True:
            try:
                if not subscribed:
                    self._redis_connect()
                    await self.pubsub.subscribe(self.channel)
                    subscribed, retry_sleep = True, 0.25
                    if not first:
                        for callback in self.on_resubscribed:
                            callback()
                    first = False
                async for message in self.pubsub.listen():
                    yield message
            except Exception as exc:
                logger.warning("socket.io redis listener: %s; retrying in %.2f s", exc, retry_sleep)
                subscribed = False
                await asyncio.sleep(retry_sleep)
                retry_sleep = min(retry_sleep * 2, self.MAX_RETRY_SECONDS)


def create_sio(app: web.Application, settings: Settings) -> EdgeServer:
    manager = None
    if settings.redis_url:
        manager = ResyncingRedisManager(
            settings.redis_url, channel=f"{settings.redis_prefix}:socketio"
        )
    sio = EdgeServer(
        async_mode="aiohttp",
        client_manager=manager,
        # Checked on every Engine.IO request, so on every namespace: a browser sends ``Origin``
        # on each websocket handshake and cross-origin poll. (``[]`` would turn the check off.)
        cors_allowed_origins=list(settings.allowed_origins),
        max_http_buffer_size=MAX_MESSAGE_BYTES,
        logger=False,
        engineio_logger=False,
    )
    sio.attach(app)
    return sio


SIO = web.AppKey("sio", EdgeServer)


def install(app: web.Application, settings: Settings, clock: Clock | None = None) -> EdgeServer:
    """Attach the Socket.IO server; the composition root registers the namespaces."""
    sio = create_sio(app, settings)
    app[SIO] = sio
    limits.install(app, sio, settings, clock or SystemClock())
    app.cleanup_ctx.append(_shutdown)
    return sio


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
    # Nor does it close its Redis connections (the pub/sub one and the publishing client).
    for name in ("pubsub", "redis"):
        client = getattr(sio.manager, name, None)
        if client is not None:
            with contextlib.suppress(Exception):
                await client.aclose()
