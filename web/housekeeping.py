"""Background housekeeping on the app: the retention job, started and stopped with the app."""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web

from videocall.adapters.retention_job import RetentionJob
from videocall.retention import RetentionPolicy
from web import keys

RETENTION = web.AppKey("retention_job", RetentionJob)


async def _retention_ctx(app: web.Application) -> AsyncIterator[None]:
    settings = app[keys.SETTINGS]
    job = RetentionJob(
        app[keys.DATABASE],
        app[keys.RECORDS],
        app[keys.BLOBS],
        [
            ("recording", settings.recordings_dir),
            ("snapshot", settings.snapshots_dir),
            ("snapshot", settings.recordings_dir / "snapshots"),  # the media layer's default
        ],
        RetentionPolicy.from_days(settings.retention_rejected_days, settings.retention_active_days),
        app[keys.CLOCK],
        settings.retention_interval_seconds,
    )
    app[RETENTION] = job
    job.start()
    try:
        yield
    finally:
        await job.close()


def install(app: web.Application) -> None:
    app.cleanup_ctx.append(_retention_ctx)
