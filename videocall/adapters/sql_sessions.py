"""Call sessions on SQLAlchemy: a pairing starts one (record -> in_call) and its end moves the
record on, each in one transaction with the record's history and outbox events."""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from videocall.adapters import db
from videocall.adapters.sql_records import Database, SqlRecordRepository
from videocall.errors import Conflict, NotFound
from videocall.records import RecordState


@dataclass(frozen=True, slots=True)
class CallSessionRow:
    id: str
    record_id: str
    officer_id: str
    state: str
    node: str | None
    random_code: str | None
    created_at: datetime
    connected_at: datetime | None
    ended_at: datetime | None
    end_reason: str | None
    recording: dict[str, Any] | None
    quality_summary: dict[str, Any] | None
    quality_series: list[Any] | None
    snapshots: list[dict[str, Any]] | None

    def public(self) -> dict[str, Any]:
        def iso(v: datetime | None) -> str | None:
            return v.isoformat() if v else None

        return {
            "id": self.id,
            "record_id": self.record_id,
            "officer_id": self.officer_id,
            "state": self.state,
            "created_at": iso(self.created_at),
            "connected_at": iso(self.connected_at),
            "ended_at": iso(self.ended_at),
            "end_reason": self.end_reason,
        }


def _row(row: Any) -> CallSessionRow:
    return CallSessionRow(**{k: getattr(row, k) for k in CallSessionRow.__dataclass_fields__})


def random_code() -> str:
    """Six digits the participant reads aloud: shows a live person, not a replayed video."""
    return f"{secrets.randbelow(1_000_000):06d}"


class SqlCallSessions:
    def __init__(self, database: Database, records: SqlRecordRepository) -> None:
        self.db = database
        self.records = records

    async def start(
        self,
        *,
        record_id: str,
        officer_id: str,
        officer_actor: str,
        now: datetime,
        node: str | None = None,
        session_id: str | None = None,
    ) -> CallSessionRow:
        """Create the session and move the record to ``in_call`` atomically."""
        sid = session_id or str(uuid.uuid4())
        async with self.db.begin() as conn:
            async with self.records.edit_on(conn, record_id) as record:
                record.transition(
                    RecordState.IN_CALL,
                    actor=officer_actor,
                    now=now,
                    reason="paired",
                    detail={"session_id": sid},
                )
            await conn.execute(
                db.call_sessions.insert().values(
                    id=sid,
                    record_id=record_id,
                    officer_id=officer_id,
                    state="active",
                    node=node,
                    random_code=random_code(),
                    created_at=now,
                )
            )
        return await self.get(sid)

    async def load(self, conn: Any, session_id: str) -> CallSessionRow:
        """One session on an open connection; NotFound when absent."""
        row = (
            await conn.execute(
                sa.select(db.call_sessions).where(db.call_sessions.c.id == session_id)
            )
        ).first()
        if row is None:
            raise NotFound("no such call session", code="session_not_found")
        return _row(row)

    async def get(self, session_id: str) -> CallSessionRow:
        async with self.db.connect() as conn:
            return await self.load(conn, session_id)

    async def _open_where(self, condition: Any) -> list[CallSessionRow]:
        async with self.db.connect() as conn:
            rows = (
                await conn.execute(
                    sa.select(db.call_sessions).where(
                        condition, db.call_sessions.c.ended_at.is_(None)
                    )
                )
            ).all()
        return [_row(r) for r in rows]

    async def open_for_record(self, record_id: str) -> CallSessionRow | None:
        rows = await self._open_where(db.call_sessions.c.record_id == record_id)
        return rows[0] if rows else None

    async def open_for_officer(self, officer_id: str) -> CallSessionRow | None:
        rows = await self._open_where(db.call_sessions.c.officer_id == officer_id)
        return rows[0] if rows else None

    async def open_on_node(self, node: str) -> list[CallSessionRow]:
        return await self._open_where(db.call_sessions.c.node == node)

    async def mark_connected(self, session_id: str, now: datetime) -> None:
        async with self.db.begin() as conn:
            await conn.execute(
                db.call_sessions.update()
                .where(
                    db.call_sessions.c.id == session_id, db.call_sessions.c.connected_at.is_(None)
                )
                .values(connected_at=now)
            )

    async def update_media(self, session_id: str, **values: Any) -> None:
        """Store recording / quality_summary / quality_series / snapshots as they become known."""
        allowed = {"recording", "quality_summary", "quality_series", "snapshots", "node"}
        unknown = set(values) - allowed
        if unknown:
            raise ValueError(f"not media columns: {sorted(unknown)}")
        async with self.db.begin() as conn:
            await conn.execute(
                db.call_sessions.update()
                .where(db.call_sessions.c.id == session_id)
                .values(**values)
            )

    async def end_interrupted(
        self, session_id: str, *, reason: str, actor: str, now: datetime
    ) -> CallSessionRow:
        """End a call with no decision: the record goes back to ``ready_for_call``."""
        async with self.db.begin() as conn:
            row = await self.load(conn, session_id)
            if row.ended_at is not None:
                raise Conflict("the call has already ended", code="session_ended")
            async with self.records.edit_on(conn, row.record_id) as record:
                if record.state is RecordState.IN_CALL:
                    record.transition(
                        RecordState.READY_FOR_CALL,
                        actor=actor,
                        now=now,
                        reason=reason,
                        detail={"session_id": session_id},
                    )
                else:
                    record.note(
                        "call_ended",
                        actor=actor,
                        now=now,
                        reason=reason,
                        detail={"session_id": session_id},
                    )
            await conn.execute(
                db.call_sessions.update()
                .where(db.call_sessions.c.id == session_id)
                .values(state="interrupted", ended_at=now, end_reason=reason)
            )
        return await self.get(session_id)

    async def close_on(
        self, conn: Any, session_id: str, *, state: str, reason: str, now: datetime
    ) -> None:
        """Mark ended inside a caller's transaction (the decision stores it with the outcome)."""
        result = await conn.execute(
            db.call_sessions.update()
            .where(db.call_sessions.c.id == session_id)
            .values(
                state=state,
                ended_at=sa.func.coalesce(db.call_sessions.c.ended_at, now),
                end_reason=sa.func.coalesce(db.call_sessions.c.end_reason, reason),
            )
        )
        if result.rowcount != 1:
            raise NotFound("no such call session", code="session_not_found")
