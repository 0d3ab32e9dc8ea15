"""JSON API of the participant's journey and the staff's view of a record; the shared route
registry (``api``). Log-in is in ``web/staff_auth_api.py``, the upstream system's calls in
``web/upstream_api.py``."""

from __future__ import annotations

import logging
from typing import Any

import sqlalchemy as sa
from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

from videocall.accounts import Account, Role
from videocall.adapters import db
from videocall.errors import NotAllowed, TooLarge, ValidationError
from videocall.nik import Sex, mask_nik
from videocall.ports import StoredDocument
from videocall.records import DocumentKind, Record
from videocall.service import Registration
from web import keys
from web.auth import (
    participant_record_id,
    require_staff,
)
from web.openapi import ApiRegistry, read_json, read_limited
from web.schemas import (
    DocumentOut,
    MeOut,
    NikOut,
    ProfileIn,
    RecordOut,
    RegisterIn,
    RegisterOut,
)

logger = logging.getLogger(__name__)
api = ApiRegistry("Video-call identity verification API", "1.0")

IMAGE_BODY = {
    "image/jpeg": {"schema": {"type": "string", "format": "binary"}},
    "image/png": {"schema": {"type": "string", "format": "binary"}},
    "multipart/form-data": {
        "schema": {"type": "object", "properties": {"file": {"type": "string", "format": "binary"}}}
    },
}


def record_out(record: Record, docs: list[StoredDocument]) -> dict[str, Any]:
    def iso(value: Any) -> str | None:
        return value.isoformat() if value is not None else None

    return RecordOut(
        id=record.id,
        reference=record.reference,
        nik_masked=mask_nik(record.nik),
        nik_birth_date=record.nik_birth_date.isoformat(),
        nik_sex=record.nik_sex.value,
        mobile=record.mobile,
        email=record.email,
        state=record.state.value,
        full_name=record.full_name,
        birth_date=iso(record.birth_date),
        sex=record.sex.value if record.sex else None,
        documents=[DocumentOut(**d.as_dict()) for d in docs],
        consent_at=iso(record.consent_at),
        due_at=iso(record.due_at),
        created_at=record.created_at.isoformat(),
        updated_at=record.updated_at.isoformat(),
        history=[h.as_dict() for h in record.history],  # type: ignore[misc]
    ).model_dump(by_alias=True)


async def record_json(request: web.Request, record_id: str) -> dict[str, Any]:
    records = request.app[keys.RECORDS]
    record = await records.get(record_id)
    return record_out(record, await records.documents(record_id))


def _registration_response(request: web.Request, record: Record) -> web.Response:
    tokens = request.app[keys.TOKENS]
    body = RegisterOut(
        record=RecordOut.model_validate(record_out(record, [])),
        token=tokens.issue(record.id),
        expires_in=tokens.ttl_seconds,
    )
    return web.json_response(body.model_dump(by_alias=True), status=201)


# -- participant -------------------------------------------------------------------------------


@api.route(
    "POST",
    "/api/participants",
    summary="Register with NIK, mobile number and e-mail",
    tag="participant",
    body=RegisterIn,
    response=RegisterOut,
    status=201,
)
async def register(request: web.Request) -> web.Response:
    body = await read_json(request, RegisterIn)
    record = await request.app[keys.SERVICE].register(
        Registration(body.nik, body.mobile, body.email), actor="participant"
    )
    return _registration_response(request, record)


@api.route(
    "GET",
    "/api/me",
    summary="Own record: status, due date, documents, history and the call's status",
    tag="participant",
    response=MeOut,
    security="participant",
)
async def get_me(request: web.Request) -> web.Response:
    record_id = participant_record_id(request)
    body = await record_json(request, record_id)
    return web.json_response({**body, "call_status": await _call_status(request, record_id)})


async def _call_status(request: web.Request, record_id: str) -> str:
    sessions = request.app[keys.SESSIONS]
    if await sessions.undecided(record_id=record_id):
        return "awaiting_decision"
    return "live" if await sessions.open_for_record(record_id) is not None else "none"


@api.route(
    "PUT",
    "/api/me/profile",
    summary="Full name, date of birth and sex (must match NIK)",
    tag="participant",
    body=ProfileIn,
    response=RecordOut,
    security="participant",
)
async def put_profile(request: web.Request) -> web.Response:
    record_id = participant_record_id(request)
    body = await read_json(request, ProfileIn)
    await request.app[keys.SERVICE].set_profile(
        record_id,
        full_name=body.full_name.strip(),
        birth_date=body.birth_date,
        sex=Sex(body.sex),
        actor=f"participant:{record_id}",
    )
    return web.json_response(await record_json(request, record_id))


async def _read_multipart_file(request: web.Request, limit: int, too_large: TooLarge) -> bytes:
    reader = await request.multipart()
    async for part in reader:
        if getattr(part, "name", None) == "file":
            data = bytearray()
            while chunk := await part.read_chunk():  # type: ignore[union-attr]
                data += chunk
                if len(data) > limit:
                    raise too_large
            return bytes(data)
    raise ValidationError("the form has no 'file' field", code="missing_field", field="file")


async def _read_upload(request: web.Request) -> bytes:
    limit = request.app[keys.SETTINGS].max_upload_bytes
    too_large = TooLarge(
        f"the photo is larger than {limit // (1024 * 1024)} MB",
        code="upload_too_large",
        field="file",
    )
    if request.content_length is not None and request.content_length > limit + 64 * 1024:
        raise too_large
    if request.content_type == "multipart/form-data":
        try:
            return await _read_multipart_file(request, limit, too_large)
        except (HttpProcessingError, ValueError, AssertionError):
            # aiohttp's multipart reader refuses broken part headers and boundaries this way.
            raise ValidationError(
                "the form upload is malformed", code="malformed_multipart", field="file"
            ) from None
    data = await read_limited(request, limit)
    if data is None:
        raise too_large
    if not data:
        raise ValidationError("the upload is empty", code="image_unreadable", field="file")
    return data


def _kind(request: web.Request) -> DocumentKind:
    try:
        return DocumentKind(request.match_info["kind"])
    except ValueError:
        raise ValidationError(
            "document kind must be ktp, selfie_with_ktp or face",
            code="document_kind",
            field="kind",
        ) from None


@api.route(
    "PUT",
    "/api/me/documents/{kind}",
    summary="Upload (or replace) a photo",
    tag="participant",
    raw_body=IMAGE_BODY,
    response=DocumentOut,
    security="participant",
)
async def put_document(request: web.Request) -> web.Response:
    record_id = participant_record_id(request)
    kind = _kind(request)
    data = await _read_upload(request)
    doc = await request.app[keys.SERVICE].upload_document(
        record_id, kind, data, actor=f"participant:{record_id}"
    )
    assist = request.app.get(keys.ASSIST)
    if assist is not None:  # KTP read and faces, in the background (never blocks the answer)
        assist.schedule(record_id, kind.value)
    return web.json_response(doc.as_dict())


async def _document_file(request: web.Request, record_id: str) -> web.Response:
    kind = _kind(request)
    docs = {d.kind: d for d in await request.app[keys.RECORDS].documents(record_id)}
    if kind not in docs:
        raise ValidationError("no such document uploaded", code="document_missing", field="kind")
    data = await request.app[keys.BLOBS].get(docs[kind].sha256)
    return web.Response(
        body=data,
        content_type=docs[kind].content_type,
        headers={"Cache-Control": "private, no-store"},
    )


@api.route(
    "GET",
    "/api/me/documents/{kind}",
    summary="Own uploaded photo",
    tag="participant",
    raw_response="image/jpeg",
    security="participant",
)
async def get_my_document(request: web.Request) -> web.Response:
    return await _document_file(request, participant_record_id(request))


@api.route(
    "POST",
    "/api/me/consent",
    summary="Consent to the call being recorded",
    tag="participant",
    response=RecordOut,
    security="participant",
)
async def post_consent(request: web.Request) -> web.Response:
    record_id = participant_record_id(request)
    await request.app[keys.SERVICE].give_consent(record_id, actor=f"participant:{record_id}")
    return web.json_response(await record_json(request, record_id))


# -- officers and supervisors ------------------------------------------------------------------


@api.route(
    "GET",
    "/api/records/{record_id}",
    summary="A record (officers and supervisors)",
    tag="staff",
    response=RecordOut,
    security="staff",
)
async def staff_get_record(request: web.Request) -> web.Response:
    record_id = request.match_info["record_id"]
    await may_read(request, await require_staff(request), record_id)
    return web.json_response(await record_json(request, record_id))


@api.route(
    "POST",
    "/api/records/{record_id}/reveal-nik",
    summary="Reveal the full NIK (written to the audit history)",
    tag="staff",
    response=NikOut,
    security="staff",
)
async def reveal_nik(request: web.Request) -> web.Response:
    account = await require_staff(request)
    record_id = request.match_info["record_id"]
    await may_read(request, account, record_id)
    await request.app[keys.SERVICE].note(record_id, "nik_revealed", actor=account.actor)
    record = await request.app[keys.RECORDS].get(record_id)
    return web.json_response({"nik": record.nik})


@api.route(
    "GET",
    "/api/records/{record_id}/documents/{kind}",
    summary="A participant's photo (written to the audit history)",
    tag="staff",
    raw_response="image/jpeg",
    security="staff",
)
async def staff_get_document(request: web.Request) -> web.Response:
    account = await require_staff(request)
    record_id = request.match_info["record_id"]
    kind = _kind(request)
    await may_read(request, account, record_id)
    response = await _document_file(request, record_id)
    await request.app[keys.SERVICE].note(
        record_id, "document_viewed", actor=account.actor, detail={"kind": kind.value}
    )
    return response


async def may_read(request: web.Request, account: Account, record_id: str) -> None:
    """Least privilege: a supervisor reads every record; an officer only those of participants
    in their own current or past calls. An unknown record is a 404 for both."""
    await request.app[keys.RECORDS].get(record_id)  # NotFound: 404
    if account.role is Role.SUPERVISOR:
        return
    query = (
        sa.select(db.call_sessions.c.id)
        .where(db.call_sessions.c.record_id == record_id)
        .where(db.call_sessions.c.officer_id == account.id)
        .limit(1)
    )
    async with request.app[keys.DATABASE].connect() as conn:
        if (await conn.execute(query)).first() is not None:
            return
    logger.info("refused %s: record %s is not from their calls", account.actor, record_id)
    raise NotAllowed(
        "you may open only the records of participants in your own calls",
        code="not_your_participant",
    )


def staff_only(account: Account, *roles: Role) -> None:
    if account.role not in roles:
        raise NotAllowed("your role may not do this", code="role_forbidden")
