"""ICE servers for the browsers, with ephemeral TURN credentials (the TURN REST scheme that coturn's
``use-auth-secret`` implements): user name ``<expiry unix time>:<user>``, password
``base64(HMAC-SHA1(shared secret, user name))``."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import datetime
from typing import Any


def turn_credentials(secret: str, user: str, now: datetime, ttl_seconds: int) -> tuple[str, str]:
    username = f"{int(now.timestamp()) + ttl_seconds}:{user}"
    digest = hmac.new(secret.encode(), username.encode(), hashlib.sha1).digest()
    return username, base64.b64encode(digest).decode()


def ice_servers(
    *,
    stun_json: str,
    turn_urls: list[str],
    turn_secret: str,
    ttl_seconds: int,
    user: str,
    now: datetime,
) -> list[dict[str, Any]]:
    """RTCIceServer dicts for one participant or officer (user: an opaque id, no personal data)."""
    servers: list[dict[str, Any]] = list(json.loads(stun_json or "[]"))
    if turn_urls and turn_secret:
        username, credential = turn_credentials(turn_secret, user, now, ttl_seconds)
        servers.append({"urls": turn_urls, "username": username, "credential": credential})
    return servers
