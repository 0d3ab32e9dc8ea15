"""Appointments at the desk: reminders exactly once across a restart and the no-show release
(SQLite and PostgreSQL, with the events delivered to a real webhook receiver), and booked
participants going ahead of walk-ins with real python-socketio clients.

The test clock starts on Tuesday 24 November 2026, 03:00 UTC (10:00 WIB)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest

from tests.integration.appointments_support import (
    Client,
    Factory,
    Person,
    events,
    history_actions,
    put_plan,
    ready_person,
    staff_cookie,
)
from tests.integration.outcomes_support import Receiver, wait_for
from tests.integration.test_queue_signaling import QUEUE_BACKENDS, Sock, app_with_queue
from tests.support import SettableClock, free_port
from videocall.accounts import Role
from videocall.appointments import Status
from web import keys

THU_0900 = "2026-11-26T02:00:00Z"  # Thursday 09:00 WIB, 47 h after the clock's start


async def tick(client: Client) -> None:
    """What the ticker runs every 15 s."""
    await client.app[keys.APPOINTMENTS].tick()


async def test_reminders_once_across_a_restart_then_no_show(
    app_factory: Factory, clock: SettableClock
) -> None:
    receiver = Receiver(port=free_port())
    await receiver.start()
    try:
        hooks = {"webhook_endpoints": receiver.endpoints(), "webhook_poll_seconds": 0.05}
        first = await app_factory(service_hours="mon-fri 08:00-16:00", **hooks)
        boss = await staff_cookie(first, "kepala", Role.SUPERVISOR)
        await put_plan(first, boss, [{"weekday": 3, "hour": 9, "officers": 1}])
        person = await ready_person(first)
        made = (await person.book(THU_0900))["appointment"]
        late = await ready_person(first, "Telat")  # books 30 minutes ahead: no reminders
        await tick(first)
        assert await events(first, "appointment.reminder") == []

        clock.advance(23 * 3600)  # Wed 02:00 UTC: 24 h before
        await tick(first)
        await tick(first)
        second = await app_factory(service_hours="mon-fri 08:00-16:00", **hooks)  # a restart
        await tick(second)
        reminders = await events(second, "appointment.reminder")
        assert [(d["before"], d["appointment_id"]) for _, d in reminders] == [("24h", made["id"])]

        clock.advance(23 * 3600)  # Thu 01:00 UTC: 1 h before
        await tick(second)
        await tick(first)
        await tick(second)
        reminders = await events(second, "appointment.reminder")
        assert [d["before"] for _, d in reminders] == ["24h", "1h"]
        assert reminders[1][1]["start"] == THU_0900

        clock.advance(30 * 60)  # 08:30 WIB: the 08:45 slot 15 minutes ahead
        await put_plan(second, boss, [{"weekday": 3, "hour": h, "officers": 1} for h in (8, 9)])
        await late.book("2026-11-26T01:45:00Z")
        await tick(second)
        await tick(first)
        assert len(await events(second, "appointment.reminder")) == 2

        # No-show: 15 minutes after the start she is still booked; a second later released.
        clock.advance(45 * 60)
        await tick(second)
        assert (await person.get("/api/appointments/mine"))["appointment"]["status"] == "booked"
        clock.advance(1)
        await tick(second)
        await tick(first)
        mine = (await person.get("/api/appointments/mine"))["appointment"]
        assert (mine["id"], mine["status"], mine["can_join_now"]) == (made["id"], "missed", False)
        resp = await second.get("/api/me", headers=person.auth)
        assert (await resp.json())["state"] == "ready_for_call"
        assert (await history_actions(second, person.record_id))[-2:] == [
            "appointment_booked",
            "appointment_missed",
        ]
        resp = await second.get("/api/appointments/capacity?from=2026-11-26&days=1", headers=boss)
        nine = [s for s in (await resp.json())["days"][0]["slots"] if s["start"] == THU_0900]
        assert nine[0]["booked"] == 0  # the place is free again
        types = [t for t, _ in await events(second)]
        assert types.count("appointment.missed") == 2  # both bookings, late's too
        assert types.count("appointment.reminder") == 2

        # Every event reaches the receiver, signed (verified in test_outcomes_webhooks: the
        # receiver checks the time against the wall clock, this test's clock is set by hand).
        sent = {e for e, _ in await events(second)}
        await wait_for(
            lambda: sent <= {r.event["type"] for r in receiver.log if r.status == 204},
            30,
            "the appointment webhooks",
        )
        missed = next(r for r in receiver.log if r.event["type"] == "appointment.missed")
        assert missed.headers.get("webhook-signature", "").startswith("v1,")
        data = missed.event["data"]
        assert {k: data[k] for k in ("record_id", "appointment_id", "start", "zone")} in (
            {
                "record_id": person.record_id,
                "appointment_id": made["id"],
                "start": THU_0900,
                "zone": "Asia/Jakarta",
            },
            {
                "record_id": late.record_id,
                "appointment_id": data["appointment_id"],
                "start": "2026-11-26T01:45:00Z",
                "zone": "Asia/Jakarta",
            },
        )
    finally:
        await receiver.stop()


@pytest.fixture(params=QUEUE_BACKENDS)
async def desk(request: pytest.FixtureRequest, app_factory: Factory) -> AsyncIterator[Client]:
    """The app (open at any time) with the queue in process, or in Redis."""
    async with app_with_queue(app_factory, request.param, "appointments") as client:
        yield client


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_booked_participants_go_ahead_of_walk_ins(desk: Client, clock: SettableClock) -> None:
    client = desk  # 10:00 WIB on a Tuesday
    boss = await staff_cookie(client, "kepala", Role.SUPERVISOR)
    await put_plan(client, boss, [{"weekday": 1, "hour": h, "officers": 1} for h in (10, 14)])
    early, on_time = await ready_person(client, "Datang Awal"), await ready_person(client, "Tepat")
    walk_1, walk_2 = await ready_person(client, "Jalan 1"), await ready_person(client, "Jalan 2")
    await early.book("2026-11-24T03:15:00Z")  # 10:15 WIB
    await on_time.book("2026-11-24T03:30:00Z")  # 10:30 WIB
    await walk_1.book("2026-11-24T07:00:00Z")  # 14:00 WIB, but she comes in the morning
    socks: list[Sock] = []

    async def sock(person: Person) -> Sock:
        s = Sock(client, "/participant", auth={"token": person.token})
        socks.append(await s.connect())
        return s

    try:
        s_walk_1, s_walk_2, s_early = await sock(walk_1), await sock(walk_2), await sock(early)
        one = (await s_walk_1.call("join_queue"))["queue"]
        assert (one["position"], one["lane"], one["booking_offered"]) == (1, "normal", False)
        two = (await s_walk_2.call("join_queue"))["queue"]  # unknown wait, someone ahead
        assert (two["position"], two["booking_offered"]) == (2, True)
        # Before the window (10:10) the booked participant waits as a walk-in ...
        three = (await s_early.call("join_queue"))["queue"]
        assert (three["position"], three["lane"]) == (3, "normal")
        clock.advance(11 * 60)
        await tick(client)  # ... and moves up when it opens
        moved = await s_early.next("queue_status", lambda s: s["lane"] == "priority")
        assert (moved["position"], moved["booking_offered"]) == (1, False)
        clock.advance(15 * 60)  # 10:26: inside the 10:30 booking's window
        s_on_time = await sock(on_time)
        four = (await s_on_time.call("join_queue"))["queue"]
        assert (four["position"], four["lane"], four["booking_offered"]) == (2, "priority", False)
        await s_walk_1.next("queue_status", lambda s: s["position"] == 3)

        accepted = []
        for n in range(3):
            officer_cookie = await staff_cookie(client, f"petugas{n}", Role.OFFICER)
            officer = Sock(client, "/officer", headers=officer_cookie)
            socks.append(await officer.connect())
            state = await officer.call("set_presence", {"presence": "available"})
            if n == 0:
                assert [e["name"] for e in state["queue"]["entries"]] == [
                    "Datang Awal",
                    "Tepat",
                    "Jalan 1",
                    "Jalan 2",
                ]
            reply = await officer.call("accept_next")
            accepted.append((reply["record_id"], reply["lane"]))
        assert accepted == [
            (early.record_id, "priority"),
            (on_time.record_id, "priority"),
            (walk_1.record_id, "normal"),
        ]
        await s_early.next("paired")
        store = client.app[keys.APPOINTMENTS].store
        for person in (early, on_time, walk_1):  # walk_1 was served early: attended too
            latest = await store.latest(person.record_id)
            assert latest is not None and latest.status is Status.ATTENDED
            assert "appointment_attended" in await history_actions(client, person.record_id)
        clock.advance(5 * 3600)
        await tick(client)  # attended bookings are not no-shows
        assert [t for t, _ in await events(client)] == ["appointment.booked"] * 3
    finally:
        for s in socks:
            await s.close()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_a_booked_time_opens_the_closed_desk(
    app_factory: Factory, clock: SettableClock
) -> None:
    """An 08:00 booking's window opens at 07:55, before the desk: the participant joins; a
    walk-in at that moment is told the desk is closed and offered a booking."""
    client = await app_factory(service_hours="mon-fri 08:00-16:00")
    boss = await staff_cookie(client, "kepala", Role.SUPERVISOR)
    await put_plan(client, boss, [{"weekday": 2, "hour": 8, "officers": 1}])
    booked, walk_in = await ready_person(client, "Pagi"), await ready_person(client, "Jalan")
    await booked.book("2026-11-25T01:00:00Z")  # Wednesday 08:00 WIB
    clock.current = datetime(2026, 11, 25, 0, 56, tzinfo=UTC)  # 07:56 WIB
    socks = [Sock(client, "/participant", auth={"token": p.token}) for p in (booked, walk_in)]
    try:
        for s in socks:
            await s.connect()
        closed = await socks[1].call("join_queue")
        assert closed["ok"] is False
        assert (closed["queue"]["closed"], closed["queue"]["booking_offered"]) == (True, True)
        joined = await socks[0].call("join_queue")
        assert joined["ok"] and joined["queue"]["lane"] == "priority"
        assert joined["queue"]["position"] == 1
    finally:
        for s in socks:
            await s.close()
