"""Abuse limits per client address on registration, uploads and log-in, as a middleware.

A refused request raises ``RateLimited``; ``web.errors`` turns it into 429 with ``Retry-After``
and the usual JSON error body. Log-in counts failed attempts only (an office behind one NAT
logs in all at 08:00); the per-account lock-out in ``videocall.accounts`` stays the main guard.

The state lives in this process, or in Redis when ``REDIS_URL`` is set so every process shares it.

Socket.IO event limits live in ``signaling.limits`` (``web`` and ``signaling`` do not import
each other).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass

from aiohttp import web

from videocall.adapters.rate_limit_store import (
    MemoryRateLimitStore,
    RateLimitStore,
    RedisRateLimitStore,
)
from videocall.errors import RateLimited
from videocall.limits import Decision, Rule, parse_rule
from videocall.settings import Settings
from web import keys
from web.api_records import api
from web.errors import Handler

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class LimitedRoute:
    method: str
    path: str  # the route's template, e.g. /api/me/documents/{kind}
    rule: Rule
    failures_only: bool = False  # spend a token only when the answer is 401


FAILURE_STATUSES = frozenset({401})


def limited_routes(settings: Settings) -> list[LimitedRoute]:
    """The routes under a limit, from the settings (a limit set to "off" is left out)."""
    specs = [
        ("POST", "/api/participants", "register", settings.rate_limit_register, False),
        ("PUT", "/api/me/documents/{kind}", "upload", settings.rate_limit_upload, False),
        ("POST", "/api/auth/login", "login", settings.rate_limit_login, True),
    ]
    routes = []
    for method, path, name, spec, failures_only in specs:
        rule = parse_rule(name, spec)
        if rule is not None:
            routes.append(LimitedRoute(method, path, rule, failures_only))
    return routes


def client_address(request: web.Request, proxy_hops: int) -> str:
    """The peer address, or the address ``proxy_hops`` back in X-Forwarded-For behind proxies
    we run (entries further left are whatever the client wrote, so never trusted)."""
    if proxy_hops > 0:
        forwarded = [a.strip() for a in request.headers.get("X-Forwarded-For", "").split(",")]
        forwarded = [a for a in forwarded if a]
        if forwarded:
            return forwarded[-min(proxy_hops, len(forwarded))]
    return request.remote or "unknown"


class RateLimiter:
    def __init__(self, routes: list[LimitedRoute], proxy_hops: int) -> None:
        self.routes = {(r.method, r.path): r for r in routes}
        self.proxy_hops = proxy_hops
        self.store: RateLimitStore = MemoryRateLimitStore()

    def route_for(self, request: web.Request) -> LimitedRoute | None:
        resource = request.match_info.route.resource
        if resource is None:
            return None
        return self.routes.get((request.method, resource.canonical))

    async def before(self, route: LimitedRoute, address: str, now: float) -> None:
        if route.failures_only:
            decision = await self.store.peek(route.rule, address, now)
        else:
            decision = await self.store.hit(route.rule, address, now)
        if not decision.allowed:
            refuse(route, decision)

    async def after(self, route: LimitedRoute, address: str, now: float, status: int) -> None:
        if route.failures_only and status in FAILURE_STATUSES:
            await self.store.hit(route.rule, address, now)


def refuse(route: LimitedRoute, decision: Decision) -> None:
    logger.info("rate limit %s: refused for %.0f s", route.rule.name, decision.retry_after)
    raise RateLimited(
        "too many requests; try again later",
        retry_after=decision.retry_after,
        code="rate_limited",
    )


RATE_LIMITER = web.AppKey("rate_limiter", RateLimiter)


@web.middleware
async def rate_limit_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    limiter = request.app[RATE_LIMITER]
    route = limiter.route_for(request)
    if route is None:
        return await handler(request)
    address = client_address(request, limiter.proxy_hops)
    now = request.app[keys.CLOCK].now().timestamp()
    await limiter.before(route, address, now)
    try:
        response = await handler(request)
    except web.HTTPException as exc:
        await limiter.after(route, address, now, exc.status)
        raise
    except Exception as exc:
        await limiter.after(route, address, now, getattr(exc, "status", 500))
        raise
    await limiter.after(route, address, now, response.status)
    return response


async def _store_ctx(app: web.Application) -> AsyncIterator[None]:
    settings, limiter = app[keys.SETTINGS], app[RATE_LIMITER]
    if settings.redis_url:
        limiter.store = RedisRateLimitStore.from_url(settings.redis_url, settings.redis_prefix)
    yield
    await limiter.store.close()


LIMITABLE = frozenset(
    {
        ("POST", "/api/participants"),
        ("PUT", "/api/me/documents/{kind}"),
        ("POST", "/api/auth/login"),
    }
)


def _document_429() -> None:
    """These routes may answer 429 (whatever the settings): say so in /api/openapi.json."""
    for api_route in api.routes:
        if (api_route.method, api_route.path) in LIMITABLE and 429 not in api_route.errors:
            api_route.errors = (*api_route.errors, 429)


def install(app: web.Application) -> None:
    """Add the limiter (inside the error middleware, so a refusal becomes a JSON 429)."""
    settings = app[keys.SETTINGS]
    routes = limited_routes(settings)
    app[RATE_LIMITER] = RateLimiter(routes, settings.trusted_proxy_hops)
    app.middlewares.append(rate_limit_middleware)
    app.cleanup_ctx.append(_store_ctx)
    _document_429()
