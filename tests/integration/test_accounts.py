"""Officer and supervisor accounts: log-in, cookie, roles, lock-out, the command line."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.support import make_nik
from videocall.accounts import Role
from web import keys

PASSWORD = "Petugas-Rahasia-2026"


async def make_account(client, username: str, role: Role = Role.OFFICER):
    return await client.app[keys.ACCOUNTS].create(
        username=username,
        password=PASSWORD,
        role=role,
        display_name=username.title(),
        now=client.app[keys.CLOCK].now(),
    )


async def login(client, username: str, password: str = PASSWORD):
    return await client.post("/api/auth/login", json={"username": username, "password": password})


async def test_login_sets_httponly_samesite_cookie_and_logout_ends_it(client) -> None:
    await make_account(client, "budi")
    resp = await login(client, "budi")
    assert resp.status == 200
    assert (await resp.json())["role"] == "officer"
    cookie = resp.cookies["vc_session"]
    assert cookie["httponly"] and cookie["samesite"] == "Strict"
    me = await client.get("/api/auth/me")
    assert (await me.json())["username"] == "budi"
    await client.post("/api/auth/logout")
    assert (await client.get("/api/auth/me")).status == 401


async def test_wrong_password_and_unknown_user_look_the_same(client) -> None:
    await make_account(client, "budi")
    wrong = await login(client, "budi", "nope-nope-nope")
    unknown = await login(client, "nobody", "nope-nope-nope")
    assert wrong.status == unknown.status == 401
    assert (await wrong.json()) == (await unknown.json())


async def test_lockout_after_repeated_failures_and_reset(client, clock) -> None:
    await make_account(client, "budi")
    for _ in range(5):
        assert (await login(client, "budi", "wrong-password!")).status == 401
    locked = await login(client, "budi")  # even the right password is refused while locked
    assert locked.status == 429
    assert (await locked.json())["error"]["code"] == "account_locked"
    assert int(locked.headers["Retry-After"]) > 0
    clock.advance(16 * 60)
    assert (await login(client, "budi")).status == 200
    account = await client.app[keys.ACCOUNTS].by_username("budi")
    assert account.failed_logins == 0


async def test_roles_and_audited_reveal(client, participant_factory) -> None:
    p = participant_factory()
    await p.register()
    # Not logged in: refused.
    assert (await client.get(f"/api/records/{p.record_id}")).status == 401
    await make_account(client, "budi")
    await login(client, "budi")
    # An officer who has not called this participant may not open the record at all
    # (least privilege; the per-role rules are in test_security_access.py).
    assert (await client.get(f"/api/records/{p.record_id}")).status == 403
    assert (await client.post(f"/api/records/{p.record_id}/reveal-nik")).status == 403
    await make_account(client, "sari", Role.SUPERVISOR)
    await login(client, "sari")
    record = await (await client.get(f"/api/records/{p.record_id}")).json()
    assert "*" in record["nik_masked"] and "nik" not in record
    reveal = await client.post(f"/api/records/{p.record_id}/reveal-nik")
    assert (await reveal.json())["nik"] == p.nik
    history = (await (await client.get(f"/api/records/{p.record_id}")).json())["history"]
    assert history[-1]["action"] == "nik_revealed" and history[-1]["actor"] == "supervisor:sari"


async def test_password_policy(client) -> None:
    from videocall.errors import ValidationError

    for bad, code in [
        ("short", "password_too_short"),
        ("password123", "password_common"),
        ("bpjskesehatan", "password_common"),
        ("budi-is-my-name", "password_common"),
    ]:
        with pytest.raises(ValidationError) as exc:
            await client.app[keys.ACCOUNTS].create(
                username="budi",
                password=bad,
                role=Role.OFFICER,
                display_name="B",
                now=client.app[keys.CLOCK].now(),
            )
        assert exc.value.code == code


def test_accounts_command_line(database_url: str, tmp_path) -> None:
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "DATA_DIR": str(tmp_path),
        "ACCOUNT_PASSWORD": PASSWORD,
    }
    cmd = [
        sys.executable,
        "-m",
        "videocall.adapters.accounts_cli",
        "create",
        "--username",
        "sari",
        "--role",
        "supervisor",
        "--name",
        "Sari",
    ]
    first = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=60)
    assert first.returncode == 0, first.stderr
    again = subprocess.run(
        [*cmd, "--if-missing"], env=env, capture_output=True, text=True, timeout=60
    )
    assert again.returncode == 0 and "exists" in again.stdout
    weak = subprocess.run(
        [*cmd[:-4], "--username", "x2"],
        env={**env, "ACCOUNT_PASSWORD": "abc"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert weak.returncode == 2


def test_nik_helper_makes_valid_distinct_niks() -> None:
    assert len({make_nik() for _ in range(50)}) == 50


async def test_concurrent_audited_reads_do_not_collide(client, participant_factory) -> None:
    import asyncio

    p = participant_factory()
    await p.to_ready()
    await make_account(client, "budi", Role.SUPERVISOR)
    await login(client, "budi")
    urls = [f"/api/records/{p.record_id}/documents/{k}" for k in ("ktp", "selfie_with_ktp", "face")]
    responses = await asyncio.gather(*(client.get(u) for u in urls * 3))
    assert [r.status for r in responses] == [200] * 9
    history = (await (await client.get(f"/api/records/{p.record_id}")).json())["history"]
    assert sum(h["action"] == "document_viewed" for h in history) == 9
