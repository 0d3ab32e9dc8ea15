"""Cross-site request forgery defence: state-changing requests come from our own pages only.

A browser attaches the staff session cookie to every request to us, whichever page sends it.
``SameSite=Strict`` stops other *sites*, not other *origins* of the same site (another port or
subdomain of the host), and a plain HTML form can post ``text/plain`` that looks like JSON. So:

- a state-changing request (not GET/HEAD/OPTIONS) that carries ``Origin`` must name one of our
  public origins (``Settings.allowed_origins``, from ``PUBLIC_ORIGINS``);
- without ``Origin``, ``Sec-Fetch-Site`` must be ``same-origin`` (or ``none``: the user's own
  action);
- a request with neither header does not come from a browser (curl, the upstream system, tests);
  a client that holds the cookie outside a browser needs no forgery, so it passes.

The check applies to every state-changing request, not only to those with the cookie: the log-in
sets the cookie (log-in forgery) and registration from visitors' browsers would dodge the
per-address limits. Bearer-token and API-key callers never send a foreign ``Origin``: a browser
would need CORS for them, which we do not serve. Refusals are 403 ``origin_forbidden``; JSON
bodies must also be ``application/json`` (``web.openapi.read_json``, 415), so a form cannot
send one.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from aiohttp import web

from videocall.errors import NotAllowed
from videocall.settings import Settings
from web.errors import Handler

logger = logging.getLogger(__name__)

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
TRUSTED_FETCH_SITES = frozenset({"same-origin", "none"})


def refusal(
    method: str, origin: str | None, fetch_site: str | None, allowed: frozenset[str]
) -> str:
    """Why a request must be refused, or "" when it may go on (pure, for the tests)."""
    if method.upper() in SAFE_METHODS:
        return ""
    if origin is not None:
        return "" if origin.strip().lower() in allowed else f"origin {origin[:100]!r}"
    if fetch_site is not None:
        site = fetch_site.strip().lower()
        return "" if site in TRUSTED_FETCH_SITES else f"Sec-Fetch-Site {site[:20]!r}"
    return ""


def origin_middleware(settings: Settings) -> Callable[..., Awaitable[web.StreamResponse]]:
    """Refuse state-changing requests from other origins with 403 ``origin_forbidden``."""
    allowed = frozenset(settings.allowed_origins)  # a bad PUBLIC_ORIGINS fails at start-up

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        headers = request.headers
        why = refusal(request.method, headers.get("Origin"), headers.get("Sec-Fetch-Site"), allowed)
        if why:
            logger.warning("refused %s %s from %s", request.method, request.path, why)
            raise NotAllowed(
                "this request must come from the service's own pages", code="origin_forbidden"
            )
        return await handler(request)

    return middleware
