"""Personal-data rights: the participant's own export and deletion request, the upstream system's
deletion request, and the supervisors' review (approve: carried out at once; refuse: a reason)."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from videocall.accounts import Role
from videocall.adapters.evidence_bundle import photo_name, write_export
from videocall.adapters.sql_privacy import SqlPrivacy
from videocall.privacy import EXPORTED_ACTION, clean_reason
from web import keys
from web.api_records import api, record_out
from web.auth import participant_record_id, require_api_key, require_staff
from web.openapi import read_json

PRIVACY = web.AppKey("privacy", SqlPrivacy)
CHUNK = 256 * 1024


class DeletionIn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    reason: str | None = Field(default=None, max_length=200)


class RefuseIn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    reason: str = Field(max_length=200)


def _now(request: web.Request) -> Any:
    return request.app[keys.CLOCK].now()


async def _optional_body(request: web.Request) -> DeletionIn:
    if not request.can_read_body:
        return DeletionIn()
    return await read_json(request, DeletionIn)


async def stream_file(request: web.Request, path: Path, filename: str) -> web.StreamResponse:
    """Send a (temporary) file as an attachment; the caller removes it afterwards."""
    response = web.StreamResponse(
        headers={
            "Content-Type": "application/zip",
            "Content-Disposition": f'attachment; filename="{filename}"',
            "Cache-Control": "private, no-store",
        }
    )
    response.content_length = (await asyncio.to_thread(path.stat)).st_size
    await response.prepare(request)
    with await asyncio.to_thread(path.open, "rb") as fh:
        while chunk := await asyncio.to_thread(fh.read, CHUNK):
            await response.write(chunk)
    await response.write_eof()
    return response


# -- participant -------------------------------------------------------------------------------


@api.route(
    "GET",
    "/api/me/export",
    summary="Own data as a ZIP: record, history, calls, requests (JSON) and photos",
    tag="participant",
    raw_response="application/zip",
    security="participant",
)
async def export_me(request: web.Request) -> web.StreamResponse:
    record_id = participant_record_id(request)
    app = request.app
    records = app[keys.RECORDS]
    record = await records.get(record_id)
    docs = await records.documents(record_id)
    requests = await app[PRIVACY].for_record(record_id)
    now = _now(request)
    data = {
        "exported_at": now.isoformat(),
        "record": record_out(record, docs),
        "deletion_requests": [r.public(now) for r in requests],
        "appointments": await app[keys.APPOINTMENTS].of_record(record_id)
        if keys.APPOINTMENTS in app
        else [],
    }
    photos = [(photo_name(d), str(app[keys.BLOBS].path_for(d.sha256))) for d in docs]
    members = [("data.json", json.dumps(data, ensure_ascii=False, indent=1).encode())]
    out_dir = app[keys.SETTINGS].data_dir / "bundles"
    await asyncio.to_thread(out_dir.mkdir, mode=0o700, parents=True, exist_ok=True)
    out = out_dir / f"export-{uuid.uuid4()}.zip"
    try:
        await app[keys.CPU_POOL].run(write_export, str(out), members, photos)
        await app[keys.SERVICE].note(record_id, EXPORTED_ACTION, actor="participant")
        return await stream_file(request, out, f"data-{record.reference or record.id}.zip")
    finally:
        await asyncio.to_thread(out.unlink, True)


@api.route(
    "POST",
    "/api/me/deletion-request",
    summary="Ask for one's personal data to be deleted (reviewed by a supervisor)",
    tag="participant",
    body=DeletionIn,
    status=201,
    security="participant",
)
async def request_deletion_me(request: web.Request) -> web.Response:
    record_id = participant_record_id(request)
    body = await _optional_body(request)
    reason = clean_reason(body.reason, required=False)
    made = await request.app[PRIVACY].request(
        record_id, actor="participant", reason=reason, now=_now(request)
    )
    return web.json_response(made.public(_now(request)), status=201)


@api.route(
    "GET",
    "/api/me/deletion-request",
    summary="Own deletion requests and their status",
    tag="participant",
    security="participant",
)
async def my_deletion_requests(request: web.Request) -> web.Response:
    record_id = participant_record_id(request)
    items = await request.app[PRIVACY].for_record(record_id)
    now = _now(request)
    return web.json_response({"items": [r.public(now) for r in items]})


# -- upstream ----------------------------------------------------------------------------------


@api.route(
    "POST",
    "/api/records/{record_id}/deletion-request",
    summary="The upstream system forwards a person's deletion request",
    tag="upstream",
    body=DeletionIn,
    status=201,
    security="api_key",
)
async def request_deletion_upstream(request: web.Request) -> web.Response:
    name = require_api_key(request)
    body = await _optional_body(request)
    reason = clean_reason(body.reason, required=False)
    made = await request.app[PRIVACY].request(
        request.match_info["record_id"], actor=f"upstream:{name}", reason=reason, now=_now(request)
    )
    return web.json_response(made.public(_now(request)), status=201)


# -- supervisors -------------------------------------------------------------------------------


@api.route(
    "GET",
    "/api/deletion-requests",
    summary="Deletion requests: open ones first, with their due time",
    tag="supervisor",
    security="staff",
)
async def list_requests(request: web.Request) -> web.Response:
    await require_staff(request, Role.SUPERVISOR)
    now = _now(request)
    return web.json_response(
        {"items": [r.public(now) for r in await request.app[PRIVACY].listing()]}
    )


@api.route(
    "POST",
    "/api/deletion-requests/{request_id}/approve",
    summary="Approve a deletion request: the data is deleted now",
    tag="supervisor",
    security="staff",
)
async def approve(request: web.Request) -> web.Response:
    account = await require_staff(request, Role.SUPERVISOR)
    done = await request.app[PRIVACY].carry_out(
        request.match_info["request_id"], actor=account.actor, now=_now(request)
    )
    return web.json_response(done.public(_now(request)))


@api.route(
    "POST",
    "/api/deletion-requests/{request_id}/refuse",
    summary="Refuse a deletion request, with the reason (e.g. a legal hold)",
    tag="supervisor",
    body=RefuseIn,
    security="staff",
)
async def refuse(request: web.Request) -> web.Response:
    account = await require_staff(request, Role.SUPERVISOR)
    body = await read_json(request, RefuseIn)
    reason = clean_reason(body.reason, required=True) or ""
    refused = await request.app[PRIVACY].refuse(
        request.match_info["request_id"], actor=account.actor, reason=reason, now=_now(request)
    )
    return web.json_response(refused.public(_now(request)))


@api.route(
    "POST",
    "/api/records/{record_id}/legal-hold",
    summary="Place a legal hold: the record's evidence is kept, deletion requests wait",
    tag="supervisor",
    body=RefuseIn,
    security="staff",
)
async def place_hold(request: web.Request) -> web.Response:
    return await _hold(request, place=True)


@api.route(
    "POST",
    "/api/records/{record_id}/legal-hold/release",
    summary="Release the record's legal hold",
    tag="supervisor",
    body=RefuseIn,
    security="staff",
)
async def release_hold(request: web.Request) -> web.Response:
    return await _hold(request, place=False)


async def _hold(request: web.Request, *, place: bool) -> web.Response:
    account = await require_staff(request, Role.SUPERVISOR)
    body = await read_json(request, RefuseIn)
    reason = clean_reason(body.reason, required=True, code="hold_reason_required") or ""
    await request.app[PRIVACY].set_hold(
        request.match_info["record_id"],
        place=place,
        actor=account.actor,
        reason=reason,
        now=_now(request),
    )
    return web.json_response({"legal_hold": place, "reason": reason})


async def _store(app: web.Application) -> AsyncIterator[None]:
    settings = app[keys.SETTINGS]
    app[PRIVACY] = SqlPrivacy(
        app[keys.DATABASE],
        app[keys.RECORDS],
        app[keys.BLOBS],
        (("recordings", settings.recordings_dir), ("snapshots", settings.snapshots_dir)),
    )
    yield


def install(app: web.Application) -> None:
    app.cleanup_ctx.append(_store)
