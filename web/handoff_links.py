"""Issuing hand-off links (shared by the upstream create answer and the link endpoint); kept
apart from ``web.handoff_api`` so that ``web.api_records`` can use it without an import cycle."""

from __future__ import annotations

import logging
import secrets

from aiohttp import web
from pydantic import BaseModel, Field

from videocall import handoff
from videocall.adapters.sql_handoff import SqlHandoffLinks
from web import keys
from web.schemas import RegisterOut

logger = logging.getLogger(__name__)


class HandoffOut(BaseModel):
    url: str = Field(description="open this in the app's web view; it works once")
    expires_at: str
    expires_in: int


class UpstreamRegisterOut(RegisterOut):
    handoff: HandoffOut = Field(description="a one-time link to the participant's page")


def links(app: web.Application) -> SqlHandoffLinks:
    return SqlHandoffLinks(app[keys.DATABASE])


async def issue_link(
    app: web.Application, record_id: str, upstream: str, prefill: handoff.Prefill
) -> HandoffOut:
    """A new link for ``record_id``; the code is only in its URL, never stored or logged."""
    settings, now = app[keys.SETTINGS], app[keys.CLOCK].now()
    record = await app[keys.RECORDS].get(record_id)
    code = secrets.token_urlsafe(24)
    grant = handoff.issue(
        record,
        upstream=upstream,
        code=code,
        now=now,
        ttl_seconds=settings.handoff_ttl_seconds,
        prefill=prefill,
    )
    await links(app).add(grant)
    logger.info("hand-off link issued for record %s by %s", record.id, upstream)
    return HandoffOut(
        url=f"{settings.effective_public_url}/r/{code}",
        expires_at=grant.expires_at.isoformat(),
        expires_in=settings.handoff_ttl_seconds,
    )
