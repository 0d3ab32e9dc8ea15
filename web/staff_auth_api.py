"""Officers' and supervisors' log-in, log-out and who-am-i: an HttpOnly, SameSite=Strict session
cookie after an argon2 check, with lock-out after repeated failures."""

from __future__ import annotations

import logging

from aiohttp import web

from videocall.accounts import Account, verify_password
from videocall.errors import RateLimited, Unauthenticated
from web import keys
from web.api_records import api
from web.auth import SESSION_COOKIE, require_staff
from web.openapi import read_json
from web.schemas import AccountOut, LoginIn, OkOut

logger = logging.getLogger(__name__)


async def _check_login(request: web.Request, body: LoginIn) -> Account:
    app = request.app
    accounts, policy, now = app[keys.ACCOUNTS], app[keys.LOCKOUT], app[keys.CLOCK].now()
    account = await accounts.by_username(body.username)
    if account is not None and policy.locked(account, now):
        assert account.locked_until is not None
        raise RateLimited(
            "too many failed log-ins; the account is locked for a while",
            retry_after=(account.locked_until - now).total_seconds(),
            code="account_locked",
        )
    valid = verify_password(account.password_hash if account else None, body.password)
    if account is None or not valid or account.disabled:
        if account is not None:
            await accounts.record_failure(
                account.id, policy.after_failure(account.failed_logins + 1, now)
            )
        raise Unauthenticated("wrong user name or password", code="bad_credentials")
    if account.failed_logins:
        await accounts.reset_failures(account.id)
    return account


@api.route(
    "POST",
    "/api/auth/login",
    summary="Officer/supervisor log-in (sets a session cookie)",
    tag="staff",
    body=LoginIn,
    response=AccountOut,
    errors=(400, 401, 413, 422, 429),
)
async def login(request: web.Request) -> web.Response:
    body = await read_json(request, LoginIn)
    account = await _check_login(request, body)
    settings = request.app[keys.SETTINGS]
    token = await request.app[keys.ACCOUNTS].open_session(
        account.id, request.app[keys.CLOCK].now(), settings.officer_session_ttl_seconds
    )
    logger.info("log-in %s", account.actor)
    response = web.json_response(account.public())
    response.set_cookie(
        SESSION_COOKIE,
        token,
        httponly=True,
        samesite="Strict",
        path="/",
        secure=settings.cookie_secure or request.secure,
        max_age=settings.officer_session_ttl_seconds,
    )
    return response


@api.route("POST", "/api/auth/logout", summary="End the session", tag="staff", response=OkOut)
async def logout(request: web.Request) -> web.Response:
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        await request.app[keys.ACCOUNTS].close_session(token)
    response = web.json_response({"ok": True})
    response.del_cookie(SESSION_COOKIE, path="/")
    return response


@api.route(
    "GET",
    "/api/auth/me",
    summary="The logged-in officer or supervisor",
    tag="staff",
    response=AccountOut,
    security="staff",
)
async def whoami(request: web.Request) -> web.Response:
    return web.json_response((await require_staff(request)).public())
