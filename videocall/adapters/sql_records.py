"""Verification records on SQLAlchemy (SQLite or PostgreSQL).

A record, its new history entries and its outbox events are written in ONE transaction, guarded by
an optimistic version check, so a change is never half-stored and an event never escapes for a
change that did not commit.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from videocall.adapters import db
from videocall.errors import Conflict, NotFound
from videocall.nik import Sex
from videocall.ports import StoredDocument
from videocall.records import DocumentKind, HistoryEntry, Record, RecordState
from videocall.reference import new_reference

# Drawing a reference that is taken is a one-in-billions event; a few tries are plenty.
REFERENCE_ATTEMPTS = 5


# Uploads of one record's photos in parallel: each attempt that fails the version check lost to
# one that committed, so a few attempts always suffice for the three kinds.
PUT_DOCUMENT_ATTEMPTS = 5


class Database:
    """The engine plus the few things every SQL adapter needs."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    @classmethod
    def from_url(cls, url: str) -> Database:
        return cls(db.make_engine(url))

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def begin(self) -> Any:
        return self.engine.begin()

    def connect(self) -> Any:
        return self.engine.connect()

    async def ping(self) -> None:
        async with self.engine.connect() as conn:
            await conn.execute(sa.text("SELECT 1"))

    async def close(self) -> None:
        await self.engine.dispose()


def _record_values(record: Record) -> dict[str, Any]:
    return {
        "nik": record.nik,
        "live_nik": record.nik if record.is_live else None,
        "mobile": record.mobile,
        "email": record.email,
        "state": record.state.value,
        "full_name": record.full_name,
        "birth_date": record.birth_date,
        "sex": record.sex.value if record.sex else None,
        "nik_birth_date": record.nik_birth_date,
        "nik_sex": record.nik_sex.value,
        "consent_at": record.consent_at,
        "due_at": record.due_at,
        "created_at": record.created_at,
        "updated_at": record.updated_at,
    }


def _history_from_row(row: Any) -> HistoryEntry:
    return HistoryEntry(
        at=row.at,
        actor=row.actor,
        action=row.action,
        from_state=RecordState(row.from_state) if row.from_state else None,
        to_state=RecordState(row.to_state) if row.to_state else None,
        reason=row.reason,
        detail=row.detail,
    )


def _document_from_row(row: Any) -> StoredDocument:
    return StoredDocument(
        record_id=row.record_id,
        kind=DocumentKind(row.kind),
        sha256=row.sha256,
        content_type=row.content_type,
        width=row.width,
        height=row.height,
        size_bytes=row.size_bytes,
        metrics=row.metrics,
        verdicts=row.verdicts,
        uploaded_at=row.uploaded_at,
    )


async def write_pending(conn: AsyncConnection, record: Record) -> None:
    """Append the record's new history entries and outbox events on ``conn``."""
    if record.pending_history:
        await conn.execute(
            db.record_history.insert(),
            [
                {
                    "record_id": record.id,
                    "at": e.at,
                    "actor": e.actor,
                    "action": e.action,
                    "from_state": e.from_state.value if e.from_state else None,
                    "to_state": e.to_state.value if e.to_state else None,
                    "reason": e.reason,
                    "detail": e.detail,
                }
                for e in record.pending_history
            ],
        )
    if record.pending_events:
        await conn.execute(
            db.outbox_events.insert(),
            [
                {
                    "id": ev.id,
                    "record_id": ev.record_id,
                    "type": ev.type,
                    "occurred_at": ev.occurred_at,
                    "data": ev.data,
                }
                for ev in record.pending_events
            ],
        )


class SqlRecordRepository:
    def __init__(self, database: Database) -> None:
        self.db = database

    async def add(self, record: Record) -> None:
        for _attempt in range(REFERENCE_ATTEMPTS):
            try:
                async with self.db.begin() as conn:
                    await conn.execute(
                        db.records.insert().values(
                            id=record.id,
                            version=0,
                            reference=record.reference,
                            **_record_values(record),
                        )
                    )
                    await write_pending(conn, record)
                break
            except IntegrityError:
                if not await self._reference_taken(record.reference):
                    raise Conflict(
                        "a live verification record already exists for this NIK",
                        code="nik_registered",
                        field="nik",
                    ) from None
                record.change_reference(new_reference())
        else:
            raise Conflict("no free reference found", code="reference_exhausted")
        record.pending_history.clear()
        record.pending_events.clear()

    async def _reference_taken(self, reference: str) -> bool:
        async with self.db.connect() as conn:
            query = sa.select(db.records.c.id).where(db.records.c.reference == reference)
            return (await conn.execute(query)).first() is not None

    async def load(
        self, conn: AsyncConnection, record_id: str, *, for_update: bool = False
    ) -> Record:
        query = sa.select(db.records).where(db.records.c.id == record_id)
        if for_update and self.db.dialect == "postgresql":
            query = query.with_for_update()
        row = (await conn.execute(query)).first()
        if row is None:
            raise NotFound("no such verification record", code="record_not_found")
        kinds = (
            await conn.execute(
                sa.select(db.documents.c.kind).where(db.documents.c.record_id == record_id)
            )
        ).scalars()
        history = (
            await conn.execute(
                sa.select(db.record_history)
                .where(db.record_history.c.record_id == record_id)
                .order_by(db.record_history.c.id)
            )
        ).all()
        return Record(
            id=row.id,
            nik=row.nik,
            mobile=row.mobile,
            email=row.email,
            state=RecordState(row.state),
            created_at=row.created_at,
            updated_at=row.updated_at,
            nik_birth_date=row.nik_birth_date,
            nik_sex=Sex(row.nik_sex),
            full_name=row.full_name,
            birth_date=row.birth_date,
            sex=Sex(row.sex) if row.sex else None,
            documents={DocumentKind(k) for k in kinds},
            consent_at=row.consent_at,
            due_at=row.due_at,
            reference=row.reference,
            version=row.version,
            history=[_history_from_row(h) for h in history],
        )

    async def get(self, record_id: str) -> Record:
        async with self.db.connect() as conn:
            return await self.load(conn, record_id)

    async def store(self, conn: AsyncConnection, record: Record) -> None:
        """Save ``record`` on an open transaction; Conflict if someone saved it meanwhile."""
        try:
            result = await conn.execute(
                db.records.update()
                .where(db.records.c.id == record.id, db.records.c.version == record.version)
                .values(version=record.version + 1, **_record_values(record))
            )
        except IntegrityError:
            raise Conflict(
                "a live verification record already exists for this NIK", code="nik_registered"
            ) from None
        if result.rowcount != 1:
            raise Conflict("the record was changed meanwhile; try again", code="concurrent_update")
        await write_pending(conn, record)
        record.version += 1

    @asynccontextmanager
    async def edit_on(self, conn: AsyncConnection, record_id: str) -> AsyncIterator[Record]:
        """Edit within a caller's transaction (to store other rows atomically with it)."""
        record = await self.load(conn, record_id, for_update=True)
        yield record
        await self.store(conn, record)

    @asynccontextmanager
    async def edit(self, record_id: str) -> AsyncIterator[Record]:
        async with self.db.begin() as conn, self.edit_on(conn, record_id) as record:
            yield record
        record.pending_history.clear()
        record.pending_events.clear()

    async def append_note(
        self,
        record_id: str,
        action: str,
        *,
        actor: str,
        now: Any,
        reason: str | None = None,
        detail: dict[str, Any] | None = None,
    ) -> None:
        """An audit entry that changes nothing else: no version bump, so readers that log their
        reads (documents, snapshots, recordings) never collide with each other or with edits."""
        async with self.db.begin() as conn:
            state = await conn.scalar(
                sa.select(db.records.c.state).where(db.records.c.id == record_id)
            )
            if state is None:
                raise NotFound("no such verification record", code="record_not_found")
            await conn.execute(
                db.record_history.insert().values(
                    record_id=record_id,
                    at=now,
                    actor=actor,
                    action=action,
                    from_state=state,
                    to_state=state,
                    reason=reason,
                    detail=detail,
                )
            )

    async def history(self, record_id: str) -> list[HistoryEntry]:
        return (await self.get(record_id)).history

    async def documents(self, record_id: str) -> list[StoredDocument]:
        async with self.db.connect() as conn:
            rows = (
                await conn.execute(
                    sa.select(db.documents)
                    .where(db.documents.c.record_id == record_id)
                    .order_by(db.documents.c.kind)
                )
            ).all()
        return [_document_from_row(r) for r in rows]

    async def outbox_events(self, record_id: str) -> list[dict[str, Any]]:
        """The record's events in the order they happened (what the webhooks carry)."""
        async with self.db.connect() as conn:
            rows = (
                await conn.execute(
                    sa.select(db.outbox_events)
                    .where(db.outbox_events.c.record_id == record_id)
                    .order_by(db.outbox_events.c.seq)
                )
            ).all()
        return [
            {
                "id": r.id,
                "type": r.type,
                "record_id": r.record_id,
                "occurred_at": r.occurred_at.isoformat(),
                "data": r.data,
            }
            for r in rows
        ]

    async def document_in_use(self, sha256: str) -> bool:
        async with self.db.connect() as conn:
            count = await conn.scalar(
                sa.select(sa.func.count())
                .select_from(db.documents)
                .where(db.documents.c.sha256 == sha256)
            )
        return bool(count)

    async def put_document(self, record_id: str, doc: StoredDocument, mutate: Any) -> str | None:
        """Upsert one document row and apply ``mutate(record)`` in the same transaction.

        Photos of different kinds uploaded at once all land: on SQLite the record is read before
        the write lock is taken, so a parallel upload that committed first makes the version check
        fail; the whole transaction is then run again on the fresh record (``mutate`` applied
        anew). PostgreSQL serialises them on ``FOR UPDATE`` already.

        Returns the sha256 of the file this upload replaced, if any."""
        for attempt in range(1, PUT_DOCUMENT_ATTEMPTS + 1):
            try:
                return await self._put_document_once(record_id, doc, mutate)
            except Conflict as exc:
                if exc.code != "concurrent_update" or attempt == PUT_DOCUMENT_ATTEMPTS:
                    raise
        raise AssertionError("unreachable")

    async def _put_document_once(
        self, record_id: str, doc: StoredDocument, mutate: Any
    ) -> str | None:
        async with self.db.begin() as conn:
            async with self.edit_on(conn, record_id) as record:
                mutate(record)
            previous = await conn.scalar(
                sa.select(db.documents.c.sha256).where(
                    db.documents.c.record_id == record_id, db.documents.c.kind == doc.kind.value
                )
            )
            await conn.execute(
                db.documents.delete().where(
                    db.documents.c.record_id == record_id, db.documents.c.kind == doc.kind.value
                )
            )
            await conn.execute(
                db.documents.insert().values(
                    record_id=record_id,
                    kind=doc.kind.value,
                    sha256=doc.sha256,
                    content_type=doc.content_type,
                    width=doc.width,
                    height=doc.height,
                    size_bytes=doc.size_bytes,
                    metrics=doc.metrics,
                    verdicts=doc.verdicts,
                    uploaded_at=doc.uploaded_at,
                )
            )
        return previous if previous != doc.sha256 else None

    async def list_by_state(self, state: RecordState, limit: int = 200) -> list[dict[str, Any]]:
        async with self.db.connect() as conn:
            rows = (
                await conn.execute(
                    sa.select(db.records)
                    .where(db.records.c.state == state.value)
                    .order_by(db.records.c.due_at.asc(), db.records.c.updated_at.asc())
                    .limit(limit)
                )
            ).all()
        return [dict(r._mapping) for r in rows]
