"""Outcomes over HTTP: the officer's decision, the call's evidence, the supervisor's review queue
and reviews (failed webhooks and the webhook worker: ``web/webhooks_api.py``).

Installed by ``web.app.create_app`` (see ``_plugin_installers``). The routes join the one
registry of ``web.api_records`` so they appear in ``/api/openapi.json``.
"""

from __future__ import annotations

from typing import Any, Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from videocall.accounts import Role
from videocall.errors import NotAllowed, NotFound
from videocall.outcomes import (
    MAX_NOTES,
    REASONS,
    RELEASE_REASONS,
    ChecklistItem,
    Decision,
    Result,
    ReviewAction,
    parse_checklist,
    review_result,
)
from web import keys
from web.api_records import api
from web.auth import require_staff
from web.metrics import METRICS
from web.openapi import read_json
from web.webhooks_api import wake_worker

TAG = "outcomes"


# -- bodies ------------------------------------------------------------------------------------


class DecisionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    result: Literal["approved", "rejected", "retry_required"]
    reasons: list[str] = Field(default_factory=list, max_length=10)
    checklist: dict[str, bool] = Field(
        default_factory=dict, description=f"items: {', '.join(i.value for i in ChecklistItem)}"
    )
    notes: str = Field(default="", max_length=MAX_NOTES)


class DecisionOut(BaseModel):
    session_id: str
    record_id: str
    officer_id: str
    officer_name: str | None = None
    result: str
    reasons: list[str]
    checklist: dict[str, bool]
    notes: str
    evidence: dict[str, Any]
    decided_at: str


class SessionEvidenceOut(BaseModel):
    session: dict[str, Any]
    record_state: str
    random_code: str | None
    recording: dict[str, Any] | None
    snapshots: list[dict[str, Any]] | None
    quality_summary: dict[str, Any] | None
    decision: DecisionOut | None


class UndecidedItemOut(BaseModel):
    session_id: str
    record_id: str
    officer_id: str
    officer_name: str | None
    full_name: str | None
    connected_at: str | None
    ended_at: str
    stale: bool


class UndecidedOut(BaseModel):
    items: list[UndecidedItemOut]


class ReleaseIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: Literal[tuple(sorted(RELEASE_REASONS))]  # type: ignore[valid-type]


class ReleaseOut(BaseModel):
    session_id: str
    record_id: str
    state: Literal["released"]
    reason: str


class ReviewIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    action: Literal["confirm", "overturn"]
    result: Literal["approved", "rejected", "retry_required"] | None = None
    reason: str | None = Field(default=None, max_length=64)


class ReviewOut(BaseModel):
    record_id: str
    state: str
    action: str
    result: str
    reason: str | None


class ReviewItemOut(BaseModel):
    record_id: str
    full_name: str | None
    session_id: str
    officer_id: str
    decided_at: str
    due_at: str | None
    overdue: bool


class ReviewQueueOut(BaseModel):
    items: list[ReviewItemOut]


class ReasonOut(BaseModel):
    code: str
    description: str
    results: list[str]


class ReasonsOut(BaseModel):
    reasons: list[ReasonOut]
    checklist: list[str]


def _json(model: BaseModel, status: int = 200) -> web.Response:
    return web.json_response(model.model_dump(mode="json"), status=status)


# -- officer -----------------------------------------------------------------------------------


@api.route(
    "GET",
    "/api/outcomes/reasons",
    summary="Reason codes and checklist items",
    tag=TAG,
    response=ReasonsOut,
    security="staff",
)
async def get_reasons(request: web.Request) -> web.Response:
    await require_staff(request)
    reasons = [
        ReasonOut(code=r.code, description=r.description, results=sorted(r.results))
        for r in REASONS.values()
    ]
    return _json(ReasonsOut(reasons=reasons, checklist=[i.value for i in ChecklistItem]))


@api.route(
    "POST",
    "/api/sessions/{session_id}/decision",
    summary="The officer's decision for a call: checked while the call is live, then it ends the "
    "call and is stored with the new state",
    tag=TAG,
    body=DecisionIn,
    response=DecisionOut,
    status=201,
    security="staff",
)
async def post_decision(request: web.Request) -> web.Response:
    account = await require_staff(request)
    body = await read_json(request, DecisionIn)
    decision = Decision(
        result=Result(body.result),
        reasons=tuple(body.reasons),
        checklist=parse_checklist(body.checklist),
        notes=body.notes,
    )
    app = request.app
    stored = await app[keys.DECISIONS].decide(request.match_info["session_id"], account, decision)
    if METRICS in app:
        app[METRICS].decisions.labels(decision.result.value).inc()
    wake_worker(app)
    return _json(DecisionOut(**stored.public()), status=201)


@api.route(
    "GET",
    "/api/sessions/undecided",
    summary="Calls awaiting a decision: an officer's own, or (supervisor) everyone's; stale ones "
    "are older than UNDECIDED_ESCALATE_SECONDS",
    tag=TAG,
    response=UndecidedOut,
    security="staff",
)
async def get_undecided(request: web.Request) -> web.Response:
    account = await require_staff(request)
    officer = None if account.role is Role.SUPERVISOR else account.id
    items = await request.app[keys.DESK].undecided(officer)
    return _json(UndecidedOut(items=[UndecidedItemOut(**i) for i in items]))


@api.route(
    "POST",
    "/api/sessions/{session_id}/release",
    summary="Send the participant of an undecided call back to ready_for_call (supervisor)",
    tag=TAG,
    body=ReleaseIn,
    response=ReleaseOut,
    security="staff",
)
async def post_release(request: web.Request) -> web.Response:
    account = await require_staff(request, Role.SUPERVISOR)
    body = await read_json(request, ReleaseIn)
    row = await request.app[keys.DECISIONS].release(
        request.match_info["session_id"], account, body.reason
    )
    wake_worker(request.app)
    out = ReleaseOut(
        session_id=row.id, record_id=row.record_id, state="released", reason=body.reason
    )
    return _json(out)


@api.route(
    "GET",
    "/api/sessions/{session_id}",
    summary="A call's evidence: snapshots, recording, quality and decision",
    tag=TAG,
    response=SessionEvidenceOut,
    security="staff",
)
async def get_session(request: web.Request) -> web.Response:
    account = await require_staff(request)
    app = request.app
    session = await app[keys.SESSIONS].get(request.match_info["session_id"])
    if account.role is not Role.SUPERVISOR and session.officer_id != account.id:
        raise NotAllowed("this is another officer's call", code="not_your_call")
    record = await app[keys.RECORDS].get(session.record_id)
    try:
        stored = await app[keys.OUTCOMES].decision_for_session(session.id)
    except NotFound:
        decision = None
    else:
        decider = await app[keys.ACCOUNTS].get(stored.officer_id)
        name = decider.display_name if decider is not None else None
        decision = DecisionOut(**stored.public(), officer_name=name)
    out = SessionEvidenceOut(
        session=session.public(),
        record_state=record.state.value,
        random_code=session.random_code,
        recording=session.recording,
        snapshots=session.snapshots,
        quality_summary=session.quality_summary,
        decision=decision,
    )
    return _json(out)


# -- supervisor --------------------------------------------------------------------------------


@api.route(
    "GET",
    "/api/reviews",
    summary="Approvals waiting for review, oldest due date first",
    tag=TAG,
    response=ReviewQueueOut,
    security="staff",
)
async def get_reviews(request: web.Request) -> web.Response:
    await require_staff(request, Role.SUPERVISOR)
    items = await request.app[keys.OUTCOMES].review_queue(request.app[keys.CLOCK].now())
    return _json(ReviewQueueOut(items=[ReviewItemOut(**i) for i in items]))


@api.route(
    "POST",
    "/api/reviews/{record_id}",
    summary="Confirm (-> active) or overturn (with a reason) an approval; not one's own call",
    tag=TAG,
    body=ReviewIn,
    response=ReviewOut,
    security="staff",
)
async def post_review(request: web.Request) -> web.Response:
    account = await require_staff(request, Role.SUPERVISOR)
    body = await read_json(request, ReviewIn)
    review = review_result(
        ReviewAction(body.action), Result(body.result) if body.result else None, body.reason
    )
    app = request.app
    out = await app[keys.OUTCOMES].review(
        request.match_info["record_id"], account, review, app[keys.CLOCK].now()
    )
    wake_worker(app)
    return _json(ReviewOut(**out))


# -- wiring ------------------------------------------------------------------------------------

_ROUTES = (
    get_reasons,
    post_decision,
    get_undecided,
    post_release,
    get_session,
    get_reviews,
    post_review,
)


def install(app: web.Application) -> None:
    """Add the routes (unless ``api.install`` already did)."""
    present = {route.handler for route in app.router.routes()}
    for route in api.routes:
        if route.handler in _ROUTES and route.handler not in present:
            app.router.add_route(route.method, route.path, route.handler)
