"""Officer/supervisor accounts and their log-in sessions on SQLAlchemy."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from videocall.accounts import Account, Role, check_password_policy, hash_password
from videocall.adapters import db
from videocall.adapters.sql_records import Database
from videocall.errors import Conflict


def _account(row: Any) -> Account:
    return Account(
        id=row.id,
        username=row.username,
        display_name=row.display_name,
        role=Role(row.role),
        password_hash=row.password_hash,
        disabled=row.disabled,
        failed_logins=row.failed_logins,
        locked_until=row.locked_until,
    )


def _token_hash(token: str) -> str:
    # Only the hash is stored: a database leak does not hand out live sessions.
    return hashlib.sha256(token.encode()).hexdigest()


class SqlAccounts:
    def __init__(self, database: Database) -> None:
        self.db = database

    async def create(
        self, *, username: str, password: str, role: Role, display_name: str, now: datetime
    ) -> Account:
        check_password_policy(password, username)
        account_id = str(uuid.uuid4())
        values = {
            "id": account_id,
            "username": username,
            "display_name": display_name,
            "role": role.value,
            "password_hash": hash_password(password),
            "disabled": False,
            "failed_logins": 0,
            "locked_until": None,
            "created_at": now,
        }
        try:
            async with self.db.begin() as conn:
                await conn.execute(db.accounts.insert().values(**values))
        except IntegrityError:
            raise Conflict(
                "that user name is taken", code="username_taken", field="username"
            ) from None
        account = await self.get(account_id)
        assert account is not None  # just inserted
        return account

    async def get(self, account_id: str) -> Account | None:
        async with self.db.connect() as conn:
            row = (
                await conn.execute(sa.select(db.accounts).where(db.accounts.c.id == account_id))
            ).first()
        return _account(row) if row else None

    async def by_username(self, username: str) -> Account | None:
        async with self.db.connect() as conn:
            row = (
                await conn.execute(sa.select(db.accounts).where(db.accounts.c.username == username))
            ).first()
        return _account(row) if row else None

    async def record_failure(self, account_id: str, locked_until: datetime | None) -> None:
        async with self.db.begin() as conn:
            await conn.execute(
                db.accounts.update()
                .where(db.accounts.c.id == account_id)
                .values(
                    failed_logins=db.accounts.c.failed_logins + 1,
                    locked_until=locked_until,
                )
            )

    async def reset_failures(self, account_id: str) -> None:
        async with self.db.begin() as conn:
            await conn.execute(
                db.accounts.update()
                .where(db.accounts.c.id == account_id)
                .values(failed_logins=0, locked_until=None)
            )

    async def open_session(self, account_id: str, now: datetime, ttl_seconds: int) -> str:
        token = secrets.token_urlsafe(32)
        async with self.db.begin() as conn:
            await conn.execute(
                db.auth_sessions.insert().values(
                    token_hash=_token_hash(token),
                    account_id=account_id,
                    created_at=now,
                    expires_at=now + timedelta(seconds=ttl_seconds),
                )
            )
        return token

    async def session_account(self, token: str, now: datetime) -> Account | None:
        async with self.db.connect() as conn:
            row = (
                await conn.execute(
                    sa.select(db.accounts)
                    .join(db.auth_sessions, db.auth_sessions.c.account_id == db.accounts.c.id)
                    .where(
                        db.auth_sessions.c.token_hash == _token_hash(token),
                        db.auth_sessions.c.expires_at > now,
                        db.accounts.c.disabled == sa.false(),
                    )
                )
            ).first()
        return _account(row) if row else None

    async def close_session(self, token: str) -> None:
        async with self.db.begin() as conn:
            await conn.execute(
                db.auth_sessions.delete().where(db.auth_sessions.c.token_hash == _token_hash(token))
            )
