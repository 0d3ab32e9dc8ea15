"""The application factory: every resource is opened and closed in ``cleanup_ctx``."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any

from aiohttp import web

from videocall.accounts import LockoutPolicy
from videocall.adapters.cpu_pool import WorkerPool
from videocall.adapters.files import FileBlobStore
from videocall.adapters.sql_accounts import SqlAccounts
from videocall.adapters.sql_records import Database, SqlRecordRepository
from videocall.adapters.sql_sessions import SqlCallSessions
from videocall.clock import Clock, SystemClock
from videocall.documents import DocumentRules
from videocall.service import RecordService
from videocall.settings import Settings
from videocall.tokens import ParticipantTokens
from videocall.workdays import WorkCalendar
from web import (
    appointments_api,
    assist_api,
    dashboard_api,
    evidence_api,
    evidence_bundle_api,
    handoff_api,
    housekeeping,
    keys,
    limits_mw,
    loop_lag,
    metrics,
    outcomes_api,
    pages,
    quality_api,
    staff_auth_api,
    upstream_api,
    webhooks_api,
)
from web.api_records import api
from web.errors import error_middleware
from web.origin import origin_middleware

logger = logging.getLogger(__name__)

# Modules that only add routes to the shared registry (importing them is what registers them).
ROUTE_MODULES = (quality_api, staff_auth_api, upstream_api)

# A layer added around the records API (signalling, outcomes, pages...): gets the app to extend.
AppPlugin = Callable[[web.Application], None]


def content_security_policy(settings: Settings) -> str:
    return (
        "default-src 'self'; img-src 'self' blob: data:; media-src 'self' blob: mediastream:; "
        "connect-src 'self' ws: wss:; script-src 'self'; style-src 'self'; object-src 'none'; "
        f"base-uri 'none'; form-action 'self'; frame-ancestors {settings.frame_ancestors}"
    )


def security_headers(settings: Settings) -> Callable[..., Awaitable[web.StreamResponse]]:
    csp = content_security_policy(settings)

    @web.middleware
    async def middleware(request: web.Request, handler: Any) -> web.StreamResponse:
        response: web.StreamResponse = await handler(request)
        response.headers.setdefault("Content-Security-Policy", csp)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "no-referrer")
        if request.path.startswith("/api/"):
            response.headers.setdefault("Cache-Control", "no-store")
        return response

    return middleware


async def healthz(_request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    try:
        await request.app[keys.DATABASE].ping()
    except Exception:
        logger.warning("readiness: database unreachable")
        return web.json_response(
            {"error": {"code": "database_unreachable", "message": "database unreachable"}},
            status=503,
        )
    return web.json_response({"status": "ready"})


def create_web_app(
    settings: Settings, *, clock: Clock | None = None, edges: Sequence[AppPlugin] = ()
) -> web.Application:
    """Build the HTTP application; nothing is opened until it starts. ``edges`` are installed
    before the outcome routes (the composition root, ``server.py``, passes the signalling and
    the services there)."""
    app = web.Application(
        middlewares=[security_headers(settings), error_middleware, origin_middleware(settings)],
        # Uploads are the largest bodies; JSON bodies have their own, smaller limit.
        client_max_size=settings.max_upload_bytes + 256 * 1024,
    )
    app[keys.SETTINGS] = settings
    app[keys.CLOCK] = clock or SystemClock()
    app[keys.EXTRAS] = {}
    calendar = WorkCalendar(settings.holidays, settings.timezone)
    app[keys.CALENDAR] = calendar
    app[keys.LOCKOUT] = LockoutPolicy()
    app[keys.TOKENS] = ParticipantTokens(
        settings.signing_keys(), settings.participant_token_ttl_seconds
    )
    app.cleanup_ctx.append(_storage)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    first, then = _layers()
    api.install(app)
    for install in (*first, *edges, *then):
        install(app)
    return app


def _layers() -> tuple[list[AppPlugin], list[AppPlugin]]:
    """The layers around the records API, in the order they wrap the app (the edges go between
    the two lists). Every route module is imported at the top of this module, so its routes are
    on the registry before it is installed."""
    return [
        metrics.install,
        loop_lag.install,
        limits_mw.install,
        housekeeping.install,
        appointments_api.install,  # before the edges: the call desk asks it for the lane
    ], [
        outcomes_api.install,
        webhooks_api.install,
        evidence_api.install,
        evidence_bundle_api.install,
        dashboard_api.install,
        handoff_api.install,
        assist_api.install,
        pages.install,
    ]


async def _storage(app: web.Application) -> AsyncIterator[None]:
    settings = app[keys.SETTINGS]
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    database = Database.from_url(settings.effective_database_url)
    app[keys.DATABASE] = database
    app[keys.RECORDS] = SqlRecordRepository(database)
    app[keys.ACCOUNTS] = SqlAccounts(database)
    app[keys.SESSIONS] = SqlCallSessions(database, app[keys.RECORDS])
    app[keys.BLOBS] = FileBlobStore(settings.uploads_dir)
    cpu_pool = app[keys.CPU_POOL] = WorkerPool(
        workers=settings.cpu_pool_workers or None,
        queue=settings.cpu_pool_queue,
        log_level=settings.log_level,
        log_json=settings.log_json,
    )
    app[keys.SERVICE] = RecordService(
        app[keys.RECORDS],
        app[keys.BLOBS],
        app[keys.CLOCK],
        app[keys.CALENDAR],
        DocumentRules(
            max_bytes=settings.max_upload_bytes,
            min_width=settings.min_photo_width,
            min_height=settings.min_photo_height,
        ),
        cpu_pool,
    )
    yield
    await cpu_pool.close()
    await database.close()
