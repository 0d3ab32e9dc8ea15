"""Webhooks over HTTP: the supervisor's list of deliveries that gave up and their redelivery;
plus the webhook worker's lifecycle (the outbox is written with each record change; the worker
delivers it, signed, to the upstream endpoints: docs/webhooks.md)."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from typing import Any, Literal

from aiohttp import web
from pydantic import BaseModel

from videocall.accounts import Role
from videocall.adapters.webhook_worker import WebhookStore, WebhookWorker
from videocall.errors import NotFound
from videocall.webhooks import Backoff, parse_endpoints
from web import keys
from web.api_records import api
from web.auth import require_staff
from web.metrics import METRICS

WEBHOOKS = web.AppKey("webhook_store", WebhookStore)
WORKER = web.AppKey("webhook_worker", WebhookWorker)
TAG = "outcomes"


class FailedDeliveryOut(BaseModel):
    id: int
    endpoint: str
    record_id: str
    event_id: str
    type: str
    occurred_at: str
    attempts: int
    last_error: str | None


class FailedDeliveriesOut(BaseModel):
    items: list[FailedDeliveryOut]


class RedeliverOut(BaseModel):
    id: int
    status: Literal["pending"]


def _json(model: BaseModel, status: int = 200) -> web.Response:
    return web.json_response(model.model_dump(mode="json"), status=status)


@api.route(
    "GET",
    "/api/webhooks/failed",
    summary="Webhook deliveries that gave up (after max age)",
    tag=TAG,
    response=FailedDeliveriesOut,
    security="staff",
)
async def get_failed_webhooks(request: web.Request) -> web.Response:
    await require_staff(request, Role.SUPERVISOR)
    rows = await request.app[WEBHOOKS].list_failed()
    items = [FailedDeliveryOut(**{**r, "occurred_at": r["occurred_at"].isoformat()}) for r in rows]
    return _json(FailedDeliveriesOut(items=items))


@api.route(
    "POST",
    "/api/webhooks/{delivery_id}/redeliver",
    summary="Try a failed delivery again (with a fresh retry budget)",
    tag=TAG,
    response=RedeliverOut,
    security="staff",
)
async def post_redeliver(request: web.Request) -> web.Response:
    await require_staff(request, Role.SUPERVISOR)
    raw = request.match_info["delivery_id"]
    # Ids are 63-bit at most on either database; anything else cannot name a delivery.
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 18:
        raise NotFound("no such webhook delivery", code="delivery_not_found")
    delivery_id = int(raw)
    await request.app[WEBHOOKS].redeliver(delivery_id, request.app[keys.CLOCK].now())
    wake_worker(request.app)
    return _json(RedeliverOut(id=delivery_id, status="pending"))


# -- wiring ------------------------------------------------------------------------------------

_ROUTES = (get_failed_webhooks, post_redeliver)


def wake_worker(app: web.Application) -> None:
    """Deliver new outbox events now rather than at the next poll."""
    worker = app.get(WORKER)
    if worker is not None:
        worker.wake()


async def _webhooks_ctx(app: web.Application) -> AsyncIterator[None]:
    settings = app[keys.SETTINGS]
    database = app[keys.DATABASE]
    app[WEBHOOKS] = WebhookStore(database)
    backoff = Backoff(
        base_seconds=settings.webhook_backoff_base_seconds,
        max_delay_seconds=settings.webhook_backoff_max_seconds,
        max_age_seconds=settings.webhook_max_age_seconds,
    )
    worker = WebhookWorker(
        app[WEBHOOKS],
        parse_endpoints(settings.webhook_endpoints),
        backoff,
        app[keys.CLOCK],
        timeout_seconds=settings.webhook_timeout_seconds,
        poll_seconds=settings.webhook_poll_seconds,
        rng=random.Random(),
        on_attempt_failed=_count_webhook_failure(app),
    )
    app[WORKER] = worker
    app[keys.EXTRAS]["webhook_worker"] = worker
    worker.start()
    try:
        yield
    finally:
        await worker.close()


def _count_webhook_failure(app: web.Application) -> Any:
    metrics = app.get(METRICS)

    def count(_final: bool) -> None:
        if metrics is not None:
            metrics.webhook_failures.inc()

    return count


def install(app: web.Application) -> None:
    """Add the routes (unless ``api.install`` already did) and the worker's lifecycle."""
    present = {route.handler for route in app.router.routes()}
    for route in api.routes:
        if route.handler in _ROUTES and route.handler not in present:
            app.router.add_route(route.method, route.path, route.handler)
    app.cleanup_ctx.append(_webhooks_ctx)
