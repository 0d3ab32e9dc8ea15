"""Run the verification server: ``python server.py [--host H] [--port P]``.

This module is the composition root: it wires which adapter implements which interface of the
application services (``videocall.app``), and joins the two edges, HTTP (``web``) and Socket.IO
(``signaling``), which do not know each other. Settings come from the environment (see
docs/configuration.md). On start the database is migrated; SIGTERM/SIGINT shut down gracefully.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import time
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import socketio
from aiohttp import web
from redis.asyncio import Redis

import signaling.install
from recording.recover import recover_segments
from signaling.cluster import Cluster, open_cluster
from signaling.media import MediaHub, MediaSweeper
from signaling.media_control import MediaControl
from signaling.media_watch import WatchDesk, WatchingMediaNamespace
from signaling.notifier import SioNotifier
from signaling.officer import OfficerNamespace
from signaling.participant import ParticipantNamespace
from videocall.adapters.cpu_pool import WorkerPool
from videocall.adapters.memory_queue import MemoryQueueStore
from videocall.adapters.migrate import upgrade
from videocall.adapters.redis_queue import RedisQueueStore, connect
from videocall.adapters.sql_outcomes import SqlOutcomes
from videocall.app.calls import CallService
from videocall.app.desk import DeskService
from videocall.app.outcomes import OutcomeService
from videocall.app.recovery import SWEEP_SECONDS as RECONCILE_SECONDS
from videocall.app.recovery import Reconciler
from videocall.app.setup_timeline import SetupTimeline
from videocall.app.supervision import SupervisionService
from videocall.app.ticker import Ticker
from videocall.clock import Clock
from videocall.hours import ServiceHours
from videocall.logsetup import configure_logging
from videocall.ports import CpuPool
from videocall.queue import QueueConfig, QueueStore
from videocall.sessions import SessionConfig
from videocall.settings import Settings
from web import keys
from web.app import create_web_app
from web.auth import SESSION_COOKIE, staff_from_cookie
from web.keys import ASSIST
from web.metrics import METRICS, queue_collector
from web.supervision_api import SUPERVISION

logger = logging.getLogger("server")

MEDIA_HUB = web.AppKey("media_hub", MediaHub)
MEDIA_WATCH = web.AppKey("media_watch", WatchDesk)
CLUSTER = web.AppKey("cluster", Cluster)
RECONCILER = web.AppKey("reconciler", Reconciler)
# Grace windows end within a second; officers' wait times refresh every 15 s.
DESK_SWEEP_SECONDS = 1.0
VIEW_REFRESH_SECONDS = 15.0
APPOINTMENT_TICK_SECONDS = 15.0


def create_app(settings: Settings, *, clock: Clock | None = None) -> web.Application:
    """The whole service: HTTP, Socket.IO, media and the services between them."""
    return create_web_app(settings, clock=clock, edges=[_install_calls])


def _install_calls(app: web.Application) -> None:
    sio = signaling.install.install(app, app[keys.SETTINGS], app[keys.CLOCK])
    app.cleanup_ctx.append(_calls_ctx(sio))
    app.on_shutdown.append(_drain_on_shutdown)


class DiskRecordings:
    """``RecordingRecovery``: what a dead process left in this node's recordings directory."""

    def __init__(self, directory: Path, pool: CpuPool) -> None:
        self.directory = directory
        self.pool = pool

    async def recover(self, session_id: str) -> dict[str, Any] | None:
        segments = await self.pool.run(recover_segments, self.directory, session_id)
        return {"segments": segments, "gaps_s": [], "recovered": True} if segments else None


def _assist_summary(app: web.Application) -> Any:
    """The officer-assist summary for a decision's evidence (assist starts after the calls)."""

    async def summary(record_id: str, session_id: str) -> dict[str, Any] | None:
        assist = app.get(ASSIST)
        return await assist.assist_summary(record_id, session_id) if assist else None

    return summary


def _queue_store(settings: Settings, redis: Redis | None) -> QueueStore:
    config = QueueConfig(disconnect_grace_seconds=settings.participant_grace_seconds)
    if redis is not None:
        return RedisQueueStore(redis, prefix=settings.redis_prefix, config=config)
    return MemoryQueueStore(config)


def _calls_ctx(sio: socketio.AsyncServer) -> Any:
    async def ctx(app: web.Application) -> AsyncIterator[None]:
        settings, clock = app[keys.SETTINGS], app[keys.CLOCK]
        redis = connect(settings.redis_url) if settings.redis_url else None  # lazy connection
        store = _queue_store(settings, redis)
        hub_calls: dict[str, Any] = {}
        cluster = open_cluster(settings, redis, lambda: len(hub_calls))
        hub = MediaHub(
            sio,
            settings=settings,
            sessions=app[keys.SESSIONS],
            records=app[keys.RECORDS],
            placement=cluster,
            clock=clock,
            metrics=app.get(METRICS),
            control=MediaControl(redis, settings.redis_prefix) if redis is not None else None,
        )
        hub.calls = hub_calls
        notifier = SioNotifier(sio)
        calls, desk = _services(app, store, hub, notifier, cluster)
        hub.on_connected = calls.media_connected
        hub.setup = calls.setup = _setup_timeline(app)
        app[MEDIA_WATCH] = watch = WatchDesk(hub)
        app[SUPERVISION] = supervision = SupervisionService(
            store=store,
            sessions=app[keys.SESSIONS],
            calls=calls,
            watching=watch,
            journal=app[keys.SERVICE],
            notifier=notifier,
        )
        watch.on_watch = supervision.watching
        app[keys.OUTCOMES] = SqlOutcomes(
            app[keys.DATABASE],
            app[keys.RECORDS],
            app[keys.SESSIONS],
            app[keys.CALENDAR],
            settings.review_working_days,
        )
        app[keys.DECISIONS] = OutcomeService(
            sessions=app[keys.SESSIONS],
            outcomes=app[keys.OUTCOMES],
            calls=calls,
            desk=desk,
            notifier=notifier,
            clock=clock,
            escalate_after=desk.escalate_after,
            assist=_assist_summary(app),
        )
        reconciler = Reconciler(
            store=store,
            sessions=app[keys.SESSIONS],
            calls=calls,
            desk=desk,
            notifier=notifier,
            recordings=DiskRecordings(settings.recordings_dir, app[keys.CPU_POOL]),
            clock=clock,
        )
        app[MEDIA_HUB], app[CLUSTER], app[keys.CALLS], app[keys.DESK] = hub, cluster, calls, desk
        app[RECONCILER] = reconciler
        _register_namespaces(app, sio, desk, hub)
        metrics = app.get(METRICS)
        if metrics is not None:
            metrics.on_collect(queue_collector(metrics, store.snapshot, clock.now))
        cluster.on_node_lost.append(reconciler.node_lost)
        resubscribed = getattr(sio.manager, "on_resubscribed", None)
        if resubscribed is not None:
            resubscribed.append(desk.resync)
        # Before the first socket connects: what a previous incarnation owned is lost.
        await reconciler.on_start(cluster.node_id, fresh_store=redis is None)
        ticker = _ticker(settings, desk, reconciler)
        # Reminders, walk-ins whose booked time came, no-shows (docs/appointments.md).
        ticker.every("appointments", APPOINTMENT_TICK_SECONDS, app[keys.APPOINTMENTS].tick)
        sweeper = MediaSweeper(hub)
        cluster.start()
        ticker.start()
        sweeper.start()
        yield
        await ticker.close()
        await sweeper.close()
        await desk.close()
        await hub.close_all()
        await cluster.close()
        if redis is not None:
            await redis.aclose()

    return ctx


def _setup_timeline(app: web.Application) -> SetupTimeline | None:
    """Each call's set-up steps, timed from the accept, as a histogram on /metrics."""
    metrics = app.get(METRICS)
    # Real time whatever clock the records use (tests set that one), as the media's.
    return SetupTimeline(metrics.observe_setup, time.monotonic) if metrics is not None else None


def _services(
    app: web.Application,
    store: QueueStore,
    hub: MediaHub,
    notifier: SioNotifier,
    cluster: Cluster,
) -> tuple[CallService, DeskService]:
    settings, clock = app[keys.SETTINGS], app[keys.CLOCK]
    desk_ref: list[DeskService] = []

    async def officer_changed(officer_id: str) -> None:
        await desk_ref[0].officer_changed(officer_id)

    calls = CallService(
        store=store,
        sessions=app[keys.SESSIONS],
        media=hub,
        notifier=notifier,
        placement=cluster,
        journal=app[keys.SERVICE],
        clock=clock,
        config=SessionConfig(
            officer_grace_seconds=settings.officer_grace_seconds,
            participant_grace_seconds=settings.participant_grace_seconds,
            connect_timeout_seconds=settings.call_connect_timeout_seconds,
        ),
        officer_changed=officer_changed,
    )
    desk = DeskService(
        store=store,
        calls=calls,
        records=app[keys.RECORDS],
        sessions=app[keys.SESSIONS],
        journal=app[keys.SERVICE],
        notifier=notifier,
        placement=cluster,
        clock=clock,
        hours=ServiceHours.parse(settings.service_hours, tz=settings.timezone),
        holidays=frozenset(settings.holidays),
        escalate_after=timedelta(seconds=settings.undecided_escalate_seconds),
        appointments=app[keys.APPOINTMENTS],
        offer_wait_seconds=settings.appointment_offer_wait_seconds,
    )
    app[keys.APPOINTMENTS].promote = desk.promote
    desk_ref.append(desk)
    return calls, desk


def _register_namespaces(
    app: web.Application, sio: socketio.AsyncServer, desk: DeskService, hub: MediaHub
) -> None:
    async def staff_auth(cookie: str | None) -> Any:
        return await staff_from_cookie(app, cookie)

    sio.register_namespace(ParticipantNamespace(desk, app[keys.TOKENS].verify))
    sio.register_namespace(OfficerNamespace(desk, staff_auth, SESSION_COOKIE))
    sio.register_namespace(WatchingMediaNamespace(hub, app[MEDIA_WATCH]))


def _ticker(settings: Settings, desk: DeskService, reconciler: Reconciler) -> Ticker:
    # A lost call is seen on two sweeps in a row: keep both well inside the recovery bound.
    reconcile_s = min(RECONCILE_SECONDS, settings.recovery_bound_seconds / 6)
    if settings.redis_url and settings.node_ttl_seconds >= settings.recovery_bound_seconds:
        logger.warning(
            "NODE_TTL_SECONDS (%.0f) is not below RECOVERY_BOUND_SECONDS (%.0f): a dead node's "
            "calls may stay open longer than promised",
            settings.node_ttl_seconds,
            settings.recovery_bound_seconds,
        )
    ticker = Ticker()
    ticker.every("desk-sweep", DESK_SWEEP_SECONDS, desk.sweep)
    ticker.every("queue-view-refresh", VIEW_REFRESH_SECONDS, desk.broadcast)
    ticker.every("reconcile", reconcile_s, reconciler.sweep)
    return ticker


async def _drain_on_shutdown(app: web.Application) -> None:
    # on_shutdown runs before cleanup_ctx closes anything: calls in progress keep their media.
    cluster = app.get(CLUSTER)
    if cluster is not None:
        await cluster.drain(app[keys.SETTINGS].drain_seconds)


async def _warm_cpu_pool(app: web.Application) -> AsyncIterator[None]:
    """Start the CPU pool's workers in the background as the server starts, so the first
    upload or the first recovery hash after a restart does not wait for process start-up
    (seconds on a busy machine). Only for the real server: tests start many apps."""
    pool = app[keys.CPU_POOL]
    if not isinstance(pool, WorkerPool):
        yield
        return
    task = asyncio.create_task(pool.warm_up(), name="cpu-pool-warm-up")
    yield
    if not task.done():
        task.cancel()
    results = await asyncio.gather(task, return_exceptions=True)
    if isinstance(results[0], Exception):
        logger.info("CPU pool warm-up did not finish: %s", results[0])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="video-call identity verification server")
    parser.add_argument("--host", help="bind address (default: $HOST or 127.0.0.1)")
    parser.add_argument("--port", type=int, help="port (default: $PORT or 8080)")
    parser.add_argument("--no-migrate", action="store_true", help="do not run migrations")
    args = parser.parse_args(argv)
    overrides = {k: v for k, v in (("host", args.host), ("port", args.port)) if v is not None}
    settings = Settings(**overrides)
    configure_logging(settings.log_level, settings.log_json)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    if not args.no_migrate:
        upgrade(settings.effective_database_url)
    app = create_app(settings)
    app.cleanup_ctx.append(_warm_cpu_pool)
    logger.info("listening on %s", settings.effective_public_url)
    web.run_app(
        app,
        host=settings.host,
        port=settings.port,
        shutdown_timeout=settings.shutdown_grace_seconds,
        print=None,
        access_log=None,
        loop=asyncio.new_event_loop(),
    )


if __name__ == "__main__":
    main()
