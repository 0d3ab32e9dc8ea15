"""The supervisors' dashboard: queue now, waits and outcomes today, officers on duty."""

from __future__ import annotations

import statistics
from datetime import datetime, time
from typing import Any

import sqlalchemy as sa
from aiohttp import web
from pydantic import BaseModel

from videocall.accounts import Role
from videocall.adapters import db
from web import keys
from web import supervision_api as _supervision  # noqa: F401  (live calls: its routes)
from web.api_records import api
from web.auth import require_staff


class DashboardOut(BaseModel):
    waiting: int
    longest_wait_seconds: int | None
    officers_available: int
    officers_busy: int
    calls_today: int
    wait_median_seconds: float | None
    wait_p90_seconds: float | None
    decisions_today: dict[str, int]
    reviews_waiting: int
    reviews_overdue: int


def percentile(values: list[float], share: float) -> float | None:
    """Nearest-rank percentile; None when there is nothing to rank."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * share // 1))  # ceil without floats drifting
    return ordered[int(rank) - 1]


async def _waits_today(conn: Any, since: datetime) -> list[float]:
    """Seconds from joining the queue to being paired, for calls that started today."""
    sessions = (
        await conn.execute(
            sa.select(db.call_sessions.c.record_id, db.call_sessions.c.created_at).where(
                db.call_sessions.c.created_at >= since
            )
        )
    ).all()
    waits = []
    for record_id, paired_at in sessions:
        joined = await conn.scalar(
            sa.select(sa.func.max(db.record_history.c.at)).where(
                db.record_history.c.record_id == record_id,
                db.record_history.c.action == "queue_joined",
                db.record_history.c.at <= paired_at,
            )
        )
        if joined is not None:
            joined = db.UTCDateTime().process_result_value(joined, conn.dialect)
            waits.append((paired_at - joined).total_seconds())
    return waits


async def _today(request: web.Request) -> dict[str, Any]:
    app = request.app
    now = app[keys.CLOCK].now()
    calendar = app[keys.CALENDAR]
    since = datetime.combine(now.astimezone(calendar.tz).date(), time(0), tzinfo=calendar.tz)
    async with app[keys.DATABASE].connect() as conn:
        waits = await _waits_today(conn, since)
        decided = (
            await conn.execute(
                sa.select(db.decisions.c.result, sa.func.count())
                .where(db.decisions.c.decided_at >= since)
                .group_by(db.decisions.c.result)
            )
        ).all()
        reviews = (
            (
                await conn.execute(
                    sa.select(db.records.c.due_at).where(db.records.c.state == "under_review")
                )
            )
            .scalars()
            .all()
        )
    due = [d for d in reviews if d is not None]
    return {
        "calls_today": len(waits),
        "wait_median_seconds": statistics.median(waits) if waits else None,
        "wait_p90_seconds": percentile(waits, 0.9),
        "decisions_today": {result: count for result, count in decided},
        "reviews_waiting": len(reviews),
        "reviews_overdue": sum(1 for d in due if d < now),
    }


async def _queue_now(request: web.Request) -> dict[str, Any]:
    desk = request.app.get(keys.DESK)
    if desk is None:
        return {
            "waiting": 0,
            "longest_wait_seconds": None,
            "officers_available": 0,
            "officers_busy": 0,
        }
    snap = await desk.store.snapshot()
    now = request.app[keys.CLOCK].now()
    longest = min((e.joined_at for e in snap.entries), default=None)
    return {
        "waiting": len(snap.entries),
        "longest_wait_seconds": int((now - longest).total_seconds()) if longest else None,
        "officers_available": snap.officers_available,
        "officers_busy": snap.officers_busy,
    }


@api.route(
    "GET",
    "/api/dashboard",
    summary="Queue now, waits and outcomes today (supervisors)",
    tag="supervisor",
    response=DashboardOut,
    security="staff",
)
async def get_dashboard(request: web.Request) -> web.Response:
    await require_staff(request, Role.SUPERVISOR)
    body = DashboardOut(**(await _queue_now(request)), **(await _today(request)))
    return web.json_response(body.model_dump())


def install(app: web.Application) -> None:
    """Routes are on the shared API registry; nothing else to set up."""
