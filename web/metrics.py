"""Prometheus metrics: one ``CollectorRegistry`` per app (several apps in one test process never
clash), HTTP requests by route and status, and a ``Metrics`` object the other layers increment::

    metrics = app[METRICS]            # or request.app[METRICS]
    metrics.calls_in_progress.inc()
    metrics.call_duration.observe(seconds)
    metrics.set_officers({"available": 3, "busy": 2, "away": 1})

``GET /metrics`` needs ``Authorization: Bearer $METRICS_TOKEN``; with no token set it answers
only direct loopback requests (no X-Forwarded-For: a local reverse proxy is not "local").
Numbers that live in the database (records by state, webhook deliveries) are read at scrape time;
other layers refresh theirs through ``Metrics.on_collect`` (the queue: ``queue_collector``). This
module imports nothing of ``signaling``.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime

import sqlalchemy as sa
from aiohttp import web
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    ProcessCollector,
    generate_latest,
)

from videocall.adapters import db
from videocall.presence import Presence
from videocall.queue import OfficerQueueView, QueueSnapshot, officer_view
from web import keys
from web.errors import Handler, error_response

logger = logging.getLogger(__name__)

NS = "videocall"
WAIT_BUCKETS = (5, 15, 30, 60, 120, 300, 600, 900, 1800, 3600)
CALL_BUCKETS = (30, 60, 120, 180, 300, 450, 600, 900, 1200, 1800, 3600)
SETUP_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.75, 1, 1.5, 2, 3, 5, 10, 30)
UNMATCHED = "unmatched"  # one label for every unknown path: no label per scanner URL

Collect = Callable[[], Awaitable[None]]


class Metrics:
    """Every metric of one app, on its own registry."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self._collect_hooks: list[Collect] = []
        ProcessCollector(registry=self.registry)
        self._http()
        self._queue_and_calls()
        self._media()
        self._outcomes()

    def _counter(self, name: str, doc: str, labels: tuple[str, ...] = ()) -> Counter:
        return Counter(f"{NS}_{name}", doc, labels, registry=self.registry)

    def _gauge(self, name: str, doc: str, labels: tuple[str, ...] = ()) -> Gauge:
        return Gauge(f"{NS}_{name}", doc, labels, registry=self.registry)

    def _histogram(self, name: str, doc: str, buckets: tuple[float, ...]) -> Histogram:
        return Histogram(f"{NS}_{name}", doc, buckets=buckets, registry=self.registry)

    def _http(self) -> None:
        self.http_requests = self._counter(
            "http_requests_total",
            "HTTP requests by route, method and status",
            ("route", "method", "status"),
        )
        self.http_duration = Histogram(
            f"{NS}_http_request_duration_seconds",
            "HTTP request handling time",
            ("route", "method"),
            registry=self.registry,
        )

    def _queue_and_calls(self) -> None:
        self.participants_waiting = self._gauge(
            "queue_participants_waiting", "Participants waiting in the queue"
        )
        self.longest_wait = self._gauge(
            "queue_longest_wait_seconds", "How long the longest-waiting participant has waited"
        )
        self.wait_time = self._histogram(
            "queue_wait_seconds", "Time from joining the queue to being paired", WAIT_BUCKETS
        )
        self.officers = self._gauge("officers", "Logged-in officers by presence", ("presence",))
        self.calls_in_progress = self._gauge("calls_in_progress", "Calls now in progress")
        self.call_duration = self._histogram(
            "call_duration_seconds", "Length of finished calls", CALL_BUCKETS
        )

    def _media(self) -> None:
        self.frames_forwarded = self._counter(
            "media_frames_forwarded_total", "Media frames forwarded to the other side", ("kind",)
        )
        self.frames_dropped = self._counter(
            "media_frames_dropped_total", "Media frames dropped (late, queue full)", ("kind",)
        )
        self.quality_classes = self._counter(
            "quality_classes_total",
            "Quality classifications seen, by measure and level",
            ("measure", "level"),
        )
        self.recording_bytes = self._counter(
            "recording_bytes_total", "Bytes written to recording files"
        )
        self.call_setup = Histogram(
            f"{NS}_call_setup_seconds",
            "Set-up steps of each call (accept acknowledged ... first frame forwarded), "
            "seconds since the officer's accept",
            ("step",),
            buckets=SETUP_BUCKETS,
            registry=self.registry,
        )

    def _outcomes(self) -> None:
        self.decisions = self._counter(
            "decisions_total", "Officer decisions by result", ("result",)
        )
        self.webhook_backlog = self._gauge(
            "webhook_backlog", "Webhook deliveries pending (not yet delivered nor failed)"
        )
        self.webhook_deliveries = self._gauge(
            "webhook_deliveries", "Webhook deliveries by status", ("status",)
        )
        self.webhook_failures = self._counter(
            "webhook_failures_total", "Webhook delivery attempts that failed"
        )
        self.records = self._gauge("records", "Verification records by state", ("state",))

    # -- helpers for the other layers ------------------------------------------------------------

    def set_officers(self, counts: Mapping[str, int]) -> None:
        """Officers by presence; a presence missing from ``counts`` is 0."""
        for presence in Presence:
            self.officers.labels(presence.value).set(counts.get(presence.value, 0))

    def set_queue(self, view: OfficerQueueView) -> None:
        """The queue gauges from the officers' view of the queue."""
        self.participants_waiting.set(view.waiting)
        self.longest_wait.set(view.longest_wait_seconds or 0)
        self.officers.labels(Presence.AVAILABLE.value).set(view.officers_available)
        self.officers.labels(Presence.BUSY.value).set(view.officers_busy)

    def observe_setup(self, step: str, seconds: float) -> None:
        """One call reached a set-up step ``seconds`` after its accept."""
        self.call_setup.labels(step).observe(seconds)

    def on_collect(self, hook: Collect) -> None:
        """Run ``hook`` before each scrape, to refresh gauges kept elsewhere (a queue length):
        how another layer adds its numbers without this module importing it."""
        self._collect_hooks.append(hook)

    async def collect(self) -> bytes:
        for hook in self._collect_hooks:
            try:
                await hook()
            except Exception:
                logger.exception("metrics: a collect hook failed")
        return generate_latest(self.registry)


METRICS = web.AppKey("metrics", Metrics)


def route_label(request: web.Request) -> str:
    resource = request.match_info.route.resource
    return resource.canonical if resource is not None else UNMATCHED


@web.middleware
async def metrics_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    started = time.perf_counter()
    status = 500
    try:
        response = await handler(request)
        status = response.status
        return response
    except web.HTTPException as exc:
        status = exc.status
        raise
    finally:
        metrics, route = request.app[METRICS], route_label(request)
        metrics.http_requests.labels(route, request.method, str(status)).inc()
        metrics.http_duration.labels(route, request.method).observe(time.perf_counter() - started)


def _is_loopback(request: web.Request) -> bool:
    if "X-Forwarded-For" in request.headers or "Forwarded" in request.headers:
        return False
    try:
        return ipaddress.ip_address(request.remote or "").is_loopback
    except ValueError:
        return False


def allowed_to_scrape(request: web.Request, token: str) -> bool:
    if not token:
        return _is_loopback(request)
    given = request.headers.get("Authorization", "")
    return hmac.compare_digest(given.encode(), f"Bearer {token}".encode())


async def metrics_endpoint(request: web.Request) -> web.Response:
    if not allowed_to_scrape(request, request.app[keys.SETTINGS].metrics_token):
        response = error_response(401, "unauthenticated", "metrics need the metrics token")
        response.headers["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    body = await request.app[METRICS].collect()
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


def _database_gauges(app: web.Application) -> Collect:
    async def refresh() -> None:
        metrics, database = app[METRICS], app[keys.DATABASE]
        async with database.connect() as conn:
            states = await conn.execute(
                sa.select(db.records.c.state, sa.func.count()).group_by(db.records.c.state)
            )
            _set_all(metrics.records, {s: int(n) for s, n in states})
            D = db.webhook_deliveries
            rows = await conn.execute(sa.select(D.c.status, sa.func.count()).group_by(D.c.status))
            deliveries = {s: int(n) for s, n in rows}
        _set_all(metrics.webhook_deliveries, deliveries)
        metrics.webhook_backlog.set(deliveries.get("pending", 0))

    return refresh


def _set_all(gauge: Gauge, values: Mapping[str, int]) -> None:
    gauge.clear()  # a state that emptied must read 0, not its last value
    for label, value in values.items():
        gauge.labels(label).set(value)


def queue_collector(
    metrics: Metrics,
    snapshot: Callable[[], Awaitable[QueueSnapshot]],
    now: Callable[[], datetime],
) -> Collect:
    """A collect hook for the shared queue (Redis or memory) as seen at scrape time, right on
    every process. The layer that owns the queue registers it (this module imports no
    signalling)::

        metrics.on_collect(queue_collector(metrics, store.snapshot, clock.now))
    """

    async def refresh() -> None:
        metrics.set_queue(officer_view(await snapshot(), now()))

    return refresh


def install(app: web.Application) -> None:
    """Metrics on the app, the request middleware (outermost, so it sees final statuses)
    and ``GET /metrics``."""
    metrics = Metrics()
    app[METRICS] = metrics
    metrics.on_collect(_database_gauges(app))
    app.middlewares.insert(0, metrics_middleware)
    app.router.add_get("/metrics", metrics_endpoint)
