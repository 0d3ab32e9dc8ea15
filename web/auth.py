"""Who is calling: participant bearer tokens, officer session cookies, upstream API keys.

Every handler states the caller it needs; ownership is checked against the token's record id.
"""

from __future__ import annotations

import hmac

from aiohttp import web

from videocall.accounts import Account, Role
from videocall.errors import NotAllowed, Unauthenticated
from web import keys

SESSION_COOKIE = "vc_session"


def bearer_token(request: web.Request) -> str | None:
    header = request.headers.get("Authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip() or None
    return None


def participant_record_id(request: web.Request) -> str:
    """The record the participant token grants access to."""
    token = bearer_token(request)
    if not token:
        raise Unauthenticated("a participant access token is required", code="token_missing")
    return request.app[keys.TOKENS].verify(token)


async def staff_from_cookie(app: web.Application, cookie: str | None) -> Account | None:
    if not cookie:
        return None
    return await app[keys.ACCOUNTS].session_account(cookie, app[keys.CLOCK].now())


async def require_staff(request: web.Request, *roles: Role) -> Account:
    """An officer or supervisor session; ``roles`` narrows who may call."""
    account = await staff_from_cookie(request.app, request.cookies.get(SESSION_COOKIE))
    if account is None:
        raise Unauthenticated("please log in", code="login_required")
    if roles and account.role not in roles:
        raise NotAllowed("your role may not do this", code="role_forbidden")
    return account


def require_api_key(request: web.Request) -> str:
    """The upstream system's name for a valid ``X-API-Key``."""
    presented = request.headers.get("X-API-Key", "")
    if not presented:
        raise Unauthenticated("an API key is required", code="api_key_missing")
    for key, name in request.app[keys.SETTINGS].api_keys().items():
        if hmac.compare_digest(key.encode(), presented.encode()):
            return name
    raise Unauthenticated("invalid API key", code="api_key_invalid")
