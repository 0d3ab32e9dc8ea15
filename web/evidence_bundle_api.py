"""Evidence bundles of decided calls (supervisors, and the upstream system by API key) and the
server's public key for checking them offline. The bundle is built in the CPU pool into a
temporary file, streamed, then removed; every download is written to the record's history.

Also installs the personal-data routes (``web.privacy_api``)."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import sqlalchemy as sa
from aiohttp import web

from videocall.accounts import Role
from videocall.adapters import db
from videocall.adapters.evidence_bundle import BundleSpec, gather, write_bundle
from videocall.adapters.evidence_signing import load_or_create_key, public_pem
from videocall.app.ports import CallSessionRow
from videocall.errors import Conflict, NotFound
from web import keys, privacy_api
from web.api_records import api
from web.auth import require_api_key, require_staff
from web.privacy_api import stream_file

logger = logging.getLogger(__name__)
# The server's Ed25519 private key (PEM), loaded or made at start-up.
EVIDENCE_KEY = web.AppKey("evidence_key", bytes)
# A temporary bundle older than this is a crash's leftover (a download takes far less).
LEFTOVER_SECONDS = 6 * 3600.0


async def bundle_caller(request: web.Request) -> str:
    """The actor for the audit: a supervisor's session, or the upstream system's API key."""
    if request.headers.get("X-API-Key"):
        return f"upstream:{require_api_key(request)}"
    account = await require_staff(request, Role.SUPERVISOR)
    return account.actor


async def _latest_decided(app: web.Application, record_id: str) -> str:
    S = db.call_sessions
    query = (
        sa.select(S.c.id)
        .where(S.c.record_id == record_id, S.c.state == "decided")
        .order_by(S.c.ended_at.desc(), S.c.created_at.desc())
        .limit(1)
    )
    async with app[keys.DATABASE].connect() as conn:
        session_id = await conn.scalar(query)
    if session_id is None:
        raise NotFound("this record has no decided call", code="evidence_no_decided_call")
    return str(session_id)


async def _send_bundle(
    request: web.Request, session: CallSessionRow, actor: str
) -> web.StreamResponse:
    app = request.app
    if session.state != "decided":
        raise Conflict("the call has no decision yet", code="evidence_not_decided")
    settings = app[keys.SETTINGS]
    summary, files, images = await gather(
        app[keys.DATABASE],
        app[keys.RECORDS],
        session.id,
        (settings.recordings_dir, settings.snapshots_dir),
        app[keys.BLOBS],
    )
    out_dir = settings.data_dir / "bundles"
    await asyncio.to_thread(out_dir.mkdir, mode=0o700, parents=True, exist_ok=True)
    out = out_dir / f"{uuid.uuid4()}.zip"
    spec = BundleSpec(
        session.record_id,
        session.id,
        app[keys.CLOCK].now(),
        summary,
        files,
        images,
        app[EVIDENCE_KEY],
        str(out),
    )
    try:
        result = await app[keys.CPU_POOL].run(write_bundle, spec)
        await app[keys.SERVICE].note(
            session.record_id,
            "evidence_bundle_downloaded",
            actor=actor,
            detail={
                "session_id": session.id,
                "manifest_sha256": result.manifest_sha256,
                "size_bytes": result.size,
                "absent": result.absent,
            },
        )
        return await stream_file(request, out, f"evidence-{session.record_id}-{session.id}.zip")
    finally:
        await asyncio.to_thread(out.unlink, True)


@api.route(
    "GET",
    "/api/records/{record_id}/evidence.zip",
    summary="Evidence bundle of the record's latest decided call (supervisor or API key)",
    tag="evidence",
    raw_response="application/zip",
    security="staff",
)
async def record_bundle(request: web.Request) -> web.StreamResponse:
    actor = await bundle_caller(request)
    await request.app[keys.RECORDS].get(request.match_info["record_id"])  # 404 when unknown
    session_id = await _latest_decided(request.app, request.match_info["record_id"])
    session = await request.app[keys.SESSIONS].get(session_id)
    return await _send_bundle(request, session, actor)


@api.route(
    "GET",
    "/api/sessions/{session_id}/evidence.zip",
    summary="Evidence bundle of one decided call (supervisor or API key)",
    tag="evidence",
    raw_response="application/zip",
    security="staff",
)
async def session_bundle(request: web.Request) -> web.StreamResponse:
    actor = await bundle_caller(request)
    session = await request.app[keys.SESSIONS].get(request.match_info["session_id"])
    return await _send_bundle(request, session, actor)


@api.route(
    "GET",
    "/api/evidence/public-key",
    summary="The server's Ed25519 public key (PEM) that signs evidence manifests",
    tag="evidence",
    raw_response="application/x-pem-file",
)
async def public_key(request: web.Request) -> web.Response:
    pem = public_pem(request.app[EVIDENCE_KEY])
    return web.Response(body=pem, content_type="application/x-pem-file")


def clear_leftovers(directory: Path, now: float, older_than: float = LEFTOVER_SECONDS) -> int:
    """Delete temporary bundles and exports a crashed process left behind (they hold personal
    data); only old ones: other processes on the same DATA_DIR may be streaming theirs."""
    if not directory.is_dir():
        return 0
    removed = 0
    for path in directory.glob("*.zip"):
        try:
            if path.stat().st_mtime < now - older_than:
                path.unlink()
                removed += 1
        except FileNotFoundError:
            continue
    return removed


async def _key(app: web.Application) -> AsyncIterator[None]:
    data_dir = app[keys.SETTINGS].data_dir
    app[EVIDENCE_KEY] = await asyncio.to_thread(load_or_create_key, data_dir)
    removed = await asyncio.to_thread(clear_leftovers, data_dir / "bundles", time.time())
    if removed:
        logger.info("evidence: %d temporary bundle(s) left by a crash deleted", removed)
    yield


def install(app: web.Application) -> None:
    """Load (or make) the signing key at start-up; set up the personal-data routes' store."""
    app.cleanup_ctx.append(_key)
    privacy_api.install(app)
