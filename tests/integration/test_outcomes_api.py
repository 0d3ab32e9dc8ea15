"""Decisions and reviews over real HTTP, on SQLite and PostgreSQL: each decision is stored with
the call's end and the record's transition, contradictions leave everything unchanged, four eyes
on reviews, and the review queue flags what is overdue across weekends and holidays."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from outcomes_support import (
    APPROVE,
    Staff,
    app_database,
    app_of,
    make_account,
    outbox,
    start_call,
)

from videocall.accounts import Role
from videocall.adapters import db
from web import keys


class World:
    """A running app with an officer, a second officer and a supervisor, all logged in."""

    def __init__(self, client: Any, participant_factory: Any, clock: Any) -> None:
        self.client, self.participant_factory, self.clock = client, participant_factory, clock
        self.app = app_of(client)
        self.database = app_database(client)

    async def setup(self) -> World:
        now = self.clock.now()
        accounts = [
            await make_account(self.database, role, now)
            for role in (Role.OFFICER, Role.OFFICER, Role.SUPERVISOR)
        ]
        self.officer, self.other, self.supervisor = [
            await Staff.open(self.client, self.database, a, now) for a in accounts
        ]
        return self

    async def call(self, officer: Staff | None = None, **media_kw: Any) -> tuple[str, str]:
        """A participant through the journey and into a call; returns (record_id, session_id)."""
        p = self.participant_factory()
        await p.to_ready()
        who = (officer or self.officer).account
        sid = await start_call(
            self.app[keys.SESSIONS], p.record_id, who, self.clock.now(), **media_kw
        )
        return p.record_id, sid

    async def state(self, record_id: str) -> str:
        return (await self.app[keys.RECORDS].get(record_id)).state.value

    async def snapshot(self, record_id: str, sid: str) -> tuple[Any, ...]:
        """Everything a decision could change."""
        async with self.database.connect() as conn:
            session = (
                await conn.execute(sa.select(db.call_sessions).where(db.call_sessions.c.id == sid))
            ).one()
            decisions = (await conn.execute(sa.select(db.decisions))).all()
        record = await self.app[keys.RECORDS].get(record_id)
        return (
            record.state,
            record.version,
            len(record.history),
            session.ended_at,
            session.state,
            len(decisions),
            len(await outbox(self.database, record_id)),
        )


async def test_approval_then_confirm(client, participant_factory, clock) -> None:
    w = await World(client, participant_factory, clock).setup()
    record_id, sid = await w.call()
    status, body = await w.officer.post(f"/api/sessions/{sid}/decision", APPROVE)
    assert status == 201, body
    assert body["result"] == "approved" and body["evidence"]["snapshot_kinds"] == ["face", "ktp"]
    record = await w.app[keys.RECORDS].get(record_id)
    # Tuesday 2026-11-24 10:00 WIB: three working days -> end of Friday 27th, Jakarta time.
    assert record.state.value == "under_review"
    assert record.due_at == datetime(2026, 11, 27, 16, 59, 59, tzinfo=UTC)
    status, evidence = await w.officer.get(f"/api/sessions/{sid}")
    assert status == 200 and evidence["decision"]["result"] == "approved"
    assert evidence["session"]["state"] == "decided" and evidence["session"]["ended_at"]
    assert evidence["recording"]["segments"][0]["sha256"] and len(evidence["snapshots"]) == 2
    events = await outbox(w.database, record_id)
    assert events[-1]["type"] == "record.under_review"
    assert datetime.fromisoformat(events[-1]["data"]["due_at"]) == record.due_at

    status, queue = await w.supervisor.get("/api/reviews")
    assert status == 200 and [i["record_id"] for i in queue["items"]] == [record_id]
    assert queue["items"][0]["overdue"] is False
    status, body = await w.supervisor.post(f"/api/reviews/{record_id}", {"action": "confirm"})
    assert status == 200, body
    assert body == {
        "record_id": record_id,
        "state": "active",
        "action": "confirm",
        "result": "approved",
        "reason": None,
    }
    assert await w.state(record_id) == "active"
    assert (await outbox(w.database, record_id))[-1]["type"] == "record.active"
    assert (await w.supervisor.get("/api/reviews"))[1]["items"] == []
    spec = await (await client.get("/api/openapi.json")).json()
    assert "/api/sessions/{session_id}/decision" in spec["paths"]
    assert "/api/webhooks/{delivery_id}/redeliver" in spec["paths"]


async def test_rejection_and_retry_move_the_record_directly(
    client, participant_factory, clock
) -> None:
    w = await World(client, participant_factory, clock).setup()
    rejected, sid = await w.call()
    body = {"result": "rejected", "reasons": ["face_mismatch_ktp"], "notes": "different person"}
    assert (await w.officer.post(f"/api/sessions/{sid}/decision", body))[0] == 201
    assert await w.state(rejected) == "rejected"
    retry, sid = await w.call(kinds=(), recording=False)  # nothing usable on camera
    body = {"result": "retry_required", "reasons": ["poor_lighting"]}
    assert (await w.officer.post(f"/api/sessions/{sid}/decision", body))[0] == 201
    assert await w.state(retry) == "retry_required"
    history = (await w.app[keys.RECORDS].get(retry)).history[-1]
    assert history.reason == "poor_lighting" and history.actor == w.officer.account.actor


CONTRADICTIONS = [
    (
        {**APPROVE, "checklist": {**APPROVE["checklist"], "random_code_read": False}},
        {},
        "checklist_failed",
    ),
    ({"result": "approved", "checklist": {"face_matches_ktp": True}}, {}, "checklist_incomplete"),
    ({"result": "rejected"}, {}, "reason_required"),
    ({"result": "retry_required", "reasons": []}, {}, "reason_required"),
    ({"result": "rejected", "reasons": ["poor_lighting"]}, {}, "reason_not_for_result"),
    ({"result": "rejected", "reasons": ["nope"]}, {}, "unknown_reason"),
    (
        {**APPROVE, "checklist": {**APPROVE["checklist"], "vibes": True}},
        {},
        "unknown_checklist_item",
    ),
    ({**APPROVE, "extra": 1}, {}, "unknown_field"),
    (APPROVE, {"kinds": ("face",)}, "evidence_missing_snapshots"),
    (APPROVE, {"kinds": ()}, "evidence_missing_snapshots"),
    (APPROVE, {"recording": False}, "evidence_missing_recording"),
    (
        {"result": "rejected", "reasons": ["suspected_fraud"]},
        {"recording": False},
        "evidence_missing_recording",
    ),
]


async def test_contradictions_and_missing_evidence_leave_everything_unchanged(
    client, participant_factory, clock
) -> None:
    w = await World(client, participant_factory, clock).setup()
    calls: dict[tuple[Any, ...], tuple[str, str]] = {}
    for body, media_kw, code in CONTRADICTIONS:
        key = tuple(sorted(media_kw.items()))
        if key not in calls:
            calls[key] = await w.call(**media_kw)
        record_id, sid = calls[key]
        before = await w.snapshot(record_id, sid)
        status, out = await w.officer.post(f"/api/sessions/{sid}/decision", body)
        assert (status, out["error"]["code"]) == (422, code), (body, out)
        assert await w.snapshot(record_id, sid) == before
        assert before[0].value == "in_call"


async def test_who_may_decide_and_only_once(client, participant_factory, clock) -> None:
    w = await World(client, participant_factory, clock).setup()
    record_id, sid = await w.call()
    before = await w.snapshot(record_id, sid)
    status, out = await w.other.post(f"/api/sessions/{sid}/decision", APPROVE)
    assert (status, out["error"]["code"]) == (403, "not_your_call")
    assert (await w.other.get(f"/api/sessions/{sid}"))[0] == 403
    assert (await w.supervisor.get(f"/api/sessions/{sid}"))[0] == 200
    assert await w.snapshot(record_id, sid) == before
    status, _ = await w.officer.post("/api/sessions/no-such-session/decision", APPROVE)
    assert status == 404
    # Two decisions at once: exactly one wins, and only one transition is stored.
    results = await asyncio.gather(
        w.officer.post(f"/api/sessions/{sid}/decision", APPROVE),
        w.officer.post(f"/api/sessions/{sid}/decision", APPROVE),
    )
    assert sorted(s for s, _ in results) == [201, 409], results
    events = [e["type"] for e in await outbox(w.database, record_id)]
    assert events.count("record.under_review") == 1
    status, out = await w.officer.post(f"/api/sessions/{sid}/decision", APPROVE)
    assert (status, out["error"]["code"]) == (409, "already_decided")
    assert (await w.officer.get("/api/reviews"))[0] == 403  # supervisors only


async def test_interrupted_call_cannot_be_decided(client, participant_factory, clock) -> None:
    w = await World(client, participant_factory, clock).setup()
    record_id, sid = await w.call()
    await w.app[keys.SESSIONS].end_interrupted(
        sid, reason="participant_lost", actor="system", now=clock.now()
    )
    status, out = await w.officer.post(
        f"/api/sessions/{sid}/decision",
        {"result": "retry_required", "reasons": ["poor_connection"]},
    )
    assert (status, out["error"]["code"]) == (409, "session_interrupted")
    assert await w.state(record_id) == "ready_for_call"


async def test_review_rules(client, participant_factory, clock) -> None:
    w = await World(client, participant_factory, clock).setup()
    # The supervisor conducted this call: someone else must review it.
    own, sid = await w.call(officer=w.supervisor)
    assert (await w.supervisor.post(f"/api/sessions/{sid}/decision", APPROVE))[0] == 201
    status, out = await w.supervisor.post(f"/api/reviews/{own}", {"action": "confirm"})
    assert (status, out["error"]["code"]) == (403, "own_call")
    assert await w.state(own) == "under_review"

    record_id, sid = await w.call()
    assert (await w.officer.post(f"/api/sessions/{sid}/decision", APPROVE))[0] == 201
    status, out = await w.supervisor.post(
        f"/api/reviews/{record_id}", {"action": "overturn", "result": "rejected"}
    )
    assert (status, out["error"]["code"]) == (422, "overturn_reason_required")
    status, out = await w.officer.post(f"/api/reviews/{record_id}", {"action": "confirm"})
    assert (status, out["error"]["code"]) == (403, "role_forbidden")
    assert await w.state(record_id) == "under_review"
    status, out = await w.supervisor.post(
        f"/api/reviews/{record_id}",
        {"action": "overturn", "result": "retry_required", "reason": "ktp_unreadable"},
    )
    assert status == 200 and out["state"] == "retry_required", out
    last = (await w.app[keys.RECORDS].get(record_id)).history[-1]
    assert (last.reason, last.actor) == ("ktp_unreadable", w.supervisor.account.actor)
    status, out = await w.supervisor.post(f"/api/reviews/{record_id}", {"action": "confirm"})
    assert (status, out["error"]["code"]) == (409, "not_under_review")


async def test_review_queue_oldest_due_first_and_overdue_across_weekend_and_holiday(
    client, participant_factory, clock
) -> None:
    # Monday 2026-12-21 10:00 WIB: due Thursday 24th (Friday 25th is a holiday in the settings).
    clock.current = datetime(2026, 12, 21, 3, 0, tzinfo=UTC)
    w = await World(client, participant_factory, clock).setup()
    early, sid = await w.call()
    assert (await w.officer.post(f"/api/sessions/{sid}/decision", APPROVE))[0] == 201
    # Wednesday 23rd: three working days skip the holiday and the weekend -> Tuesday 29th.
    clock.current = datetime(2026, 12, 23, 3, 0, tzinfo=UTC)
    w.officer = await Staff.open(client, w.database, w.officer.account, clock.now())
    late, sid = await w.call()
    assert (await w.officer.post(f"/api/sessions/{sid}/decision", APPROVE))[0] == 201

    async def flags() -> list[tuple[str, str, bool]]:
        w.supervisor = await Staff.open(
            client, w.database, w.supervisor.account, clock.now()
        )  # days pass: log in anew
        status, queue = await w.supervisor.get("/api/reviews")
        assert status == 200, queue
        return [(i["record_id"], i["due_at"][:10], i["overdue"]) for i in queue["items"]]

    clock.current = datetime(2026, 12, 24, 16, 0, tzinfo=UTC)  # Thu 23:00 WIB: not yet
    assert await flags() == [(early, "2026-12-24", False), (late, "2026-12-29", False)]
    clock.current = datetime(2026, 12, 27, 3, 0, tzinfo=UTC)  # Sunday, after the holiday
    assert await flags() == [(early, "2026-12-24", True), (late, "2026-12-29", False)]
    clock.current = datetime(2026, 12, 29, 17, 1, tzinfo=UTC)  # Wed 00:01 WIB
    assert await flags() == [(early, "2026-12-24", True), (late, "2026-12-29", True)]


async def test_undecided_calls_are_listed_escalated_and_released(
    client, participant_factory, clock
) -> None:
    w = await World(client, participant_factory, clock).setup()
    record_id, sid = await w.call()
    await w.app[keys.SESSIONS].await_decision(sid, reason="completed_by_officer", now=clock.now())
    status, mine = await w.officer.get("/api/sessions/undecided")
    assert status == 200 and [i["session_id"] for i in mine["items"]] == [sid]
    assert mine["items"][0]["stale"] is False
    assert (await w.other.get("/api/sessions/undecided"))[1]["items"] == []
    status, everyone = await w.supervisor.get("/api/sessions/undecided")
    assert [i["session_id"] for i in everyone["items"]] == [sid]
    # Not stale yet: the supervisor may neither decide it nor is it theirs.
    retry = {"result": "retry_required", "reasons": ["poor_connection"]}
    status, body = await w.supervisor.post(f"/api/sessions/{sid}/decision", retry)
    assert status == 403, body
    clock.advance(15 * 60)
    assert (await w.supervisor.get("/api/sessions/undecided"))[1]["items"][0]["stale"] is True
    before = await w.snapshot(record_id, sid)
    status, body = await w.officer.post(f"/api/sessions/{sid}/release", {"reason": "other"})
    assert status == 403, body
    status, body = await w.supervisor.post(f"/api/sessions/{sid}/release", {"reason": "nope"})
    assert status == 422, body
    assert await w.snapshot(record_id, sid) == before  # refusals change nothing
    status, body = await w.supervisor.post(
        f"/api/sessions/{sid}/release", {"reason": "officer_unavailable"}
    )
    assert status == 200, body
    assert body == {
        "session_id": sid,
        "record_id": record_id,
        "state": "released",
        "reason": "officer_unavailable",
    }
    assert await w.state(record_id) == "ready_for_call"
    history = (await w.app[keys.RECORDS].get(record_id)).history
    assert history[-1].reason == "officer_unavailable"
    status, body = await w.officer.post(f"/api/sessions/{sid}/decision", retry)
    assert status == 409 and body["error"]["code"] == "session_released"
    assert (await w.officer.get("/api/sessions/undecided"))[1]["items"] == []


async def test_a_stale_undecided_call_is_decided_by_a_supervisor(
    client, participant_factory, clock
) -> None:
    w = await World(client, participant_factory, clock).setup()
    record_id, sid = await w.call()
    await w.app[keys.SESSIONS].await_decision(sid, reason="completed_by_officer", now=clock.now())
    clock.advance(16 * 60)
    retry = {"result": "retry_required", "reasons": ["poor_connection"]}
    status, body = await w.supervisor.post(f"/api/sessions/{sid}/decision", retry)
    assert status == 201, body
    assert body["officer_id"] == w.supervisor.account.id
    assert await w.state(record_id) == "retry_required"
