"""The short reference end to end: stored, unique, in the API and in every upstream event, and
given to records that existed before migration 0003."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime
from pathlib import Path

import sqlalchemy as sa
from alembic import command

from tests.support import make_nik
from videocall.adapters import db
from videocall.adapters.migrate import alembic_config, upgrade
from videocall.adapters.sql_records import Database, SqlRecordRepository
from videocall.errors import Conflict
from videocall.nik import parse_nik
from videocall.records import new_record
from videocall.reference import is_valid

NOW = datetime(2026, 11, 25, 3, 0, tzinfo=UTC)
UPSTREAM = {"X-API-Key": "test-api-key"}


async def test_reference_in_record_api_and_upstream_events(participant_factory, client) -> None:
    p = participant_factory()
    body = await p.register()
    ref = body["record"]["reference"]
    assert is_valid(ref)
    await p.profile()
    me = await (await client.get("/api/me", headers=p.auth)).json()
    assert me["reference"] == ref
    upstream = await (
        await client.get(f"/api/upstream/records/{p.record_id}", headers=UPSTREAM)
    ).json()
    assert upstream["reference"] == ref
    events = await (
        await client.get(f"/api/upstream/records/{p.record_id}/events", headers=UPSTREAM)
    ).json()
    assert events["reference"] == ref
    assert [e["type"] for e in events["events"]] == ["record.registered", "record.profile_complete"]
    assert all(e["data"]["reference"] == ref for e in events["events"])
    other = participant_factory()
    assert (await other.register())["record"]["reference"] != ref


async def test_profile_prefill_values_come_from_the_nik(participant_factory) -> None:
    p = participant_factory(female=True, birth=date(1985, 5, 12))
    record = (await p.register())["record"]
    assert (record["nik_birth_date"], record["nik_sex"]) == ("1985-05-12", "female")
    assert (record["birth_date"], record["sex"]) == (None, None)


def _record(nik: str, reference: str | None = None):  # type: ignore[no-untyped-def]
    info = parse_nik(nik, today=date(2026, 11, 25))
    return new_record(
        nik=info, mobile="+6281234567890", email="a@b.id", actor="t", now=NOW, reference=reference
    )


async def test_a_taken_reference_is_drawn_again(database_url: str) -> None:
    database = Database.from_url(database_url)
    repo = SqlRecordRepository(database)
    try:
        first = _record(make_nik(), reference="00000011")
        await repo.add(first)
        second = _record(make_nik(), reference="00000011")
        await repo.add(second)
        assert second.reference != "00000011" and is_valid(second.reference)
        stored = await repo.get(second.id)
        assert stored.reference == second.reference
        async with database.connect() as conn:
            data = (
                await conn.execute(
                    sa.select(db.outbox_events.c.data).where(
                        db.outbox_events.c.record_id == second.id
                    )
                )
            ).scalar_one()
        assert data["reference"] == second.reference
        # A live NIK registered twice is still that conflict, not a reference problem.
        again = _record(first.nik)
        try:
            await repo.add(again)
        except Conflict as exc:
            assert exc.code == "nik_registered"
        else:
            raise AssertionError("the second live record for one NIK was stored")
    finally:
        await database.close()


def _upgrade_to(url: str, revision: str) -> None:
    command.upgrade(alembic_config(url), revision)


async def test_migration_gives_existing_records_unique_references(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'old.db'}"
    await asyncio.to_thread(_upgrade_to, url, "0002_webhooks")
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'old.db'}")
    with engine.begin() as conn:
        for i in range(5):
            conn.execute(
                sa.text(
                    "INSERT INTO records (id, nik, live_nik, mobile, email, state, nik_birth_date,"
                    " nik_sex, created_at, updated_at, version) VALUES (:id, :nik, :nik, 'm', 'e',"
                    " 'registered', '1990-01-01', 'male', '2026-01-01', '2026-01-01', 0)"
                ),
                {"id": f"old-{i}", "nik": f"320101010190000{i}"},
            )
    await asyncio.to_thread(upgrade, url)
    with engine.connect() as conn:
        refs = conn.execute(sa.text("SELECT reference FROM records")).scalars().all()
    engine.dispose()
    assert len(refs) == 5 and len(set(refs)) == 5
    assert all(is_valid(r) for r in refs)
