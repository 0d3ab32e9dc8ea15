"""The periodic job that deletes the files of records past their retention period.

For each candidate record, in one transaction: lock the record (``SELECT ... FOR UPDATE`` on
PostgreSQL; SQLite has one writer and the version check), re-check with the pure rule against the
history read under that lock, delete the document rows and every file (photos no other record
shares, call snapshots, recording segments), and append one audit entry to the record's history.
That entry is also the "done" mark, so several processes may run the job at once: the second one
finds the entry and skips. Files go before the commit: a crash leaves no entry and the next run
finishes the work (deleting is idempotent); an entry never claims a deletion that did not happen.

A record under a legal hold (its last ``legal_hold_placed`` entry not followed by a
``legal_hold_released``) is left out of the candidates, so held records never fill a batch, and
the rule re-checks it under the lock (a hold placed meanwhile wins). Released, it is a candidate
again on the next pass.

Each pass also sweeps photo files that no document row references (an upload that crashed
between writing its file and committing its row): only files last written more than
``orphan_grace_seconds`` ago, so an upload in flight keeps its file.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncConnection

from videocall.adapters import db
from videocall.adapters.files import FileBlobStore
from videocall.adapters.sql_records import Database, SqlRecordRepository
from videocall.clock import Clock
from videocall.errors import Conflict
from videocall.privacy import HOLD_PLACED, HOLD_RELEASED
from videocall.records import Record
from videocall.retention import (
    PURGED_ACTION,
    RETENTION_ACTOR,
    RetentionPolicy,
    facts_from_history,
    is_due,
    purge_detail,
)

logger = logging.getLogger(__name__)

SESSION_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
# Far longer than any upload takes from writing its file to committing its row.
ORPHAN_GRACE_SECONDS = 3600.0


class _NotDue(Exception):
    """Someone else purged it meanwhile (or it changed): roll back, nothing to do."""


def session_files(directory: Path, session_id: str) -> list[Path]:
    """Files of one call session: recording segments and snapshots are named ``<session>-...``."""
    if not SESSION_ID.match(session_id) or not directory.is_dir():
        return []
    return [p for p in directory.glob(f"{session_id}-*") if p.is_file()]


def _unlink_all(paths: Sequence[Path]) -> int:
    for path in paths:
        path.unlink(missing_ok=True)
    return len(paths)


class RetentionJob:
    def __init__(
        self,
        database: Database,
        records: SqlRecordRepository,
        blobs: FileBlobStore,
        media_dirs: Sequence[tuple[str, Path]],  # (kind of file, directory) pairs
        policy: RetentionPolicy,
        clock: Clock,
        interval_seconds: float,
        batch: int = 50,
        orphan_grace_seconds: float = ORPHAN_GRACE_SECONDS,
    ) -> None:
        self.db = database
        self.records = records
        self.blobs = blobs
        self.media_dirs = media_dirs
        self.policy = policy
        self.clock = clock
        self.interval_seconds = interval_seconds
        self.batch = batch
        self.orphan_grace = timedelta(seconds=orphan_grace_seconds)
        self._task: asyncio.Task[None] | None = None

    # -- one pass ------------------------------------------------------------------------------

    async def run_once(self) -> list[str]:
        """Purge what is due now; returns the ids of the records purged by this call."""
        now = self.clock.now()
        purged = []
        for record_id in await self.candidates(now):
            if await self.purge(record_id, now):
                purged.append(record_id)
        return purged

    async def candidates(self, now: datetime) -> list[str]:
        """Final records old enough and not yet purged (the lock re-checks each exactly)."""
        R, H = db.records, db.record_history
        old_enough = sa.or_(
            *(
                sa.and_(R.c.state == state.value, R.c.updated_at <= cutoff)
                for state, cutoff in self.policy.cutoffs(now).items()
            )
        )
        done = sa.exists().where(H.c.record_id == R.c.id, H.c.action == PURGED_ACTION)
        query = (
            sa.select(R.c.id)
            .where(old_enough, ~done, ~self._held(R.c.id))
            .order_by(R.c.updated_at)
            .limit(self.batch)
        )
        async with self.db.connect() as conn:
            return list((await conn.execute(query)).scalars())

    @staticmethod
    def _held(record_id: sa.ColumnElement[str]) -> sa.ColumnElement[bool]:
        """A hold placed and not released after it (history ids grow in the order written)."""
        placed = db.record_history.alias("placed")
        released = db.record_history.alias("released")
        later_release = sa.exists().where(
            released.c.record_id == placed.c.record_id,
            released.c.action == HOLD_RELEASED,
            released.c.id > placed.c.id,
        )
        return sa.exists().where(
            placed.c.record_id == record_id, placed.c.action == HOLD_PLACED, ~later_release
        )

    async def purge(self, record_id: str, now: datetime) -> bool:
        try:
            async with self.db.begin() as conn, self.records.edit_on(conn, record_id) as record:
                facts = facts_from_history(record.id, record.state, record.history)
                if not is_due(facts, self.policy, now):
                    raise _NotDue
                await self._delete_files(conn, record, now)
        except _NotDue:
            return False
        except (Conflict, OperationalError) as exc:
            logger.info("retention: record %s taken by another process (%s)", record_id, exc)
            return False
        logger.info("retention: files of record %s deleted", record_id)
        return True

    async def _delete_files(self, conn: AsyncConnection, record: Record, now: datetime) -> None:
        kinds = await self._delete_documents(conn, record.id)
        session_ids = (
            await conn.execute(
                sa.select(db.call_sessions.c.id).where(db.call_sessions.c.record_id == record.id)
            )
        ).scalars()
        counts = {"photo": len(kinds)} | {kind: 0 for kind, _ in self.media_dirs}
        for sid in list(session_ids):
            for kind, directory in self.media_dirs:
                paths = session_files(directory, sid)
                counts[kind] += await asyncio.to_thread(_unlink_all, paths)
        detail = purge_detail(record.state, self.policy, kinds, counts)
        record.note(PURGED_ACTION, actor=RETENTION_ACTOR, now=now, detail=detail)

    async def _delete_documents(self, conn: AsyncConnection, record_id: str) -> list[str]:
        """Delete the record's document rows, and each photo file no other record still uses."""
        D = db.documents
        rows = (
            await conn.execute(sa.select(D.c.kind, D.c.sha256).where(D.c.record_id == record_id))
        ).all()
        await conn.execute(D.delete().where(D.c.record_id == record_id))
        for row in rows:
            shared = await conn.scalar(
                sa.select(sa.func.count()).select_from(D).where(D.c.sha256 == row.sha256)
            )
            if not shared:
                await self.blobs.delete(row.sha256)
        return [row.kind for row in rows]

    # -- orphan photo files ----------------------------------------------------------------------

    async def sweep_orphans(self, now: datetime) -> list[str]:
        """Delete photo files older than the grace period that no document row references;
        returns their sha256."""
        cutoff = now - self.orphan_grace
        old = [sha for sha, written in await self.blobs.listing() if written < cutoff]
        removed = []
        for start in range(0, len(old), 500):
            chunk = old[start : start + 500]
            for sha in set(chunk) - await self._referenced(chunk):
                if await self.blobs.delete_if_older(sha, cutoff):
                    removed.append(sha)
        if removed:
            logger.info("retention: %d unreferenced photo file(s) deleted", len(removed))
        return removed

    async def _referenced(self, shas: Sequence[str]) -> set[str]:
        D = db.documents
        async with self.db.connect() as conn:
            rows = await conn.execute(sa.select(D.c.sha256).where(D.c.sha256.in_(shas)))
            return set(rows.scalars())

    # -- the loop ------------------------------------------------------------------------------

    def start(self) -> None:
        """Run every ``interval_seconds`` (a non-positive interval: never); safe to call twice."""
        if self._task is None and self.interval_seconds > 0:
            self._task = asyncio.create_task(self._loop(), name="retention-job")

    async def _loop(self) -> None:
        # Wait first: a fleet restarting together does not all scan at once.
        while True:
            await asyncio.sleep(self.interval_seconds)
            try:
                purged = await self.run_once()
                if purged:
                    logger.info("retention: %d record(s) purged", len(purged))
                await self.sweep_orphans(self.clock.now())
            except Exception:
                logger.exception("retention pass failed; next try in %.0f s", self.interval_seconds)

    async def close(self) -> None:
        """Stop the loop; safe to call twice."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                pass
