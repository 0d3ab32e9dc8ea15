"""Hand-off links over HTTP (docs/embedding.md).

- ``POST /api/upstream/records/{record_id}/handoff`` (API key): a one-time, short-lived link to the
  participant's page for a record this upstream system created, optionally with profile fields
  to prefill. The upstream create answer carries one too (``handoff``).
- ``GET /r/{code}``: the participant's page (the code is only looked at, not used), or a clear
  page in Indonesian saying the link is used, expired or unknown and what to do.
- ``POST /api/handoff/exchange``: the page trades the code (in the body, never in a URL) once for
  the participant's access token, the record and the step it is at.

Neither the code nor the token is ever logged; only the code's SHA-256 is stored.
"""

from __future__ import annotations

import html
import json
import logging
from datetime import date
from functools import cache
from typing import Any, Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from videocall import handoff
from videocall.adapters.sql_handoff import SqlHandoffLinks
from videocall.errors import VideoCallError
from web import keys
from web.api_records import api, record_out
from web.auth import require_api_key
from web.handoff_links import HandoffOut, issue_link, links
from web.openapi import read_json
from web.pages import I18N_DIR, STATIC_DIR
from web.schemas import RecordOut

logger = logging.getLogger(__name__)
TAG = "handoff"
NO_STORE = {"Cache-Control": "no-store"}


class PrefillIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    full_name: str | None = Field(default=None, min_length=2, max_length=200)
    birth_date: date | None = Field(default=None, description="ISO date")
    sex: Literal["female", "male"] | None = None


class HandoffIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    profile: PrefillIn | None = Field(
        default=None, description="profile fields the app already has; the page prefills them"
    )


class ExchangeIn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    code: str = Field(max_length=128)


class PrefillOut(BaseModel):
    full_name: str | None = None
    birth_date: str | None = None
    sex: str | None = None


class ExchangeOut(BaseModel):
    token: str
    token_type: Literal["Bearer"] = "Bearer"
    expires_in: int
    record: RecordOut
    step: str = Field(description="profile | documents | consent | queue | call | result")
    prefill: PrefillOut
    return_url: str | None = Field(description='where "Kembali ke aplikasi" goes')


async def _find(store: SqlHandoffLinks, code: str) -> handoff.Grant | None:
    return await store.get(handoff.hash_code(code)) if handoff.well_formed(code) else None


async def _read_optional(request: web.Request) -> HandoffIn:
    if not request.can_read_body:
        return HandoffIn()
    return await read_json(request, HandoffIn)


@api.route(
    "POST",
    "/api/upstream/records/{record_id}/handoff",
    summary="A one-time, short-lived link that opens the participant's page for this record",
    tag=TAG,
    body=HandoffIn,
    response=HandoffOut,
    status=201,
    security="api_key",
)
async def upstream_handoff(request: web.Request) -> web.Response:
    name = require_api_key(request)
    body = await _read_optional(request)
    profile = body.profile or PrefillIn()
    prefill = handoff.Prefill(
        full_name=profile.full_name.strip() if profile.full_name else None,
        birth_date=profile.birth_date,
        sex=profile.sex,
    )
    link = await issue_link(request.app, request.match_info["record_id"], name, prefill)
    return web.json_response(link.model_dump(), status=201, headers=NO_STORE)


@api.route(
    "POST",
    "/api/handoff/exchange",
    summary="Trade a hand-off code, once, for the participant's access token",
    tag=TAG,
    body=ExchangeIn,
    response=ExchangeOut,
    errors=(400, 404, 410, 413, 422),
)
async def exchange(request: web.Request) -> web.Response:
    body = await read_json(request, ExchangeIn)
    app, now = request.app, request.app[keys.CLOCK].now()
    store = links(app)
    try:
        found = await _find(store, body.code)
        grant = handoff.redeem(found, now)
        await store.mark_used(grant)
    except VideoCallError as exc:
        logger.info("hand-off link refused: %s", exc.code)
        raise
    record_id = grant.record_id
    await app[keys.SERVICE].note(record_id, "handoff_opened", actor=f"participant:{record_id}")
    records = app[keys.RECORDS]
    record = await records.get(record_id)
    tokens = app[keys.TOKENS]
    out = ExchangeOut(
        token=tokens.issue(record_id),
        expires_in=tokens.ttl_seconds,
        record=RecordOut.model_validate(record_out(record, await records.documents(record_id))),
        step=handoff.step_for(record.state),
        prefill=PrefillOut(**grant.prefill.as_dict()),
        return_url=app[keys.SETTINGS].app_return_url or None,
    )
    logger.info("hand-off link used for record %s", record_id)
    return web.json_response(out.model_dump(by_alias=True), headers=NO_STORE)


# -- the page behind the link ------------------------------------------------------------------


@cache
def _texts(lang: str) -> dict[str, Any]:
    with (I18N_DIR / f"{lang}.json").open(encoding="utf-8") as f:
        table: dict[str, Any] = json.load(f)
    return table


def _language(request: web.Request) -> str:
    first = request.headers.get("Accept-Language", "").split(",")[0].strip().lower()
    return "en" if first.startswith("en") else "id"


def refused_page(lang: str, code: str, return_url: str) -> str:
    """A small page that says why the link cannot be used and what to do, without scripts
    being needed (the host bridge script only adds the notification to the app)."""
    texts = _texts(lang)
    h, errors = texts["handoff"], texts["errors"]
    reason = errors.get(code, errors["handoff_invalid"])
    e = html.escape
    # A link works without scripts; without a return URL, the button only tells the app (shown
    # by handoff.js when the page runs inside one).
    back = (
        f'<a id="host-return-link" href="{e(return_url)}">{e(h["back_to_app"])}</a>'
        if return_url
        else f'<button type="button" class="primary" id="host-return-button" hidden>'
        f"{e(h['back_to_app'])}</button>"
    )
    return f"""<!doctype html>
<html lang="{lang}">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>{e(h["refused_title"])}</title>
  <link rel="icon" href="/static/favicon.svg" type="image/svg+xml">
  <link rel="stylesheet" href="/static/css/app.css">
  <script type="module" src="/static/js/handoff.js"></script>
</head>
<body class="participant" data-page="handoff-refused" data-error="{e(code)}">
  <header class="topbar"><span class="brand">{e(texts["common"]["brand"])}</span></header>
  <main id="main">
    <section class="step" id="handoff-refused" aria-labelledby="h-refused">
      <h1 id="h-refused">{e(h["refused_title"])}</h1>
      <p id="handoff-reason">{e(reason)}</p>
      <p id="handoff-what-to-do"><strong>{e(h["what_to_do"])}</strong></p>
      <div class="actions" id="host-return">{back}</div>
    </section>
  </main>
</body>
</html>
"""


async def link_page(request: web.Request) -> web.StreamResponse:
    """The participant's page for a usable code; a clear page (404/410) for any other."""
    app, code = request.app, request.match_info["code"]
    settings = app[keys.SETTINGS]
    try:
        found = await _find(links(app), code)
        handoff.check(found, app[keys.CLOCK].now())
    except VideoCallError as exc:
        body = refused_page(_language(request), exc.code, settings.app_return_url)
        return web.Response(
            text=body, content_type="text/html", status=exc.status, headers=NO_STORE
        )
    return web.FileResponse(STATIC_DIR / "participant.html", headers=NO_STORE)


def install(app: web.Application) -> None:
    """The link's page route (the API routes are on the shared registry)."""
    app.router.add_get("/r/{code}", link_page)
