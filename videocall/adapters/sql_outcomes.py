"""Decisions and reviews on SQLAlchemy. Each is ONE transaction: the decision (or review) row,
the call session's end, the record's transition, its history and its outbox event commit
together or not at all."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from videocall.accounts import Account
from videocall.adapters import db
from videocall.adapters.sql_records import Database, SqlRecordRepository
from videocall.adapters.sql_sessions import SqlCallSessions, session_row
from videocall.app.ports import CallSessionRow, DecisionCheck, StoredDecision
from videocall.errors import Conflict, NotFound
from videocall.outcomes import (
    Decision,
    Result,
    Review,
    check_reviewer,
    is_overdue,
    state_after_decision,
    state_after_review,
)
from videocall.records import RecordState
from videocall.workdays import WorkCalendar

S = db.call_sessions


def _decision(row: Any) -> StoredDecision:
    return StoredDecision(
        row.session_id,
        row.record_id,
        row.officer_id,
        Result(row.result),
        list(row.reasons),
        dict(row.checklist),
        row.notes,
        dict(row.evidence),
        row.decided_at,
    )


class SqlOutcomes:
    def __init__(
        self,
        database: Database,
        records: SqlRecordRepository,
        sessions: SqlCallSessions,
        calendar: WorkCalendar,
        review_working_days: int = 3,
    ) -> None:
        self.db = database
        self.records = records
        self.sessions = sessions
        self.calendar = calendar
        self.review_days = review_working_days

    # -- officer decision ----------------------------------------------------------------------

    async def decide(
        self,
        session_id: str,
        officer: Account,
        decision: Decision,
        now: datetime,
        check: DecisionCheck,
    ) -> StoredDecision:
        """``check`` (the application's rules) runs on the locked session; then everything is
        stored in one transaction."""
        try:
            await self._decide(session_id, officer, decision, now, check)
        except IntegrityError:  # a racing decision on SQLite, which has no row locks
            raise Conflict("this call has already been decided", code="already_decided") from None
        return await self.decision_for_session(session_id)

    async def _decide(
        self,
        session_id: str,
        officer: Account,
        decision: Decision,
        now: datetime,
        check: DecisionCheck,
    ) -> None:
        async with self.db.begin() as conn:
            session = await self._session_for_update(conn, session_id)
            decided = await conn.scalar(
                sa.select(sa.func.count())
                .select_from(db.decisions)
                .where(db.decisions.c.session_id == session_id)
            )
            evidence = check(session, bool(decided))
            await self._move_record(conn, session, officer, decision, now)
            await conn.execute(
                db.decisions.insert().values(
                    session_id=session_id,
                    record_id=session.record_id,
                    officer_id=officer.id,
                    result=decision.result.value,
                    reasons=list(decision.reasons),
                    checklist=decision.checklist_dict(),
                    notes=decision.notes,
                    evidence=evidence.as_dict(),
                    decided_at=now,
                )
            )
            await self.sessions.close_on(
                conn, session_id, state="decided", reason="decision", now=now
            )

    async def _session_for_update(self, conn: AsyncConnection, session_id: str) -> CallSessionRow:
        query = sa.select(S).where(S.c.id == session_id)
        if self.db.dialect == "postgresql":
            query = query.with_for_update()
        row = (await conn.execute(query)).first()
        if row is None:
            raise NotFound("no such call session", code="session_not_found")
        return session_row(row)

    async def _move_record(
        self,
        conn: AsyncConnection,
        session: CallSessionRow,
        officer: Account,
        decision: Decision,
        now: datetime,
    ) -> None:
        detail: dict[str, Any] = {"session_id": session.id, "result": decision.result.value}
        if decision.reasons:
            detail["reasons"] = list(decision.reasons)
        reason = decision.reasons[0] if decision.reasons else "officer_approved"
        async with self.records.edit_on(conn, session.record_id) as record:
            target = state_after_decision(decision.result)
            kw: dict[str, Any] = {"actor": officer.actor, "now": now, "reason": reason}
            if target is RecordState.UNDER_REVIEW:
                due = self.calendar.due_at(now, self.review_days)
                record.start_review(due_at=due, detail=detail, **kw)
            else:
                record.transition(target, detail=detail, **kw)

    async def decision_for_session(self, session_id: str) -> StoredDecision:
        async with self.db.connect() as conn:
            row = (
                await conn.execute(
                    sa.select(db.decisions).where(db.decisions.c.session_id == session_id)
                )
            ).first()
        if row is None:
            raise NotFound("this call has no decision yet", code="decision_not_found")
        return _decision(row)

    async def latest_decision(self, conn: AsyncConnection, record_id: str) -> StoredDecision:
        row = (
            await conn.execute(
                sa.select(db.decisions)
                .where(db.decisions.c.record_id == record_id)
                .order_by(db.decisions.c.decided_at.desc())
                .limit(1)
            )
        ).first()
        if row is None:
            raise NotFound("this record has no decision", code="decision_not_found")
        return _decision(row)

    # -- supervisor review ---------------------------------------------------------------------

    async def review(
        self, record_id: str, supervisor: Account, review: Review, now: datetime
    ) -> dict[str, Any]:
        """Confirm (-> active) or overturn an approval under review, four eyes, atomically."""
        async with self.db.begin() as conn:
            async with self.records.edit_on(conn, record_id) as record:
                if record.state is not RecordState.UNDER_REVIEW:
                    raise Conflict(
                        f"the record is {record.state.value}, not under review",
                        code="not_under_review",
                    )
                decision = await self.latest_decision(conn, record_id)
                check_reviewer(supervisor.id, decision.officer_id)
                record.transition(
                    state_after_review(review),
                    actor=supervisor.actor,
                    now=now,
                    reason=review.reason or "review_confirmed",
                    detail={"review": review.action.value, "session_id": decision.session_id},
                )
            await conn.execute(
                db.reviews.insert().values(
                    record_id=record_id,
                    session_id=decision.session_id,
                    supervisor_id=supervisor.id,
                    action=review.action.value,
                    result=review.result.value,
                    reason=review.reason,
                    reviewed_at=now,
                )
            )
        return {"record_id": record_id, "state": record.state.value, **_review_dict(review)}

    async def review_queue(self, now: datetime, limit: int = 200) -> list[dict[str, Any]]:
        """Records under review, the oldest due date first, each flagged when overdue."""
        d = db.decisions
        latest = (
            sa.select(d.c.record_id, sa.func.max(d.c.decided_at).label("decided_at"))
            .group_by(d.c.record_id)
            .subquery()
        )
        query = (
            sa.select(
                db.records.c.id,
                db.records.c.full_name,
                db.records.c.due_at,
                d.c.session_id,
                d.c.officer_id,
                d.c.decided_at,
                d.c.checklist,
            )
            .join(latest, latest.c.record_id == db.records.c.id)
            .join(
                d,
                sa.and_(d.c.record_id == latest.c.record_id, d.c.decided_at == latest.c.decided_at),
            )
            .where(db.records.c.state == RecordState.UNDER_REVIEW.value)
            .order_by(db.records.c.due_at.asc(), d.c.decided_at.asc())
            .limit(limit)
        )
        async with self.db.connect() as conn:
            rows = (await conn.execute(query)).all()
        return [_queue_item(r, now) for r in rows]

    async def reviews_for(self, record_id: str) -> list[dict[str, Any]]:
        async with self.db.connect() as conn:
            rows = await conn.execute(
                sa.select(db.reviews)
                .where(db.reviews.c.record_id == record_id)
                .order_by(db.reviews.c.id)
            )
            return [dict(r._mapping) for r in rows]


def _review_dict(review: Review) -> dict[str, Any]:
    return {"action": review.action.value, "result": review.result.value, "reason": review.reason}


def _queue_item(row: Any, now: datetime) -> dict[str, Any]:
    return {
        "record_id": row.id,
        "full_name": row.full_name,
        "session_id": row.session_id,
        "officer_id": row.officer_id,
        "decided_at": row.decided_at.isoformat(),
        "due_at": row.due_at.isoformat() if row.due_at else None,
        "overdue": is_overdue(row.due_at, now),
    }
