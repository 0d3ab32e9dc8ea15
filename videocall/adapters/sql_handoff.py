"""Hand-off links on SQLAlchemy: only the code's SHA-256 is stored; a link is used at most once
(compare-and-set on ``used_at``), on SQLite and PostgreSQL alike."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import sqlalchemy as sa

from videocall.adapters import db
from videocall.adapters.sql_records import Database
from videocall.handoff import Grant, HandoffGone, Prefill

# Declared on the shared metadata; created by migration 0005_handoff.
handoff_links = sa.Table(
    "handoff_links",
    db.metadata,
    sa.Column("code_hash", sa.String(64), primary_key=True),
    sa.Column("record_id", sa.String(36), sa.ForeignKey("records.id"), nullable=False, index=True),
    sa.Column("issued_by", sa.String(100), nullable=False),
    sa.Column("created_at", db.UTCDateTime, nullable=False),
    sa.Column("expires_at", db.UTCDateTime, nullable=False, index=True),
    sa.Column("used_at", db.UTCDateTime),
    # Profile fields the app sent, for the page to prefill; cleared once the link is used.
    sa.Column("prefill", db.JSON),
)
# Used and expired rows are kept this long (to tell "used" from "unknown"), then deleted.
KEEP_AFTER_EXPIRY = timedelta(days=1)


def _grant(row: Any) -> Grant:
    return Grant(
        code_hash=row.code_hash,
        record_id=row.record_id,
        issued_by=row.issued_by,
        created_at=row.created_at,
        expires_at=row.expires_at,
        used_at=row.used_at,
        prefill=Prefill.from_dict(row.prefill),
    )


class SqlHandoffLinks:
    def __init__(self, database: Database) -> None:
        self.database = database

    async def add(self, grant: Grant) -> None:
        """Store a new link; links expired for a day are cleared on the way."""
        async with self.database.begin() as conn:
            await conn.execute(
                sa.delete(handoff_links).where(
                    handoff_links.c.expires_at < grant.created_at - KEEP_AFTER_EXPIRY
                )
            )
            await conn.execute(
                sa.insert(handoff_links).values(
                    code_hash=grant.code_hash,
                    record_id=grant.record_id,
                    issued_by=grant.issued_by,
                    created_at=grant.created_at,
                    expires_at=grant.expires_at,
                    used_at=None,
                    prefill=grant.prefill.as_dict() or None,
                )
            )

    async def get(self, code_hash: str) -> Grant | None:
        async with self.database.connect() as conn:
            row = (
                await conn.execute(
                    sa.select(handoff_links).where(handoff_links.c.code_hash == code_hash)
                )
            ).first()
        return _grant(row) if row is not None else None

    async def mark_used(self, grant: Grant) -> None:
        """Store ``grant`` as used unless someone used it first (then ``handoff_used``)."""
        assert grant.used_at is not None
        async with self.database.begin() as conn:
            result = await conn.execute(
                sa.update(handoff_links)
                .where(handoff_links.c.code_hash == grant.code_hash)
                .where(handoff_links.c.used_at.is_(None))
                .values(used_at=grant.used_at, prefill=None)
            )
        if result.rowcount != 1:
            raise HandoffGone("this link was already used", code="handoff_used")
