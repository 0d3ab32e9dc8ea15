"""The upstream system's calls (API key): create a record and hand the participant a token and a
one-time link, read a record, read its event history."""

from __future__ import annotations

from aiohttp import web

from videocall.handoff import Prefill
from videocall.service import Registration
from web import keys
from web.api_records import api, record_json, record_out
from web.auth import require_api_key
from web.handoff_links import UpstreamRegisterOut, issue_link
from web.openapi import read_json
from web.schemas import RecordEventsOut, RecordOut, RegisterIn


@api.route(
    "POST",
    "/api/upstream/records",
    summary="Create a record for a participant (returns their access token)",
    tag="upstream",
    body=RegisterIn,
    response=UpstreamRegisterOut,
    status=201,
    security="api_key",
)
async def upstream_create(request: web.Request) -> web.Response:
    name = require_api_key(request)
    body = await read_json(request, RegisterIn)
    record = await request.app[keys.SERVICE].register(
        Registration(body.nik, body.mobile, body.email), actor=f"upstream:{name}"
    )
    # With a one-time link the app can open the participant's page (docs/embedding.md).
    tokens = request.app[keys.TOKENS]
    out = UpstreamRegisterOut(
        record=RecordOut.model_validate(record_out(record, [])),
        token=tokens.issue(record.id),
        expires_in=tokens.ttl_seconds,
        handoff=await issue_link(request.app, record.id, name, Prefill()),
    )
    return web.json_response(out.model_dump(by_alias=True), status=201)


@api.route(
    "GET",
    "/api/upstream/records/{record_id}",
    summary="A record's status and history",
    tag="upstream",
    response=RecordOut,
    security="api_key",
)
async def upstream_get(request: web.Request) -> web.Response:
    require_api_key(request)
    return web.json_response(await record_json(request, request.match_info["record_id"]))


@api.route(
    "GET",
    "/api/upstream/records/{record_id}/events",
    summary="A record's event history (the same events the webhooks carry)",
    tag="upstream",
    response=RecordEventsOut,
    security="api_key",
)
async def upstream_events(request: web.Request) -> web.Response:
    require_api_key(request)
    record_id = request.match_info["record_id"]
    records = request.app[keys.RECORDS]
    record = await records.get(record_id)
    events = await records.outbox_events(record_id)
    return web.json_response(
        {
            "record_id": record.id,
            "reference": record.reference,
            "state": record.state.value,
            "due_at": record.due_at.isoformat() if record.due_at else None,
            "events": events,
        }
    )
