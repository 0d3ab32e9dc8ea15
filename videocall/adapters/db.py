"""The relational schema (SQLAlchemy Core) and the async engine, for SQLite and PostgreSQL.

Alembic migrations under ``migrations/`` create exactly these tables; a test checks they agree.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine


class UTCDateTime(sa.types.TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on both backends (SQLite stores them naive)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")

records = sa.Table(
    "records",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("nik", sa.String(16), nullable=False, index=True),
    # Equal to nik while the record is live, NULL once rejected: one live record per NIK.
    sa.Column("live_nik", sa.String(16), unique=True),
    sa.Column("mobile", sa.String(20), nullable=False),
    sa.Column("email", sa.String(254), nullable=False),
    sa.Column("state", sa.String(32), nullable=False, index=True),
    sa.Column("full_name", sa.String(200)),
    sa.Column("birth_date", sa.Date),
    sa.Column("sex", sa.String(8)),
    sa.Column("nik_birth_date", sa.Date, nullable=False),
    sa.Column("nik_sex", sa.String(8), nullable=False),
    sa.Column("consent_at", UTCDateTime),
    sa.Column("due_at", UTCDateTime, index=True),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.Column("version", sa.Integer, nullable=False, server_default="0"),
    # Added by migration 0003: the short reference people read out (videocall.reference).
    sa.Column("reference", sa.String(8), nullable=False),
    sa.Index("uq_records_reference", "reference", unique=True),
)

record_history = sa.Table(
    "record_history",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("record_id", sa.String(36), sa.ForeignKey("records.id"), nullable=False, index=True),
    sa.Column("at", UTCDateTime, nullable=False),
    sa.Column("actor", sa.String(100), nullable=False),
    sa.Column("action", sa.String(64), nullable=False),
    sa.Column("from_state", sa.String(32)),
    sa.Column("to_state", sa.String(32)),
    sa.Column("reason", sa.String(200)),
    sa.Column("detail", JSON),
)

documents = sa.Table(
    "documents",
    metadata,
    sa.Column("record_id", sa.String(36), sa.ForeignKey("records.id"), primary_key=True),
    sa.Column("kind", sa.String(32), primary_key=True),
    sa.Column("sha256", sa.String(64), nullable=False, index=True),
    sa.Column("content_type", sa.String(32), nullable=False),
    sa.Column("width", sa.Integer, nullable=False),
    sa.Column("height", sa.Integer, nullable=False),
    sa.Column("size_bytes", sa.Integer, nullable=False),
    sa.Column("metrics", JSON, nullable=False),
    sa.Column("verdicts", JSON, nullable=False),
    sa.Column("uploaded_at", UTCDateTime, nullable=False),
)

accounts = sa.Table(
    "accounts",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("username", sa.String(64), nullable=False, unique=True),
    sa.Column("display_name", sa.String(200), nullable=False),
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("password_hash", sa.String(200), nullable=False),
    sa.Column("disabled", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("failed_logins", sa.Integer, nullable=False, server_default="0"),
    sa.Column("locked_until", UTCDateTime),
    sa.Column("created_at", UTCDateTime, nullable=False),
)

auth_sessions = sa.Table(
    "auth_sessions",
    metadata,
    sa.Column("token_hash", sa.String(64), primary_key=True),
    sa.Column(
        "account_id", sa.String(36), sa.ForeignKey("accounts.id"), nullable=False, index=True
    ),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("expires_at", UTCDateTime, nullable=False),
)

call_sessions = sa.Table(
    "call_sessions",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("record_id", sa.String(36), sa.ForeignKey("records.id"), nullable=False, index=True),
    sa.Column(
        "officer_id", sa.String(36), sa.ForeignKey("accounts.id"), nullable=False, index=True
    ),
    sa.Column("state", sa.String(32), nullable=False),
    sa.Column("node", sa.String(100)),
    sa.Column("random_code", sa.String(16)),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("connected_at", UTCDateTime),
    sa.Column("ended_at", UTCDateTime),
    sa.Column("end_reason", sa.String(64)),
    sa.Column("recording", JSON),  # {"segments": [{path, sha256, duration, started_at, ...}]}
    sa.Column("quality_summary", JSON),
    sa.Column("quality_series", JSON),
    sa.Column("snapshots", JSON),  # [{kind, path, taken_at, metrics, bad}]
)

decisions = sa.Table(
    "decisions",
    metadata,
    sa.Column("session_id", sa.String(36), sa.ForeignKey("call_sessions.id"), primary_key=True),
    sa.Column("record_id", sa.String(36), sa.ForeignKey("records.id"), nullable=False, index=True),
    sa.Column("officer_id", sa.String(36), sa.ForeignKey("accounts.id"), nullable=False),
    sa.Column("result", sa.String(32), nullable=False),
    sa.Column("reasons", JSON, nullable=False),
    sa.Column("checklist", JSON, nullable=False),
    sa.Column("notes", sa.Text, nullable=False, server_default=""),
    sa.Column("evidence", JSON, nullable=False),
    sa.Column("decided_at", UTCDateTime, nullable=False),
)

reviews = sa.Table(
    "reviews",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("record_id", sa.String(36), sa.ForeignKey("records.id"), nullable=False, index=True),
    sa.Column("session_id", sa.String(36), sa.ForeignKey("call_sessions.id"), nullable=False),
    sa.Column("supervisor_id", sa.String(36), sa.ForeignKey("accounts.id"), nullable=False),
    sa.Column("action", sa.String(16), nullable=False),  # confirm | overturn
    sa.Column("result", sa.String(32), nullable=False),
    sa.Column("reason", sa.String(200)),
    sa.Column("reviewed_at", UTCDateTime, nullable=False),
)

outbox_events = sa.Table(
    "outbox_events",
    metadata,
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("id", sa.String(36), nullable=False, unique=True),
    sa.Column("record_id", sa.String(36), nullable=False, index=True),
    sa.Column("type", sa.String(64), nullable=False),
    sa.Column("occurred_at", UTCDateTime, nullable=False),
    sa.Column("data", JSON, nullable=False),
)

webhook_deliveries = sa.Table(
    "webhook_deliveries",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column(
        "event_seq", sa.Integer, sa.ForeignKey("outbox_events.seq"), nullable=False, index=True
    ),
    sa.Column("endpoint", sa.String(500), nullable=False),
    sa.Column("record_id", sa.String(36), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),  # pending | delivered | failed
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("next_attempt_at", UTCDateTime, nullable=False),
    sa.Column("last_error", sa.String(500)),
    sa.Column("delivered_at", UTCDateTime),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),
    # Added by migration 0002 (webhook worker).
    sa.Column("deadline_at", UTCDateTime),
    sa.Index("uq_webhook_deliveries_endpoint_event", "endpoint", "event_seq", unique=True),
    sa.Index("ix_webhook_deliveries_order", "endpoint", "record_id", "event_seq"),
)


def make_engine(url: str) -> AsyncEngine:
    if url.startswith("sqlite"):
        engine = create_async_engine(url, connect_args={"timeout": 30})

        @sa.event.listens_for(engine.sync_engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            cursor = dbapi_conn.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        return engine
    return create_async_engine(url, pool_size=10, max_overflow=10, pool_pre_ping=True)
