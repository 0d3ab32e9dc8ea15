"""Call evidence files: recordings (supervisors, streamed with HTTP range requests) and snapshots
(the call's officer and supervisors). Every first read is written to the record's history."""

from __future__ import annotations

import re
from pathlib import Path

from aiohttp import web

from videocall.accounts import Account, Role
from videocall.app.ports import CallSessionRow
from videocall.errors import NotAllowed, NotFound
from web import keys
from web.api_records import api
from web.auth import require_staff

_SAFE_NAME = re.compile(r"^[0-9a-f-]{36}-[0-9a-z_.-]+$")


def _file_in(directory: Path, name: str) -> Path:
    """A stored file by its listed name, never a path outside ``directory``."""
    if not _SAFE_NAME.match(name) or "/" in name or ".." in name:
        raise NotFound("no such file", code="file_not_found")
    path = directory / name
    if not path.is_file():
        raise NotFound("the file is no longer stored", code="file_not_found")
    return path


async def _session_for(request: web.Request, account: Account) -> CallSessionRow:
    session = await request.app[keys.SESSIONS].get(request.match_info["session_id"])
    if account.role is not Role.SUPERVISOR and session.officer_id != account.id:
        raise NotAllowed("this is another officer's call", code="not_your_call")
    return session


async def _audit(
    request: web.Request, session: CallSessionRow, action: str, account: Account, name: str
) -> None:
    # A player fetches many ranges; the audit entry is for the first one.
    if request.http_range.start in (None, 0):
        await request.app[keys.SERVICE].note(
            session.record_id,
            action,
            actor=account.actor,
            detail={"session_id": session.id, "file": name},
        )


@api.route(
    "GET",
    "/api/sessions/{session_id}/recording/{index}",
    summary="A recording segment (WebM), with range requests; supervisors only",
    tag="evidence",
    raw_response="video/webm",
    security="staff",
)
async def get_recording(request: web.Request) -> web.StreamResponse:
    account = await require_staff(request, Role.SUPERVISOR)
    session = await _session_for(request, account)
    segments = (session.recording or {}).get("segments") or []
    try:
        segment = segments[int(request.match_info["index"])]
    except (ValueError, IndexError):
        raise NotFound("no such recording segment", code="segment_not_found") from None
    name = str(segment["file"])
    path = _file_in(request.app[keys.SETTINGS].recordings_dir, name)
    await _audit(request, session, "recording_viewed", account, name)
    content_type = "video/webm" if name.endswith(".webm") else "video/x-matroska"
    return web.FileResponse(
        path, headers={"Content-Type": content_type, "Cache-Control": "private, no-store"}
    )


@api.route(
    "GET",
    "/api/sessions/{session_id}/snapshots/{name}",
    summary="A snapshot or its thumbnail (JPEG)",
    tag="evidence",
    raw_response="image/jpeg",
    security="staff",
)
async def get_snapshot(request: web.Request) -> web.StreamResponse:
    account = await require_staff(request)
    session = await _session_for(request, account)
    name = request.match_info["name"]
    listed = {
        str(s.get(key)) for s in session.snapshots or () for key in ("file", "thumbnail_file")
    }
    if name not in listed:
        raise NotFound("no such snapshot", code="file_not_found")
    path = _file_in(request.app[keys.SETTINGS].snapshots_dir, name)
    await _audit(request, session, "snapshot_viewed", account, name)
    return web.FileResponse(
        path, headers={"Content-Type": "image/jpeg", "Cache-Control": "private, no-store"}
    )


def install(app: web.Application) -> None:
    """Routes are on the shared API registry; nothing else to set up."""
