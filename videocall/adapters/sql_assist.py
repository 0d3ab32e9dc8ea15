"""Officer-assist readings on SQLAlchemy: one row per analysed photo (the KTP, the selfie with
the KTP, the face photo, each face snapshot of a call), keyed by record and subject, holding the
version it was computed from (the document's SHA-256 or the snapshot's file name)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from videocall.adapters import db
from videocall.adapters.sql_records import Database
from videocall.assist import STALE_AFTER

# Declared on the shared metadata; created by migration 0004_assist.
assist_readings = sa.Table(
    "assist_readings",
    db.metadata,
    sa.Column("record_id", sa.String(36), sa.ForeignKey("records.id"), primary_key=True),
    # "ktp", "selfie_with_ktp", "face" or "snapshot:<file name>"
    sa.Column("subject", sa.String(200), primary_key=True),
    sa.Column("source", sa.String(200), nullable=False),
    sa.Column("session_id", sa.String(36), nullable=True, index=True),
    sa.Column("status", sa.String(16), nullable=False),  # "pending" | "done"
    sa.Column("result", db.JSON, nullable=True),
    sa.Column("updated_at", db.UTCDateTime, nullable=False),
)


@dataclass(frozen=True, slots=True)
class Reading:
    record_id: str
    subject: str
    source: str
    session_id: str | None
    status: str
    result: dict[str, Any] | None
    updated_at: datetime


def _reading(row: Any) -> Reading:
    return Reading(
        record_id=row.record_id,
        subject=row.subject,
        source=row.source,
        session_id=row.session_id,
        status=row.status,
        result=row.result,
        updated_at=row.updated_at,
    )


def _key(record_id: str, subject: str) -> sa.ColumnElement[bool]:
    return sa.and_(assist_readings.c.record_id == record_id, assist_readings.c.subject == subject)


class SqlAssistReadings:
    def __init__(self, database: Database) -> None:
        self.database = database

    async def start(
        self, record_id: str, subject: str, source: str, session_id: str | None, now: datetime
    ) -> bool:
        """Mark ``subject`` pending for ``source``; False when that version is analysed or under
        way already, so it is not analysed twice. A run pending for longer than ``STALE_AFTER``
        was lost with its process: it starts again."""
        try:
            async with self.database.begin() as conn:
                row = (
                    await conn.execute(
                        sa.select(
                            assist_readings.c.source,
                            assist_readings.c.status,
                            assist_readings.c.updated_at,
                        ).where(_key(record_id, subject))
                    )
                ).first()
                if row is not None and row.source == source:
                    if row.status == "done" or row.updated_at > now - STALE_AFTER:
                        return False
                await conn.execute(sa.delete(assist_readings).where(_key(record_id, subject)))
                await conn.execute(
                    sa.insert(assist_readings).values(
                        record_id=record_id,
                        subject=subject,
                        source=source,
                        session_id=session_id,
                        status="pending",
                        result=None,
                        updated_at=now,
                    )
                )
        except sa.exc.IntegrityError:
            return False  # another request started the same analysis at the same moment
        return True

    async def finish(
        self, record_id: str, subject: str, source: str, result: dict[str, Any], now: datetime
    ) -> bool:
        """Store the result unless a newer upload replaced ``source`` meanwhile."""
        async with self.database.begin() as conn:
            done = await conn.execute(
                sa.update(assist_readings)
                .where(_key(record_id, subject))
                .where(assist_readings.c.source == source)
                .values(status="done", result=result, updated_at=now)
            )
        return bool(done.rowcount)

    async def for_record(self, record_id: str) -> dict[str, Reading]:
        async with self.database.connect() as conn:
            rows = (
                await conn.execute(
                    sa.select(assist_readings).where(assist_readings.c.record_id == record_id)
                )
            ).all()
        return {row.subject: _reading(row) for row in rows}

    async def session_snapshots(self, session_id: str) -> tuple[str, list[dict[str, Any]]] | None:
        """The call's record id and snapshot list (written by the media side)."""
        sessions = db.call_sessions
        async with self.database.connect() as conn:
            row = (
                await conn.execute(
                    sa.select(sessions.c.record_id, sessions.c.snapshots).where(
                        sessions.c.id == session_id
                    )
                )
            ).first()
        if row is None:
            return None
        return row.record_id, list(row.snapshots or [])

    async def current_call(self, officer_id: str) -> tuple[str, str] | None:
        """(session id, record id) of the officer's latest call whose record is still in the
        call (live or awaiting the decision)."""
        sessions, records = db.call_sessions, db.records
        async with self.database.connect() as conn:
            row = (
                await conn.execute(
                    sa.select(sessions.c.id, sessions.c.record_id)
                    .join(records, records.c.id == sessions.c.record_id)
                    .where(sessions.c.officer_id == officer_id)
                    .where(records.c.state == "in_call")
                    .order_by(sessions.c.created_at.desc())
                    .limit(1)
                )
            ).first()
        return (row.id, row.record_id) if row is not None else None
