"""Photos uploaded at once, on SQLite and PostgreSQL: all land, and no file is left that no row
references (after a lost race or a crash, the retention job's sweep removes it)."""

from __future__ import annotations

import asyncio
import hashlib
import os
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from aiohttp import ClientResponse, web
from aiohttp.test_utils import TestClient

from tests.conftest import Participant
from tests.support import make_nik, photo_bytes
from videocall.adapters.cpu_pool import WorkerPool
from videocall.documents import DocumentRules, clean_image
from web import keys
from web.housekeeping import RETENTION

Client = TestClient[web.Request, web.Application]
AppFactory = Callable[..., Awaitable[Client]]
KINDS = ("ktp", "selfie_with_ktp", "face")


def stored_files(client: Client) -> set[str]:
    root = client.app[keys.SETTINGS].uploads_dir
    return {p.name for p in root.glob("??/*")} if root.is_dir() else set()


async def referenced_files(client: Client, *record_ids: str) -> set[str]:
    shas = set()
    for record_id in record_ids:
        shas |= {d.sha256 for d in await client.app[keys.RECORDS].documents(record_id)}
    return shas


async def with_profile(client: Client) -> Participant:
    person = Participant(client, make_nik(female=True))
    await person.register()
    assert (await person.profile()).status == 200
    return person


async def test_three_kinds_uploaded_at_once_all_land(client: Client) -> None:
    people = []
    for trial in range(5):
        person = await with_profile(client)
        people.append(person)
        responses = await asyncio.gather(
            *(person.upload(kind, photo_bytes(seed=10 * trial + i)) for i, kind in enumerate(KINDS))
        )
        for response in responses:
            assert response.status == 200, await response.text()
        me = await (await client.get("/api/me", headers=person.auth)).json()
        assert me["state"] == "documents_uploaded", me
        assert sorted(d["kind"] for d in me["documents"]) == sorted(KINDS)
        history = await client.app[keys.RECORDS].history(person.record_id)
        uploaded = [h for h in history if h.action == "document_uploaded"]
        assert sorted((h.detail or {})["kind"] for h in uploaded) == sorted(KINDS)
    assert stored_files(client) == await referenced_files(client, *(p.record_id for p in people))


def hold_until(gate: str) -> None:
    """Keep a CPU pool worker busy until the file ``gate`` exists (runs in the worker)."""
    while not os.path.exists(gate):
        time.sleep(0.01)


def release(gate: Path) -> None:
    gate.touch()


async def wait_until(predicate: Callable[[], bool]) -> None:
    """Poll a counter of the pool (it has no event to wait on)."""
    while not predicate():  # noqa: ASYNC110
        await asyncio.sleep(0.01)


async def lost_to_consent(
    client: Client, person: Participant, photo: bytes, gate: Path
) -> ClientResponse:
    """Upload ``photo`` as the face while every pool worker is held; consent once the upload
    waits for a worker (past its state check); then let the workers go."""
    pool = client.app[keys.CPU_POOL]
    assert isinstance(pool, WorkerPool)
    # Jobs that earlier uploads started in the background (the assist's analysis) finish first,
    # so that the counts below are the holders' and this upload's only.
    await wait_until(lambda: pool.busy == 0)
    holders = [asyncio.create_task(pool.run(hold_until, str(gate))) for _ in range(pool.workers)]
    await wait_until(lambda: pool.busy == pool.workers)
    late = asyncio.create_task(person.upload("face", photo))
    await wait_until(lambda: pool.busy > pool.workers or late.done())
    assert not late.done(), f"the upload ended before reaching the pool: {(await late).status}"
    consent = await client.post("/api/me/consent", headers=person.auth)
    assert consent.status == 200, await consent.text()
    release(gate)
    await asyncio.gather(*holders)
    response: ClientResponse = await late
    return response


async def test_an_upload_whose_row_does_not_commit_leaves_no_file(
    client: Client, tmp_path: Path
) -> None:
    """The participant consents while a new face photo is being cleaned: the upload is refused
    (documents are locked once ready for the call) and its file does not stay."""
    person = await with_profile(client)
    for i, kind in enumerate(KINDS):
        assert (await person.upload(kind, photo_bytes(seed=i))).status == 200
    gate, late_photo = tmp_path / "gate", photo_bytes(seed=99)
    try:
        response = await lost_to_consent(client, person, late_photo, gate)
    finally:
        release(gate)  # never leave a worker held (closing the app waits for it)
    assert response.status == 409
    assert (await response.json())["error"]["code"] == "documents_locked"

    late_sha = clean_image(late_photo, DocumentRules()).sha256  # the file it wrote
    assert late_sha not in stored_files(client)
    assert stored_files(client) == await referenced_files(client, person.record_id)
    assert len(stored_files(client)) == 3


async def test_sweep_removes_unreferenced_files_and_keeps_referenced(client: Client) -> None:
    person = Participant(client, make_nik(female=True))
    await person.to_ready()
    referenced = await referenced_files(client, person.record_id)
    blobs = client.app[keys.BLOBS]
    orphans = {}
    for name in ("crashed-before-commit", "in-flight"):
        data = name.encode()
        orphans[name] = hashlib.sha256(data).hexdigest()
        await blobs.put(orphans[name], data)
    long_ago = time.time() - 3 * 3600
    for sha in (*referenced, orphans["crashed-before-commit"]):
        os.utime(blobs.path_for(sha), (long_ago, long_ago))

    removed = await client.app[RETENTION].sweep_orphans(datetime.now(UTC))

    assert removed == [orphans["crashed-before-commit"]]
    assert stored_files(client) == referenced | {orphans["in-flight"]}
    # Once past the grace period the in-flight one goes too; referenced files never do.
    later = datetime.now(UTC) + timedelta(hours=2)
    assert await client.app[RETENTION].sweep_orphans(later) == [orphans["in-flight"]]
    assert stored_files(client) == referenced
