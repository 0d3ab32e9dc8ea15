"""Call sessions on SQLAlchemy: a pairing starts one (record -> in_call) and its end moves the
record on, each in one transaction with the record's history and outbox events.

A session's ``state``: ``active`` (paired or live), ``awaiting_decision`` (media flowed, the call
was hung up, no decision yet: the record stays ``in_call``), ``decided``, ``interrupted`` (ended
without a decision: the record went back to ``ready_for_call``), ``released`` (a supervisor sent
an undecided participant back to ``ready_for_call``). Only the application layer
(``videocall.app``) decides which change happens; this module stores it atomically.
"""

from __future__ import annotations

import secrets
import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from videocall.adapters import db
from videocall.adapters.sql_records import Database, SqlRecordRepository
from videocall.app.ports import CallSessionRow, UndecidedRow
from videocall.errors import Conflict, NotFound
from videocall.records import RecordState


def session_row(row: Any) -> CallSessionRow:
    return CallSessionRow(**{k: getattr(row, k) for k in CallSessionRow.__dataclass_fields__})


S = db.call_sessions


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
        return session_row(row)

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
        return [session_row(r) for r in rows]

    async def open_for_record(self, record_id: str) -> CallSessionRow | None:
        rows = await self._open_where(db.call_sessions.c.record_id == record_id)
        return rows[0] if rows else None

    async def open_for_officer(self, officer_id: str) -> CallSessionRow | None:
        rows = await self._open_where(db.call_sessions.c.officer_id == officer_id)
        return rows[0] if rows else None

    async def open_on_node(self, node: str) -> list[CallSessionRow]:
        return await self._open_where(db.call_sessions.c.node == node)

    async def open_sessions(self) -> list[CallSessionRow]:
        """Every session still ``active`` (paired or live), on any node."""
        async with self.db.connect() as conn:
            rows = (
                await conn.execute(
                    sa.select(S).where(S.c.state == "active", S.c.ended_at.is_(None))
                )
            ).all()
        return [session_row(r) for r in rows]

    async def undecided(
        self, officer_id: str | None = None, record_id: str | None = None
    ) -> list[UndecidedRow]:
        """Calls awaiting a decision, oldest first: one officer's, one record's, or all."""
        query = (
            sa.select(
                S.c.id,
                S.c.record_id,
                S.c.officer_id,
                S.c.connected_at,
                S.c.ended_at,
                db.records.c.full_name,
                db.accounts.c.display_name,
            )
            .join(db.records, db.records.c.id == S.c.record_id)
            .outerjoin(db.accounts, db.accounts.c.id == S.c.officer_id)
            .where(S.c.state == "awaiting_decision")
            .order_by(S.c.ended_at.asc())
        )
        if officer_id is not None:
            query = query.where(S.c.officer_id == officer_id)
        if record_id is not None:
            query = query.where(S.c.record_id == record_id)
        async with self.db.connect() as conn:
            rows = (await conn.execute(query)).all()
        return [
            UndecidedRow(
                r.id,
                r.record_id,
                r.officer_id,
                r.full_name,
                r.connected_at,
                r.ended_at,
                r.display_name,
            )
            for r in rows
        ]

    async def await_decision(self, session_id: str, *, reason: str, now: datetime) -> bool:
        """The call was hung up after media flowed: it waits for the officer's decision (the
        record stays ``in_call``). False when it had already ended (idempotent)."""
        async with self.db.begin() as conn:
            result = await conn.execute(
                S.update()
                .where(S.c.id == session_id, S.c.state == "active", S.c.ended_at.is_(None))
                .values(state="awaiting_decision", ended_at=now, end_reason=reason)
            )
        return bool(result.rowcount)

    async def release(
        self, session_id: str, *, reason: str, actor: str, now: datetime
    ) -> CallSessionRow:
        """A supervisor sends the participant of an undecided call back to ``ready_for_call``."""
        async with self.db.begin() as conn:
            row = await self.load(conn, session_id)
            if row.state != "awaiting_decision":
                raise Conflict("the call is not waiting for a decision", code="not_undecided")
            async with self.records.edit_on(conn, row.record_id) as record:
                record.transition(
                    RecordState.READY_FOR_CALL,
                    actor=actor,
                    now=now,
                    reason=reason,
                    detail={"session_id": session_id, "released": True},
                )
            result = await conn.execute(
                S.update()
                .where(S.c.id == session_id, S.c.state == "awaiting_decision")
                .values(state="released", end_reason=f"released:{reason}"[:64])
            )
            if result.rowcount != 1:
                raise Conflict("the call is not waiting for a decision", code="not_undecided")
        return await self.get(session_id)

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
