"""Appointments on SQLAlchemy (SQLite or PostgreSQL).

No double booking under concurrency, on both databases: each slot has a counter row, and a
booking takes a place with ``UPDATE ... SET booked = booked + 1 WHERE booked < capacity``, which
PostgreSQL serialises on the row (the condition is re-checked after the lock) and SQLite on its
single writer. "One live booking per record" is a unique column ``live_record``, equal to the
record id while booked and NULL afterwards (as ``records.live_nik``). Every change writes its
outbox event and a history note on the record in the same transaction; a reminder is a row of
``appointment_reminders`` (primary key: appointment, kind), so each is sent once, also across
restarts and several processes.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from videocall.adapters import db
from videocall.adapters.sql_records import Database
from videocall.app.appointment_ports import UpcomingRow
from videocall.appointments import Appointment, Status, WeeklyPlan, iso_z
from videocall.errors import Conflict, NotFound
from videocall.records import DomainEvent

# Declared on the shared metadata; created by migration 0008_appointments.
appointments = sa.Table(
    "appointments",
    db.metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("record_id", sa.String(36), sa.ForeignKey("records.id"), nullable=False, index=True),
    # Equal to record_id while booked, NULL otherwise: one live booking per record.
    sa.Column("live_record", sa.String(36), unique=True),
    sa.Column("start_at", db.UTCDateTime, nullable=False, index=True),
    sa.Column("end_at", db.UTCDateTime, nullable=False),
    sa.Column("status", sa.String(16), nullable=False, index=True),
    sa.Column("zone", sa.String(40), nullable=False),
    sa.Column("booked_at", db.UTCDateTime, nullable=False),
    sa.Column("updated_at", db.UTCDateTime, nullable=False),
)
# Places taken per slot (booked + attended; released bookings give theirs back).
appointment_slots = sa.Table(
    "appointment_slots",
    db.metadata,
    sa.Column("start_at", db.UTCDateTime, primary_key=True),
    sa.Column("booked", sa.Integer, nullable=False, server_default="0"),
)
appointment_reminders = sa.Table(
    "appointment_reminders",
    db.metadata,
    sa.Column("appointment_id", sa.String(36), sa.ForeignKey("appointments.id"), primary_key=True),
    sa.Column("kind", sa.String(8), primary_key=True),
    sa.Column("sent_at", db.UTCDateTime, nullable=False),
)
appointment_plan = sa.Table(
    "appointment_plan",
    db.metadata,
    sa.Column("weekday", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("hour", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("officers", sa.Integer, nullable=False),
)
# Every replacement of the plan, with who made it (the audit).
appointment_plan_changes = sa.Table(
    "appointment_plan_changes",
    db.metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("at", db.UTCDateTime, nullable=False),
    sa.Column("actor", sa.String(100), nullable=False),
    sa.Column("plan", db.JSON, nullable=False),
)
A = appointments
S = appointment_slots
R = appointment_reminders


def _appointment(row: Any, sent: frozenset[str] = frozenset()) -> Appointment:
    return Appointment(
        id=row.id,
        record_id=row.record_id,
        start=row.start_at,
        end=row.end_at,
        status=Status(row.status),
        zone=row.zone,
        booked_at=row.booked_at,
        updated_at=row.updated_at,
        reminders_sent=sent,
    )


class SqlAppointments:
    def __init__(self, database: Database) -> None:
        self.db = database

    # -- the plan ----------------------------------------------------------------------------

    async def plan(self) -> dict[tuple[int, int], int]:
        async with self.db.connect() as conn:
            rows = (await conn.execute(sa.select(appointment_plan))).all()
        return {(r.weekday, r.hour): r.officers for r in rows if r.officers > 0}

    async def replace_plan(self, plan: WeeklyPlan, *, actor: str, now: datetime) -> None:
        items = [{"weekday": d, "hour": h, "officers": n} for (d, h), n in sorted(plan.items())]
        async with self.db.begin() as conn:
            await conn.execute(appointment_plan.delete())
            if items:
                await conn.execute(appointment_plan.insert(), items)
            await conn.execute(
                appointment_plan_changes.insert().values(at=now, actor=actor, plan=items)
            )

    # -- reading -----------------------------------------------------------------------------

    async def booked(self, start: datetime, end: datetime) -> dict[datetime, int]:
        async with self.db.connect() as conn:
            rows = (
                await conn.execute(
                    sa.select(S.c.start_at, S.c.booked).where(
                        S.c.start_at >= start, S.c.start_at < end, S.c.booked > 0
                    )
                )
            ).all()
        return {r.start_at: r.booked for r in rows}

    async def get(self, appointment_id: str) -> Appointment:
        async with self.db.connect() as conn:
            row = (await conn.execute(sa.select(A).where(A.c.id == appointment_id))).first()
        if row is None:
            raise NotFound("no such appointment", code="appointment_not_found")
        return _appointment(row)

    async def live(self, record_id: str) -> Appointment | None:
        async with self.db.connect() as conn:
            row = (await conn.execute(sa.select(A).where(A.c.live_record == record_id))).first()
        return _appointment(row) if row is not None else None

    async def latest(self, record_id: str) -> Appointment | None:
        query = (
            sa.select(A)
            .where(A.c.record_id == record_id)
            .order_by(A.c.booked_at.desc(), A.c.id.desc())
            .limit(1)
        )
        async with self.db.connect() as conn:
            row = (await conn.execute(query)).first()
        return _appointment(row) if row is not None else None

    async def of_record(self, record_id: str) -> list[Appointment]:
        query = (
            sa.select(A)
            .where(A.c.record_id == record_id)
            .order_by(A.c.booked_at, A.c.start_at, A.c.id)
        )
        async with self.db.connect() as conn:
            rows = (await conn.execute(query)).all()
        return [_appointment(row) for row in rows]

    async def upcoming(self, since: datetime, limit: int) -> list[UpcomingRow]:
        query = (
            sa.select(A, db.records.c.full_name)
            .join(db.records, db.records.c.id == A.c.record_id)
            .where(A.c.status == Status.BOOKED.value, A.c.start_at >= since)
            .order_by(A.c.start_at, A.c.booked_at)
            .limit(limit)
        )
        async with self.db.connect() as conn:
            rows = (await conn.execute(query)).all()
        return [UpcomingRow(_appointment(r), r.full_name) for r in rows]

    async def booked_between(self, start: datetime, end: datetime) -> list[Appointment]:
        async with self.db.connect() as conn:
            rows = (
                await conn.execute(
                    sa.select(A)
                    .where(
                        A.c.status == Status.BOOKED.value,
                        A.c.start_at >= start,
                        A.c.start_at < end,
                    )
                    .order_by(A.c.start_at)
                )
            ).all()
            sent: dict[str, set[str]] = {}
            if rows:
                ids = [r.id for r in rows]
                for appointment_id, kind in (
                    await conn.execute(
                        sa.select(R.c.appointment_id, R.c.kind).where(R.c.appointment_id.in_(ids))
                    )
                ).all():
                    sent.setdefault(appointment_id, set()).add(kind)
        return [_appointment(r, frozenset(sent.get(r.id, ()))) for r in rows]

    # -- changes -----------------------------------------------------------------------------

    def _insert_ignore(self, table: sa.Table, **values: Any) -> Any:
        insert = postgresql.insert if self.db.dialect == "postgresql" else sqlite.insert
        return insert(table).values(**values).on_conflict_do_nothing()

    async def book(self, appointment: Appointment, capacity: int, event: DomainEvent) -> None:
        try:
            async with self.db.begin() as conn:
                await conn.execute(self._insert_ignore(S, start_at=appointment.start, booked=0))
                taken = await conn.execute(
                    S.update()
                    .where(S.c.start_at == appointment.start, S.c.booked < capacity)
                    .values(booked=S.c.booked + 1)
                )
                if taken.rowcount != 1:
                    raise Conflict("that time is fully booked", code="slot_full", field="start")
                await conn.execute(
                    A.insert().values(
                        id=appointment.id,
                        record_id=appointment.record_id,
                        live_record=appointment.record_id,
                        start_at=appointment.start,
                        end_at=appointment.end,
                        status=appointment.status.value,
                        zone=appointment.zone,
                        booked_at=appointment.booked_at,
                        updated_at=appointment.updated_at,
                    )
                )
                await _note_and_event(conn, event, "appointment_booked", "participant")
        except IntegrityError:
            raise Conflict(
                "you already have an appointment; cancel it to book another",
                code="appointment_exists",
            ) from None

    async def release(
        self,
        appointment: Appointment,
        *,
        status: str,
        actor: str,
        now: datetime,
        event: DomainEvent,
    ) -> Appointment | None:
        async with self.db.begin() as conn:
            changed = await conn.execute(
                A.update()
                .where(A.c.id == appointment.id, A.c.status == Status.BOOKED.value)
                .values(status=status, live_record=None, updated_at=now)
            )
            if changed.rowcount != 1:
                return None
            await conn.execute(
                S.update()
                .where(S.c.start_at == appointment.start, S.c.booked > 0)
                .values(booked=S.c.booked - 1)
            )
            await _note_and_event(conn, event, f"appointment_{status}", actor)
            row = (await conn.execute(sa.select(A).where(A.c.id == appointment.id))).one()
        return _appointment(row)

    async def attend(self, appointment_id: str, now: datetime) -> bool:
        async with self.db.begin() as conn:
            changed = await conn.execute(
                A.update()
                .where(A.c.id == appointment_id, A.c.status == Status.BOOKED.value)
                .values(status=Status.ATTENDED.value, live_record=None, updated_at=now)
            )
            if changed.rowcount != 1:
                return False
            row = (await conn.execute(sa.select(A).where(A.c.id == appointment_id))).one()
            await _note(
                conn, row.record_id, "appointment_attended", "system", now, row.id, row.start_at
            )
        return True

    async def remind(self, appointment_id: str, kind: str, event: DomainEvent) -> bool:
        async with self.db.begin() as conn:
            done = await conn.execute(
                self._insert_ignore(
                    R, appointment_id=appointment_id, kind=kind, sent_at=event.occurred_at
                )
            )
            if done.rowcount != 1:
                return False
            await _write_event(conn, event)
        return True


async def _write_event(conn: AsyncConnection, event: DomainEvent) -> None:
    reference = await conn.scalar(
        sa.select(db.records.c.reference).where(db.records.c.id == event.record_id)
    )
    await conn.execute(
        db.outbox_events.insert().values(
            id=event.id,
            record_id=event.record_id,
            type=event.type,
            occurred_at=event.occurred_at,
            data={**event.data, "reference": reference},
        )
    )


async def _note(
    conn: AsyncConnection,
    record_id: str,
    action: str,
    actor: str,
    now: datetime,
    appointment_id: str,
    start: datetime | str,
) -> None:
    """A history note on the record (its state unchanged)."""
    state = await conn.scalar(sa.select(db.records.c.state).where(db.records.c.id == record_id))
    await conn.execute(
        db.record_history.insert().values(
            record_id=record_id,
            at=now,
            actor=actor,
            action=action,
            from_state=state,
            to_state=state,
            detail={
                "appointment_id": appointment_id,
                "start": start if isinstance(start, str) else iso_z(start),
            },
        )
    )


async def _note_and_event(
    conn: AsyncConnection, event: DomainEvent, action: str, actor: str
) -> None:
    """The record's history note and the outbox event."""
    data = event.data
    await _note(
        conn,
        event.record_id,
        action,
        actor,
        event.occurred_at,
        data["appointment_id"],
        data["start"],
    )
    await _write_event(conn, event)
