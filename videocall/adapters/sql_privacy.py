"""Deletion requests on SQLAlchemy, and carrying one out.

Carrying out is ONE transaction around the locked record (as the retention job does): document
rows, assist readings and the call sessions' media listings go, files are unlinked before the
commit (idempotent: a crash leaves the request pending and the next approval finishes the work),
the record is reduced, its history gets the audit entry and the outbox the webhook event, and the
request is marked done. The request rows themselves are the audit and are never deleted.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from videocall.adapters import db
from videocall.adapters.files import FileBlobStore
from videocall.adapters.retention_job import session_files
from videocall.adapters.sql_assist import assist_readings
from videocall.adapters.sql_handoff import handoff_links
from videocall.adapters.sql_records import Database, SqlRecordRepository
from videocall.errors import Conflict, NotFound
from videocall.privacy import (
    REFUSED_ACTION,
    REQUESTED_ACTION,
    DeletionStatus,
    change_hold,
    check_not_held,
    check_pending,
    due_at,
    is_overdue,
    reduce_record,
)

# Declared on the shared metadata; created by migration 0007_privacy.
deletion_requests = sa.Table(
    "deletion_requests",
    db.metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("record_id", sa.String(36), sa.ForeignKey("records.id"), nullable=False, index=True),
    sa.Column("requested_by", sa.String(100), nullable=False),
    sa.Column("requested_at", db.UTCDateTime, nullable=False),
    sa.Column("reason", sa.String(200)),
    sa.Column("due_at", db.UTCDateTime, nullable=False),
    sa.Column("status", sa.String(16), nullable=False, index=True),
    sa.Column("reviewed_by", sa.String(100)),
    sa.Column("reviewed_at", db.UTCDateTime),
    sa.Column("review_reason", sa.String(200)),
    sa.Column("deleted", db.JSON),  # how many files of each kind were deleted
)
OPEN_CALL_STATES = ("active", "awaiting_decision")


@dataclass(frozen=True, slots=True)
class DeletionRequest:
    id: str
    record_id: str
    requested_by: str
    requested_at: datetime
    reason: str | None
    due_at: datetime
    status: DeletionStatus
    reviewed_by: str | None
    reviewed_at: datetime | None
    review_reason: str | None
    deleted: dict[str, int] | None

    def public(self, now: datetime) -> dict[str, Any]:
        def iso(v: datetime | None) -> str | None:
            return v.isoformat() if v else None

        return {
            "id": self.id,
            "record_id": self.record_id,
            "requested_by": self.requested_by,
            "requested_at": self.requested_at.isoformat(),
            "reason": self.reason,
            "due_at": self.due_at.isoformat(),
            "status": self.status.value,
            "overdue": is_overdue(self.status, self.requested_at, now),
            "reviewed_by": self.reviewed_by,
            "reviewed_at": iso(self.reviewed_at),
            "review_reason": self.review_reason,
            "deleted": self.deleted,
        }


def _row(row: Any) -> DeletionRequest:
    return DeletionRequest(
        row.id,
        row.record_id,
        row.requested_by,
        row.requested_at,
        row.reason,
        row.due_at,
        DeletionStatus(row.status),
        row.reviewed_by,
        row.reviewed_at,
        row.review_reason,
        row.deleted,
    )


def _unlink_all(paths: Sequence[Path]) -> int:
    for path in paths:
        path.unlink(missing_ok=True)
    return len(paths)


class SqlPrivacy:
    def __init__(
        self,
        database: Database,
        records: SqlRecordRepository,
        blobs: FileBlobStore,
        media_dirs: Sequence[tuple[str, Path]],  # ("recordings", dir), ("snapshots", dir)
    ) -> None:
        self.db = database
        self.records = records
        self.blobs = blobs
        self.media_dirs = media_dirs

    async def request(
        self, record_id: str, *, actor: str, reason: str | None, now: datetime
    ) -> DeletionRequest:
        """Record a request (one open request per record) and note it in the history."""
        T = deletion_requests
        request_id = str(uuid.uuid4())
        async with self.db.begin() as conn, self.records.edit_on(conn, record_id) as record:
            pending = await conn.scalar(
                sa.select(T.c.id).where(T.c.record_id == record_id, T.c.status == "pending")
            )
            if pending is not None:
                raise Conflict("a deletion request is open already", code="deletion_request_open")
            await conn.execute(
                T.insert().values(
                    id=request_id,
                    record_id=record_id,
                    requested_by=actor,
                    requested_at=now,
                    reason=reason,
                    due_at=due_at(now),
                    status=DeletionStatus.PENDING.value,
                )
            )
            record.note(
                REQUESTED_ACTION,
                actor=actor,
                now=now,
                reason=reason,
                detail={"request_id": request_id},
            )
        return await self.get(request_id)

    async def get(self, request_id: str) -> DeletionRequest:
        async with self.db.connect() as conn:
            row = (
                await conn.execute(
                    deletion_requests.select().where(deletion_requests.c.id == request_id)
                )
            ).first()
        if row is None:
            raise NotFound("no such deletion request", code="deletion_request_not_found")
        return _row(row)

    async def for_record(self, record_id: str) -> list[DeletionRequest]:
        T = deletion_requests
        async with self.db.connect() as conn:
            rows = await conn.execute(
                T.select().where(T.c.record_id == record_id).order_by(T.c.requested_at.desc())
            )
            return [_row(r) for r in rows]

    async def listing(self, limit: int = 200) -> list[DeletionRequest]:
        """Open requests first (oldest first), then the latest closed ones."""
        T = deletion_requests
        order = sa.case((T.c.status == "pending", 0), else_=1)
        async with self.db.connect() as conn:
            rows = await conn.execute(T.select().order_by(order, T.c.requested_at).limit(limit))
            return [_row(r) for r in rows]

    async def refuse(
        self, request_id: str, *, actor: str, reason: str, now: datetime
    ) -> DeletionRequest:
        current = await self.get(request_id)
        async with self.db.begin() as conn, self.records.edit_on(conn, current.record_id) as record:
            await self._close(conn, request_id, DeletionStatus.REFUSED, actor, now, reason, None)
            record.note(
                REFUSED_ACTION,
                actor=actor,
                now=now,
                reason=reason,
                detail={"request_id": request_id},
            )
        return await self.get(request_id)

    async def carry_out(self, request_id: str, *, actor: str, now: datetime) -> DeletionRequest:
        """Approve and delete; Conflict while the record's call is live or awaits a decision."""
        current = await self.get(request_id)
        async with self.db.begin() as conn, self.records.edit_on(conn, current.record_id) as record:
            await self._check_open(conn, request_id)  # before any file goes
            check_not_held(record)
            deleted = await self._delete(conn, record.id)
            await self._close(conn, request_id, DeletionStatus.DONE, actor, now, None, deleted)
            reduce_record(record, actor=actor, now=now, request_id=request_id, deleted=deleted)
        return await self.get(request_id)

    async def set_hold(
        self, record_id: str, *, place: bool, actor: str, reason: str, now: datetime
    ) -> None:
        """Place or release the record's legal hold; written to its history."""
        async with self.records.edit(record_id) as record:
            change_hold(record, place=place, actor=actor, reason=reason, now=now)

    async def _close(
        self,
        conn: AsyncConnection,
        request_id: str,
        status: DeletionStatus,
        actor: str,
        now: datetime,
        reason: str | None,
        deleted: dict[str, int] | None,
    ) -> None:
        T = deletion_requests
        await self._check_open(conn, request_id)
        await conn.execute(
            T.update()
            .where(T.c.id == request_id)
            .values(
                status=status.value,
                reviewed_by=actor,
                reviewed_at=now,
                review_reason=reason,
                deleted=deleted,
            )
        )

    async def _check_open(self, conn: AsyncConnection, request_id: str) -> None:
        T = deletion_requests
        status = await conn.scalar(sa.select(T.c.status).where(T.c.id == request_id))
        if status is None:
            raise NotFound("no such deletion request", code="deletion_request_not_found")
        check_pending(DeletionStatus(str(status)))

    async def _delete(self, conn: AsyncConnection, record_id: str) -> dict[str, int]:
        S = db.call_sessions
        sessions = (
            await conn.execute(sa.select(S.c.id, S.c.state).where(S.c.record_id == record_id))
        ).all()
        if any(s.state in OPEN_CALL_STATES for s in sessions):
            raise Conflict("the call is still open; decide it first", code="deletion_call_open")
        counts = {"photos": await self._delete_documents(conn, record_id)}
        for kind, directory in self.media_dirs:
            counts[kind] = 0
            for s in sessions:
                paths = session_files(directory, s.id)
                counts[kind] += await asyncio.to_thread(_unlink_all, paths)
        if sessions:
            await conn.execute(
                S.update()
                .where(S.c.record_id == record_id)
                .values(
                    recording={"segments": [], "deleted": True}, snapshots=[], quality_series=None
                )
            )
        readings = await conn.execute(
            assist_readings.delete().where(assist_readings.c.record_id == record_id)
        )
        counts["assist_readings"] = readings.rowcount or 0
        await conn.execute(
            handoff_links.update()
            .where(handoff_links.c.record_id == record_id)
            .values(prefill=None)
        )
        return counts

    async def _delete_documents(self, conn: AsyncConnection, record_id: str) -> int:
        """Delete the record's document rows, and each photo file no other record still uses."""
        D = db.documents
        rows = (await conn.execute(sa.select(D.c.sha256).where(D.c.record_id == record_id))).all()
        await conn.execute(D.delete().where(D.c.record_id == record_id))
        for row in rows:
            shared = await conn.scalar(
                sa.select(sa.func.count()).select_from(D).where(D.c.sha256 == row.sha256)
            )
            if not shared:
                await self.blobs.delete(row.sha256)
        return len(rows)
