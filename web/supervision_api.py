"""Live supervision over HTTP (supervisors): the calls in progress, a ticket to watch one
silently, and ending one with a reason. The rules are in ``videocall.app.supervision``; the
watching itself happens on the ``/media`` namespace of the node hosting the call
(``signaling/media_watch.py``)."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from videocall.app.supervision import SupervisionService
from videocall.errors import NotFound
from web import keys
from web.api_records import api
from web.auth import require_staff
from web.openapi import read_json

SUPERVISION = web.AppKey("supervision", SupervisionService)
TAG = "supervisor"


class LiveCallOut(BaseModel):
    session_id: str
    record_id: str
    reference: str | None
    full_name: str | None
    officer_name: str | None
    created_at: str
    connected_at: str | None


class LiveCallsOut(BaseModel):
    items: list[LiveCallOut]


class WatchOut(BaseModel):
    session_id: str
    media: dict[str, Any]


class EndIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field(max_length=200)


class EndOut(BaseModel):
    session_id: str
    ended: bool


def _service(request: web.Request) -> SupervisionService:
    service = request.app.get(SUPERVISION)
    if service is None:
        raise NotFound("this server runs no calls", code="not_found")
    return service


@api.route(
    "GET",
    "/api/calls/live",
    summary="Calls in progress, oldest first (supervisors)",
    tag=TAG,
    response=LiveCallsOut,
    security="staff",
)
async def get_live_calls(request: web.Request) -> web.Response:
    account = await require_staff(request)
    rows = await _service(request).live(account)
    app = request.app
    items = []
    for row in rows:
        try:
            record = await app[keys.RECORDS].get(row.record_id)
        except NotFound:
            continue
        officer = await app[keys.ACCOUNTS].get(row.officer_id)
        items.append(
            LiveCallOut(
                session_id=row.id,
                record_id=row.record_id,
                reference=record.reference,
                full_name=record.full_name,
                officer_name=officer.display_name if officer is not None else None,
                created_at=row.created_at.isoformat(),
                connected_at=row.connected_at.isoformat() if row.connected_at else None,
            )
        )
    return web.json_response(LiveCallsOut(items=items).model_dump())


@api.route(
    "POST",
    "/api/sessions/{session_id}/watch",
    summary="A ticket to watch a call in progress silently (supervisors; audited when the "
    "connection starts and ends)",
    tag=TAG,
    response=WatchOut,
    security="staff",
)
async def post_watch(request: web.Request) -> web.Response:
    account = await require_staff(request)
    body = await _service(request).watch(request.match_info["session_id"], account)
    return web.json_response(WatchOut(**body).model_dump())


@api.route(
    "POST",
    "/api/sessions/{session_id}/end",
    summary="End a call in progress with a reason (supervisors); it then waits for the "
    "officer's decision like any hang-up",
    tag=TAG,
    body=EndIn,
    response=EndOut,
    security="staff",
)
async def post_end(request: web.Request) -> web.Response:
    account = await require_staff(request)
    body = await read_json(request, EndIn)
    session_id = request.match_info["session_id"]
    await _service(request).end(session_id, account, body.reason)
    return web.json_response(EndOut(session_id=session_id, ended=True).model_dump())
