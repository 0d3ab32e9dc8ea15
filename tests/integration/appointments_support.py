"""Helpers for the appointment tests: ready participants without the photo uploads (the journey
is tested elsewhere; 50 of them must be quick), staff sessions, and reading the outbox."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import date
from typing import Any

import sqlalchemy as sa
from aiohttp import web
from aiohttp.test_utils import TestClient

from tests.integration.staff_support import staff_login
from tests.support import make_nik
from videocall.accounts import Role
from videocall.adapters import db
from videocall.nik import parse_nik
from videocall.records import RecordState, new_record
from web import keys

Client = TestClient[web.Request, web.Application]
Factory = Callable[..., Awaitable[Client]]  # the app_factory fixture


class Person:
    def __init__(self, client: Client, record_id: str, token: str) -> None:
        self.client = client
        self.record_id = record_id
        self.token = token

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    async def get(self, path: str, status: int = 200) -> Any:
        resp = await self.client.get(path, headers=self.auth)
        assert resp.status == status, await resp.text()
        return await resp.json()

    async def book(self, start: str, status: int = 201, **extra: Any) -> Any:
        resp = await self.client.post(
            "/api/appointments", json={"start": start, **extra}, headers=self.auth
        )
        assert resp.status == status, await resp.text()
        return await resp.json()

    async def cancel(self, appointment_id: str, status: int = 200) -> Any:
        resp = await self.client.post(
            f"/api/appointments/{appointment_id}/cancel", headers=self.auth
        )
        assert resp.status == status, await resp.text()
        return await resp.json()


async def ready_person(client: Client, name: str = "Siti Aminah", province: str = "32") -> Person:
    """A record in ``ready_for_call``, stored through the repository as registration does."""
    app = client.app
    now = app[keys.CLOCK].now()
    info = parse_nik(make_nik(date(1990, 1, 1), female=True, province=province), today=now.date())
    record = new_record(
        nik=info, mobile="081234567890", email="siti@example.co.id", actor="test", now=now
    )
    record.state, record.full_name = RecordState.READY_FOR_CALL, name
    await app[keys.RECORDS].add(record)
    return Person(client, record.id, app[keys.TOKENS].issue(record.id))


async def staff_cookie(client: Client, name: str, role: Role) -> dict[str, str]:
    _, cookie = await staff_login(
        client, name, role, password="Kuat-Sandi-Jadwal-2026", display_name=name, ttl_s=7 * 86400
    )
    return cookie


async def put_plan(client: Client, cookie: dict[str, str], plan: list[dict[str, int]]) -> Any:
    resp = await client.put("/api/appointments/plan", json={"plan": plan}, headers=cookie)
    assert resp.status == 200, await resp.text()
    return await resp.json()


async def events(client: Client, prefix: str = "appointment.") -> list[tuple[str, dict[str, Any]]]:
    """Outbox events in order: (type, data)."""
    async with client.app[keys.DATABASE].connect() as conn:
        rows = (
            await conn.execute(
                sa.select(db.outbox_events.c.type, db.outbox_events.c.data)
                .where(db.outbox_events.c.type.like(f"{prefix}%"))
                .order_by(db.outbox_events.c.seq)
            )
        ).all()
    return [(r.type, r.data) for r in rows]


async def history_actions(client: Client, record_id: str) -> list[str]:
    return [h.action for h in await client.app[keys.RECORDS].history(record_id)]
