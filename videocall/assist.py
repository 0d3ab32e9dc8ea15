"""Officer assist, the use case: analyse each uploaded photo in the background (the KTP read, the
faces found) and put the readings beside the registered data, for the officer, the participant's
own NIK check and the decision's evidence. It never blocks the journey and never decides.

The service holds no framework: the store, the blobs, the worker pool and the analysis jobs
(``adapters/assist_jobs.py``) are handed in.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any, Protocol

from videocall.clock import Clock
from videocall.errors import Unavailable
from videocall.faces import Face, FaceScore, compare_all
from videocall.ktp import KtpFields, Registered, compare
from videocall.nik import Sex, mask_nik
from videocall.ports import BlobStore, CpuPool, RecordRepository

logger = logging.getLogger(__name__)

DOCUMENT_KINDS = ("ktp", "selfie_with_ktp", "face")
STALE_AFTER = timedelta(minutes=3)  # a run pending this long was lost with its process
NOTICE = "assist_only"  # shown as "bantuan, bukan keputusan"


class ReadingRow(Protocol):
    @property
    def status(self) -> str: ...
    @property
    def source(self) -> str: ...
    @property
    def result(self) -> dict[str, Any] | None: ...
    @property
    def updated_at(self) -> datetime: ...


class AssistStore(Protocol):
    async def start(
        self, record_id: str, subject: str, source: str, session_id: str | None, now: datetime
    ) -> bool: ...

    async def finish(
        self, record_id: str, subject: str, source: str, result: dict[str, Any], now: datetime
    ) -> bool: ...

    async def for_record(self, record_id: str) -> dict[str, Any]: ...

    async def session_snapshots(
        self, session_id: str
    ) -> tuple[str, list[dict[str, Any]]] | None: ...


@dataclass(frozen=True)
class Jobs:
    """The blocking analysis functions, run in the pool (module-level: picklable). Kept short
    (faces and OCR apart) so that an upload waiting for a worker waits for little."""

    faces: Callable[[str, bytes], dict[str, Any]]
    ocr: Callable[[bytes, date], dict[str, Any]]
    snapshot: Callable[[str], dict[str, Any]]


def _fields(result: dict[str, Any] | None) -> KtpFields | None:
    raw = ((result or {}).get("ocr") or {}).get("fields")
    if not raw:
        return None
    return KtpFields(
        nik=raw.get("nik"),
        nik_valid=bool(raw.get("nik_valid")),
        name=raw.get("name"),
        birth_place=raw.get("birth_place"),
        birth_date=date.fromisoformat(raw["birth_date"]) if raw.get("birth_date") else None,
        sex=Sex(raw["sex"]) if raw.get("sex") else None,
        address=raw.get("address"),
        province=raw.get("province"),
        regency=raw.get("regency"),
        extra=tuple((raw.get("extra") or {}).items()),
    )


def _faces(row: ReadingRow | None) -> list[Face] | None:
    """None while not analysed; [] when analysed and no face (or not a picture)."""
    if row is None or row.status != "done" or row.result is None:
        return None
    return [Face.from_dict(f) for f in row.result.get("faces") or []]


class AssistService:
    def __init__(
        self,
        store: AssistStore,
        records: RecordRepository,
        blobs: BlobStore,
        pool: CpuPool,
        clock: Clock,
        jobs: Jobs,
        snapshots_dir: Path,
    ) -> None:
        self.store, self.records, self.blobs, self.pool = store, records, blobs, pool
        self.clock, self.jobs, self.snapshots_dir = clock, jobs, snapshots_dir
        self._tasks: set[asyncio.Task[None]] = set()
        self._in_flight: set[tuple[str, str]] = set()  # (record, subject) being analysed here
        self._one_at_a_time = asyncio.Semaphore(1)
        self._again: dict[tuple[str, str], Callable[[], Awaitable[None]]] = {}
        self._closed = False

    # -- background analysis ---------------------------------------------------------------

    def schedule(self, record_id: str, kind: str) -> None:
        """Analyse the record's current ``kind`` document in the background."""
        self._spawn((record_id, kind), lambda: self.analyse_document(record_id, kind))

    def _spawn(self, key: tuple[str, str], make_job: Callable[[], Awaitable[None]]) -> None:
        """Start the job unless this process is closing. One job per subject at a time: asked
        again meanwhile (a newer upload), it runs once more after (the store's ``start`` keeps
        other processes from doing the same version twice)."""
        if self._closed:
            return
        if key in self._in_flight:
            self._again[key] = make_job
            return
        self._in_flight.add(key)
        task = asyncio.get_running_loop().create_task(self._guarded(make_job))
        self._tasks.add(task)

        def done(finished: asyncio.Task[None]) -> None:
            self._tasks.discard(finished)
            self._in_flight.discard(key)
            again = self._again.pop(key, None)
            if again is not None and not finished.cancelled():
                self._spawn(key, again)

        task.add_done_callback(done)

    @staticmethod
    async def _guarded(make_job: Callable[[], Awaitable[None]]) -> None:
        try:
            await make_job()  # made here: a task cancelled before it starts leaves no coroutine
        except asyncio.CancelledError:
            raise
        except Exception:  # a background aid: log it, never take the server down
            logger.exception("assist analysis failed")

    async def _run(self, fn: Callable[..., dict[str, Any]], *args: Any) -> dict[str, Any] | None:
        """The job's result; None when the pool refused it or lost its worker (the reading stays
        pending and is made again after ``STALE_AFTER``); a failing job is a result."""
        try:
            # One assist job at a time in the shared pool: uploads, which answer the participant,
            # never queue behind more than one, and a burst of analyses cannot fill the pool's
            # queue (which would refuse uploads as server_busy).
            async with self._one_at_a_time:
                return await self.pool.run(fn, *args)
        except asyncio.CancelledError:
            raise
        except Unavailable:
            logger.warning("assist analysis postponed: the CPU pool is busy")
            return None
        except Exception as exc:
            logger.warning("assist analysis failed: %s", type(exc).__name__)
            return {"faces": None, "unavailable": type(exc).__name__}

    async def analyse_document(self, record_id: str, kind: str) -> None:
        docs = {d.kind.value: d for d in await self.records.documents(record_id)}
        doc = docs.get(kind)
        if doc is None or not await self.store.start(
            record_id, kind, doc.sha256, None, self.clock.now()
        ):
            return
        data = await self.blobs.get(doc.sha256)
        result = await self._run(self.jobs.faces, kind, data)
        if result is not None and kind == "ktp":
            ocr = await self._run(self.jobs.ocr, data, self.clock.now().date())
            result = None if ocr is None else {**result, **ocr}
        if result is None:
            return
        await self.store.finish(record_id, kind, doc.sha256, result, self.clock.now())
        logger.info("assist: %s of record %s analysed", kind, record_id)

    async def analyse_snapshot(self, record_id: str, session_id: str, name: str) -> None:
        subject = f"snapshot:{name}"
        if not await self.store.start(record_id, subject, name, session_id, self.clock.now()):
            return
        path = self.snapshots_dir / Path(name).name  # a bare file name, never a path
        result = await self._run(self.jobs.snapshot, str(path))
        if result is None:
            return
        await self.store.finish(record_id, subject, name, result, self.clock.now())

    async def close(self) -> None:
        self._closed = True
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def idle(self) -> None:
        """Wait until the analyses under way have finished (tests, shutdown)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    # -- what people see -------------------------------------------------------------------

    async def _current_rows(self, record_id: str) -> dict[str, Any]:
        """The stored readings, with each document's row only when it is of the current upload;
        a document without a current analysis (just uploaded, or its run was lost) gets one."""
        rows = dict(await self.store.for_record(record_id))
        now = self.clock.now()
        for doc in await self.records.documents(record_id):
            kind = doc.kind.value
            row = rows.get(kind)
            if row is None or row.source != doc.sha256:
                rows[kind] = _Pending(doc.sha256, now)
                self.schedule(record_id, kind)
            elif row.status != "done" and row.updated_at < now - STALE_AFTER:
                self.schedule(record_id, kind)
        return rows

    async def participant_verdict(self, record_id: str) -> dict[str, Any]:
        """The participant's own KTP check: only whether the card's NIK is theirs."""
        rows = await self._current_rows(record_id)
        row = rows.get("ktp")
        if row is None:
            return {"ktp": {"status": "none"}}
        if row.status != "done":
            return {"ktp": {"status": "pending", "sha256": row.source}}
        record = await self.records.get(record_id)
        fields = _fields(row.result)
        nik = "unreadable"
        if fields is not None:
            nik = compare(fields, _registered(record), today=self.clock.now().date()).nik
        return {"ktp": {"status": "done", "sha256": row.source, "nik": nik}}

    async def _face_faces(
        self, record_id: str, rows: dict[str, Any], session_id: str | None
    ) -> list[tuple[str, list[Face] | None]]:
        if session_id is None:
            return []
        found = await self.store.session_snapshots(session_id)
        if found is None or found[0] != record_id:
            return []
        out = []
        for snap in found[1]:
            name = str(snap.get("file") or "")
            if not name or snap.get("kind") != "face":
                continue
            row = rows.get(f"snapshot:{name}")
            if row is None:
                subject = f"snapshot:{name}"
                self._spawn(
                    (record_id, subject),
                    partial(self.analyse_snapshot, record_id, session_id, name),
                )
            out.append((name, _faces(row)))
        return out

    async def readings(self, record_id: str, session_id: str | None = None) -> dict[str, Any]:
        """Everything the officer's panel shows: the card's reading against the registration
        and the face scores. Face snapshots of ``session_id`` not analysed yet are scheduled."""
        record = await self.records.get(record_id)
        rows = await self._current_rows(record_id)
        snapshots = await self._face_faces(record_id, rows, session_id)
        scores: list[FaceScore] = compare_all(
            _faces(rows.get("ktp")),
            _faces(rows.get("selfie_with_ktp")),
            _faces(rows.get("face")),
            snapshots,
        )
        return {
            "record_id": record_id,
            "session_id": session_id,
            "notice": NOTICE,
            "ktp": self._ktp_panel(record, rows.get("ktp")),
            "faces": [s.as_dict() for s in scores],
        }

    def _ktp_panel(self, record: Any, row: ReadingRow | None) -> dict[str, Any]:
        if row is None:
            return {"status": "none"}
        if row.status != "done":
            return {"status": "pending"}
        fields = _fields(row.result)
        if fields is None:
            return {"status": "done", "readable": False, "comparison": None, "read": None}
        comparison = compare(fields, _registered(record), today=self.clock.now().date())
        read = fields.as_dict()
        read["nik"] = mask_nik(fields.nik) if fields.nik else None  # staff reveal the full NIK
        return {
            "status": "done",
            "readable": comparison.nik != "unreadable" or fields.name is not None,
            "read": read,
            "comparison": comparison.as_dict(),
        }

    async def assist_summary(self, record_id: str, session_id: str | None) -> dict[str, Any]:
        """For the decision's evidence, the review and the webhook events: bands and checks,
        no embeddings and no full NIK."""
        panel = await self.readings(record_id, session_id)
        ktp = panel["ktp"]
        return {
            "notice": NOTICE,
            "ktp": {
                "status": ktp["status"],
                "comparison": ktp.get("comparison"),
            },
            "faces": panel["faces"],
        }


@dataclass(frozen=True)
class _Pending:
    """A document whose analysis is about to start."""

    source: str
    updated_at: datetime
    status: str = "pending"
    result: dict[str, Any] | None = None


def _registered(record: Any) -> Registered:
    return Registered(
        nik=record.nik,
        full_name=record.full_name,
        birth_date=record.birth_date,
        sex=record.sex,
    )
