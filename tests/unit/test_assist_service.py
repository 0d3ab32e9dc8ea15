"""The assist use case with fakes of its ports (store, records, blobs, pool, jobs): background
analysis per upload, the newest upload wins, a lost run starts again, a failing job is a result."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from pathlib import Path
from typing import Any

from tests.support import SettableClock
from videocall.assist import AssistService, Jobs
from videocall.errors import Unavailable
from videocall.nik import Sex
from videocall.ports import StoredDocument
from videocall.records import DocumentKind

NIK = "3204095708900003"


@dataclass
class Row:
    source: str
    status: str
    result: dict[str, Any] | None
    updated_at: datetime
    session_id: str | None = None


@dataclass
class FakeStore:
    rows: dict[tuple[str, str], Row] = field(default_factory=dict)
    snapshots: dict[str, tuple[str, list[dict[str, Any]]]] = field(default_factory=dict)

    async def start(
        self, record_id: str, subject: str, source: str, session_id: str | None, now: datetime
    ) -> bool:
        row = self.rows.get((record_id, subject))
        if row is not None and row.source == source:
            if row.status == "done" or (now - row.updated_at).total_seconds() < 180:
                return False
        self.rows[(record_id, subject)] = Row(source, "pending", None, now, session_id)
        return True

    async def finish(
        self, record_id: str, subject: str, source: str, result: dict[str, Any], now: datetime
    ) -> bool:
        row = self.rows.get((record_id, subject))
        if row is None or row.source != source:
            return False
        self.rows[(record_id, subject)] = replace(row, status="done", result=result)
        return True

    async def for_record(self, record_id: str) -> dict[str, Any]:
        return {s: row for (r, s), row in self.rows.items() if r == record_id}

    async def session_snapshots(self, session_id: str) -> tuple[str, list[dict[str, Any]]] | None:
        return self.snapshots.get(session_id)


@dataclass
class Person:
    nik: str = NIK
    full_name: str | None = "Siti Nurhaliza"
    birth_date: date | None = date(1990, 8, 17)
    sex: Sex | None = Sex.FEMALE


class FakeRecords:
    def __init__(self, clock: SettableClock) -> None:
        self.clock = clock
        self.docs: dict[str, StoredDocument] = {}

    def upload(self, kind: str, sha: str) -> None:
        self.docs[kind] = StoredDocument(
            "r1", DocumentKind(kind), sha, "image/jpeg", 800, 600, 1, {}, [], self.clock.now()
        )

    async def get(self, record_id: str) -> Person:
        return Person()

    async def documents(self, record_id: str) -> list[StoredDocument]:
        return list(self.docs.values())


class FakeBlobs:
    async def get(self, sha256: str) -> bytes:
        return sha256.encode()


class InlinePool:
    busy = False

    async def run(self, fn: Any, /, *args: Any) -> Any:
        if self.busy:
            raise Unavailable("the server is busy", code="server_busy")
        return fn(*args)


def embedding(x: float) -> list[float]:
    return [x] + [0.0] * 127


def fake_faces(kind: str, data: bytes) -> dict[str, Any]:
    """The photo's bytes are its SHA here: 'nik:<digits>' KTPs, 'boom' fails."""
    if data == b"boom":
        raise RuntimeError("worker died")
    return {"faces": [{"box": [0, 0, 100, 100], "embedding": embedding(0.1)}]}


def fake_ocr(data: bytes, today: date) -> dict[str, Any]:
    if data == b"boom":
        raise RuntimeError("worker died")
    nik = data.decode().removeprefix("nik:")
    return {"ocr": {"fields": {"nik": nik, "nik_valid": True, "name": "SITI NURHALIZA"}}}


def fake_snapshot(path: str) -> dict[str, Any]:
    return {"faces": [{"box": [0, 0, 50, 50], "embedding": embedding(0.9)}]}


def make(
    pool: InlinePool | None = None,
) -> tuple[AssistService, FakeStore, FakeRecords, SettableClock]:
    clock = SettableClock()
    store, records = FakeStore(), FakeRecords(clock)
    service = AssistService(
        store,
        records,  # type: ignore[arg-type]
        FakeBlobs(),  # type: ignore[arg-type]
        pool or InlinePool(),
        clock,
        Jobs(faces=fake_faces, ocr=fake_ocr, snapshot=fake_snapshot),
        Path("/nowhere"),
    )
    return service, store, records, clock


async def test_upload_is_analysed_in_the_background_and_compared() -> None:
    service, _store, records, _clock = make()
    assert await service.participant_verdict("r1") == {"ktp": {"status": "none"}}
    records.upload("ktp", "nik:3204095708900013")
    service.schedule("r1", "ktp")
    await service.idle()
    verdict = await service.participant_verdict("r1")
    assert verdict["ktp"]["nik"] == "mismatch"
    # The retake: until its own analysis is done, the old verdict is not shown.
    records.upload("ktp", f"nik:{NIK}")
    assert (await service.participant_verdict("r1"))["ktp"]["status"] == "pending"
    await service.idle()
    assert (await service.participant_verdict("r1"))["ktp"] == {
        "status": "done",
        "sha256": f"nik:{NIK}",
        "nik": "match",
    }
    await service.close()


async def test_the_same_version_is_analysed_once_and_a_lost_run_again() -> None:
    service, store, records, clock = make()
    records.upload("face", "face-1")
    store.rows[("r1", "face")] = Row("face-1", "pending", None, clock.now())  # under way
    service.schedule("r1", "face")
    await service.idle()
    assert store.rows[("r1", "face")].status == "pending"
    clock.advance(600)  # that run was lost with its process
    await service.readings("r1")
    await service.idle()
    assert store.rows[("r1", "face")].status == "done"
    await service.close()


async def test_a_failing_job_is_a_result_not_a_crash() -> None:
    service, store, records, _clock = make()
    records.upload("ktp", "boom")
    service.schedule("r1", "ktp")
    await service.idle()
    row = store.rows[("r1", "ktp")]
    assert row.status == "done" and row.result == {"faces": None, "unavailable": "RuntimeError"}
    assert (await service.participant_verdict("r1"))["ktp"]["nik"] == "unreadable"
    panel = await service.readings("r1")
    assert panel["ktp"] == {"status": "done", "readable": False, "comparison": None, "read": None}
    await service.close()


async def test_a_busy_pool_postpones_the_reading() -> None:
    pool = InlinePool()
    pool.busy = True
    service, _store, records, clock = make(pool)
    records.upload("ktp", f"nik:{NIK}")
    service.schedule("r1", "ktp")
    await service.idle()
    assert (await service.participant_verdict("r1"))["ktp"]["status"] == "pending"
    pool.busy = False
    clock.advance(600)
    await service.participant_verdict("r1")  # looking again starts it again
    await service.idle()
    assert (await service.participant_verdict("r1"))["ktp"]["nik"] == "match"
    await service.close()


async def test_officer_panel_with_snapshots_and_summary() -> None:
    service, store, records, _clock = make()
    for kind in ("ktp", "selfie_with_ktp", "face"):
        records.upload(kind, f"nik:{NIK}" if kind == "ktp" else kind)
        service.schedule("r1", kind)
    store.snapshots["s1"] = ("r1", [{"kind": "face", "file": "s1-001-face.jpg"}])
    await service.idle()
    first = await service.readings("r1", "s1")  # schedules the snapshot
    assert [f["status"] for f in first["faces"]][-1] == "pending"
    await service.idle()
    panel = await service.readings("r1", "s1")
    assert panel["notice"] == "assist_only"
    assert panel["ktp"]["read"]["nik"] == "3204********0003"
    bands = {f["pair"]: f for f in panel["faces"]}
    assert bands["ktp_vs_face"]["band"] == "similar"
    assert bands["selfie_person_vs_card"]["status"] == "no_face"  # one face in the selfie
    assert bands["snapshot_vs_ktp"]["band"] == "not_similar"  # 0.8 apart
    # Another record's session is not shown.
    assert len((await service.readings("r2", "s1"))["faces"]) == 2
    summary = await service.assist_summary("r1", "s1")
    assert NIK not in str(summary) and "embedding" not in str(summary)
    await service.close()


async def test_an_upload_during_an_analysis_is_analysed_after_it() -> None:
    service, store, records, _clock = make()
    records.upload("ktp", "nik:3204095708900013")
    service.schedule("r1", "ktp")
    records.upload("ktp", f"nik:{NIK}")  # the retake lands while the first is analysed
    service.schedule("r1", "ktp")
    await service.idle()
    assert store.rows[("r1", "ktp")].source == f"nik:{NIK}"
    assert (await service.participant_verdict("r1"))["ktp"]["nik"] == "match"
    await service.close()


async def test_closed_service_starts_nothing() -> None:
    service, store, records, _clock = make()
    await service.close()
    records.upload("face", "face-1")
    service.schedule("r1", "face")
    await asyncio.sleep(0)
    assert store.rows == {}


class CountingPool(InlinePool):
    def __init__(self) -> None:
        self.running = self.most = 0

    async def run(self, fn: Any, /, *args: Any) -> Any:
        self.running += 1
        self.most = max(self.most, self.running)
        await asyncio.sleep(0.01)  # the job takes a while in its worker
        self.running -= 1
        return fn(*args)


async def test_one_assist_job_at_a_time_in_the_shared_pool() -> None:
    """Uploads share the pool: assist work never holds more than one of its places."""
    pool = CountingPool()
    service, store, records, _clock = make(pool)
    for kind in ("ktp", "selfie_with_ktp", "face"):
        records.upload(kind, f"nik:{NIK}" if kind == "ktp" else kind)
        service.schedule("r1", kind)
    await service.idle()
    assert pool.most == 1
    assert all(row.status == "done" for row in store.rows.values()) and len(store.rows) == 3
    await service.close()
