"""Staff for integration tests: an account on the running app and its session cookie."""

from __future__ import annotations

from typing import Any

from videocall.accounts import Account, Role
from web import keys

PASSWORD = "Petugas-Rahasia-2026"


async def staff_login(
    client: Any,
    name: str,
    role: Role,
    *,
    password: str = PASSWORD,
    display_name: str | None = None,
    ttl_s: int = 3600,
) -> tuple[Account, dict[str, str]]:
    """A new staff account (shown as ``name.title()`` unless told) and the ``Cookie`` header of
    a session opened for it."""
    app = client.app
    now = app[keys.CLOCK].now()
    account = await app[keys.ACCOUNTS].create(
        username=name,
        password=password,
        role=role,
        display_name=name.title() if display_name is None else display_name,
        now=now,
    )
    token = await app[keys.ACCOUNTS].open_session(account.id, now, ttl_s)
    return account, {"Cookie": f"vc_session={token}"}
