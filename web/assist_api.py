"""Officer assist over HTTP: the participant's own KTP check, the officer's readings and face
scores. The analysis runs in the background after an upload (the upload route calls
``AssistService.schedule``), on the shared CPU pool; these routes only read what is stored.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any, Literal

from aiohttp import web
from pydantic import BaseModel

from videocall.adapters.assist_jobs import analyse_snapshot, document_faces, document_ocr
from videocall.adapters.sql_assist import SqlAssistReadings
from videocall.assist import AssistService, Jobs
from web import keys
from web.api_records import api, may_read
from web.auth import participant_record_id, require_staff
from web.keys import ASSIST

logger = logging.getLogger(__name__)

_OWN_POOL = web.AppKey("assist_own_pool", object)


class KtpVerdictOut(BaseModel):
    status: Literal["none", "pending", "done"]
    sha256: str | None = None
    nik: Literal["match", "mismatch", "unreadable"] | None = None


class MyAssistOut(BaseModel):
    ktp: KtpVerdictOut


class FaceScoreOut(BaseModel):
    pair: Literal["ktp_vs_face", "selfie_person_vs_card", "snapshot_vs_ktp"]
    status: Literal["scored", "no_face", "pending"]
    distance: float | None
    band: Literal["similar", "unsure", "not_similar"] | None
    label: str | None


class AssistOut(BaseModel):
    record_id: str
    session_id: str | None
    notice: Literal["assist_only"]
    ktp: dict[str, Any]  # {status, readable, read: {...masked NIK...}, comparison: {...}}
    faces: list[FaceScoreOut]


class CurrentAssistOut(BaseModel):
    call: AssistOut | None


async def _assist_ctx(app: web.Application) -> AsyncIterator[None]:
    service = AssistService(
        SqlAssistReadings(app[keys.DATABASE]),
        app[keys.RECORDS],
        app[keys.BLOBS],
        app[keys.CPU_POOL],  # worker processes: dlib keeps the GIL while it works
        app[keys.CLOCK],
        Jobs(faces=document_faces, ocr=document_ocr, snapshot=analyse_snapshot),
        app[keys.SETTINGS].snapshots_dir,
    )
    app[ASSIST] = service
    yield
    await service.close()


@api.route(
    "GET",
    "/api/me/assist",
    summary="Own KTP check: does the NIK read on the KTP photo match the registered one",
    tag="participant",
    response=MyAssistOut,
    security="participant",
)
async def get_my_assist(request: web.Request) -> web.Response:
    record_id = participant_record_id(request)
    verdict = await request.app[ASSIST].participant_verdict(record_id)
    return web.json_response(MyAssistOut.model_validate(verdict).model_dump())


@api.route(
    "GET",
    "/api/records/{record_id}/assist",
    summary="KTP readings and face scores beside the registered data (an aid, not a decision)",
    tag="staff",
    response=AssistOut,
    security="staff",
    params=[
        {
            "name": "session_id",
            "in": "query",
            "required": False,
            "schema": {"type": "string", "maxLength": 36},
        }
    ],
)
async def get_record_assist(request: web.Request) -> web.Response:
    account = await require_staff(request)
    record_id = request.match_info["record_id"]
    await may_read(request, account, record_id)  # officers: only their own calls' participants
    session_id = request.query.get("session_id") or None
    panel = await request.app[ASSIST].readings(record_id, session_id)
    return web.json_response(AssistOut.model_validate(panel).model_dump())


@api.route(
    "GET",
    "/api/assist/current",
    summary="Readings and face scores of the logged-in officer's current call",
    tag="staff",
    response=CurrentAssistOut,
    security="staff",
)
async def get_current_assist(request: web.Request) -> web.Response:
    account = await require_staff(request)
    service = request.app[ASSIST]
    store = service.store
    current = await store.current_call(account.id) if isinstance(store, SqlAssistReadings) else None
    if current is None:
        return web.json_response({"call": None})
    session_id, record_id = current
    panel = await service.readings(record_id, session_id)
    return web.json_response({"call": AssistOut.model_validate(panel).model_dump()})


def install(app: web.Application) -> None:
    """Routes are on the shared registry; the service starts with the app."""
    app.cleanup_ctx.append(_assist_ctx)
