"""Alembic environment: runs migrations on the async engine for SQLite or PostgreSQL."""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy import text
from sqlalchemy.engine import Connection

# Every module that declares tables on the shared metadata, so that autogenerate and
# ``alembic check`` compare the whole schema.
import videocall.adapters.sql_appointments
import videocall.adapters.sql_assist
import videocall.adapters.sql_handoff
import videocall.adapters.sql_privacy  # noqa: F401
from videocall.adapters.db import make_engine, metadata
from videocall.settings import Settings

config = context.config


def _url() -> str:
    url = config.attributes.get("database_url") or config.get_main_option("sqlalchemy.url")
    if url:
        return str(url)
    return Settings().effective_database_url


def _run(connection: Connection) -> None:
    if connection.dialect.name == "postgresql":
        # Several server processes may start together: one migrates, the others wait.
        connection.execute(text("SELECT pg_advisory_xact_lock(74170001)"))
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


async def _main() -> None:
    engine = make_engine(_url())
    async with engine.connect() as conn:
        await conn.run_sync(_run)
        await conn.commit()
    await engine.dispose()


if context.is_offline_mode():
    raise SystemExit("offline migrations are not supported")
asyncio.run(_main())
