"""The lifecycle services (``videocall.app``) with in-memory fakes of their interfaces: every
road out of a call, decisions checked before the hang-up, undecided calls, and recovery."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest

from tests.support import SettableClock, make_nik
from tests.unit.lifecycle_fakes import (
    FakeJournal,
    FakeMedia,
    FakeNotifier,
    FakeOutcomes,
    FakePlacement,
    FakeRecordings,
    FakeSessions,
)
from videocall.accounts import Account, Role
from videocall.adapters.memory_queue import MemoryQueueStore
from videocall.app.calls import CallService
from videocall.app.desk import DeskService
from videocall.app.outcomes import OutcomeService
from videocall.app.recovery import Reconciler
from videocall.errors import Conflict, NotAllowed, ValidationError
from videocall.hours import ServiceHours
from videocall.outcomes import ChecklistItem, Decision, Result
from videocall.placement import NodeInfo
from videocall.presence import Presence
from videocall.queue import ParticipantCard, QueueConfig
from videocall.sessions import SessionConfig

APPROVE = Decision(Result.APPROVED, checklist={item: True for item in ChecklistItem})
SNAPSHOTS = [{"kind": "face", "bad": False}, {"kind": "ktp", "bad": False}]


def account(name: str, role: Role = Role.OFFICER) -> Account:
    return Account(name, name, name.title(), role, "", False, 0, None)


@dataclass
class Desk:
    clock: SettableClock
    store: MemoryQueueStore
    sessions: FakeSessions
    outcomes: FakeOutcomes
    media: FakeMedia
    notifier: FakeNotifier
    calls: CallService
    desk: DeskService
    decisions: OutcomeService
    reconciler: Reconciler
    recordings: FakeRecordings

    async def paired(self, officer: str = "budi", connected: bool = True) -> tuple[str, str]:
        """A participant waiting, the officer accepting; returns (call id, record id)."""
        record_id = f"rec-{len(self.sessions.rows) + 1}"
        card = ParticipantCard.of(record_id, "Siti", make_nik(), ("ktp",))
        await self.store.join(card, self.clock.now())
        await self.store.set_presence(officer, Presence.AVAILABLE)
        reply = await self.desk.accept_next(officer, f"officer:{officer}")
        call_id = str(reply["session_id"])
        if connected:
            self.media.hosted.add(call_id)
            await self.calls.media_connected(call_id)
        return call_id, record_id


@pytest.fixture
def w() -> Desk:
    clock = SettableClock()
    store = MemoryQueueStore(QueueConfig())
    sessions = FakeSessions()
    outcomes = FakeOutcomes(sessions)
    media = FakeMedia(sessions)
    notifier = FakeNotifier()
    placement = FakePlacement()
    journal = FakeJournal()
    desks: list[DeskService] = []

    async def officer_changed(officer_id: str) -> None:
        await desks[0].officer_changed(officer_id)

    calls = CallService(
        store=store, sessions=sessions, media=media, notifier=notifier, placement=placement,
        journal=journal, clock=clock, config=SessionConfig(), officer_changed=officer_changed,
    )  # fmt: skip
    records: Any = None  # joining through the desk (which reads records) is not tested here
    desk = DeskService(
        store=store, calls=calls, records=records, sessions=sessions, journal=journal,
        notifier=notifier, placement=placement, clock=clock, hours=ServiceHours.parse("always"),
        holidays=frozenset(), escalate_after=timedelta(minutes=15),
    )  # fmt: skip
    desks.append(desk)
    decisions = OutcomeService(
        sessions=sessions, outcomes=outcomes, calls=calls, desk=desk, notifier=notifier,
        clock=clock, escalate_after=timedelta(minutes=15),
    )  # fmt: skip
    recordings = FakeRecordings()
    reconciler = Reconciler(
        store=store, sessions=sessions, calls=calls, desk=desk, notifier=notifier,
        recordings=recordings, clock=clock,
    )  # fmt: skip
    return Desk(
        clock, store, sessions, outcomes, media, notifier, calls, desk, decisions, reconciler,
        recordings,
    )  # fmt: skip


async def test_a_hung_up_call_waits_for_its_decision_on_the_desk(w: Desk) -> None:
    call_id, record_id = await w.paired()
    await w.desk.officer_hangup("budi", "officer:budi", call_id)
    assert w.sessions.rows[call_id].state == "awaiting_decision"
    assert w.sessions.record_state[record_id] == "in_call"
    assert w.notifier.events("participant", "call_ended")[-1]["awaiting_decision"] is True
    assert w.media.closed == [call_id]
    state = await w.desk.officer_state("budi")
    assert [u["session_id"] for u in state["undecided"]] == [call_id]
    assert state["undecided"][0]["stale"] is False
    await w.store.set_presence("budi", Presence.AVAILABLE)
    await w.store.join(ParticipantCard.of("rec-9", "Ani", make_nik(), ()), w.clock.now())
    with pytest.raises(Conflict) as refused:
        await w.desk.accept_next("budi", "officer:budi")
    assert refused.value.code == "decision_pending"


async def test_missing_snapshots_are_told_while_the_call_goes_on(w: Desk) -> None:
    call_id, _ = await w.paired()
    with pytest.raises(ValidationError) as refused:
        await w.decisions.decide(call_id, account("budi"), APPROVE)
    assert refused.value.code == "evidence_missing_snapshots"
    assert await w.store.get_call(call_id) is not None  # still live
    assert w.media.closed == [] and w.sessions.rows[call_id].state == "active"
    # The officer takes the snapshots; now the decision ends the call and is stored.
    await w.sessions.update_media(call_id, snapshots=SNAPSHOTS)

    async def assist(record_id: str, session_id: str) -> dict[str, Any]:
        return {"notice": "bantuan, bukan keputusan", "record": record_id, "call": session_id}

    w.decisions.assist = assist
    stored = await w.decisions.decide(call_id, account("budi"), APPROVE)
    assert stored.evidence["recording_sha256"] == ["a" * 64]  # closed before it was stored
    assert stored.evidence["assist"]["call"] == call_id  # what the officer's helpers said
    assert w.sessions.rows[call_id].state == "decided"
    assert await w.store.get_call(call_id) is None
    assert w.notifier.events("participant", "decided")[-1]["result"] == "approved"
    assert (await w.desk.officer_state("budi"))["undecided"] == []


async def test_a_retry_needs_no_snapshots_and_a_contradiction_ends_nothing(w: Desk) -> None:
    call_id, _ = await w.paired()
    contradiction = Decision(Result.RETRY_REQUIRED)  # no reason
    with pytest.raises(ValidationError):
        await w.decisions.decide(call_id, account("budi"), contradiction)
    assert await w.store.get_call(call_id) is not None
    retry = Decision(Result.RETRY_REQUIRED, reasons=("poor_lighting",))
    await w.decisions.decide(call_id, account("budi"), retry)
    assert w.sessions.rows[call_id].state == "decided"


async def test_a_call_that_never_connected_is_not_decided(w: Desk) -> None:
    call_id, _ = await w.paired(connected=False)
    absent = Decision(Result.RETRY_REQUIRED, reasons=("participant_absent",))
    with pytest.raises(Conflict) as refused:
        await w.decisions.decide(call_id, account("budi"), absent)
    assert refused.value.code == "call_not_connected"


async def test_only_the_officer_decides_until_the_call_is_stale(w: Desk) -> None:
    call_id, record_id = await w.paired()
    await w.desk.officer_hangup("budi", "officer:budi", call_id)
    retry = Decision(Result.RETRY_REQUIRED, reasons=("poor_connection",))
    with pytest.raises(NotAllowed):
        await w.decisions.decide(call_id, account("ani"), retry)
    with pytest.raises(NotAllowed):
        await w.decisions.decide(call_id, account("sri", Role.SUPERVISOR), retry)
    w.clock.advance(15 * 60)
    assert (await w.desk.undecided(None))[0]["stale"] is True
    await w.decisions.decide(call_id, account("sri", Role.SUPERVISOR), retry)
    assert w.sessions.record_state[record_id] == "retry_required"


async def test_a_supervisor_sends_an_undecided_participant_back(w: Desk) -> None:
    call_id, record_id = await w.paired()
    await w.desk.officer_hangup("budi", "officer:budi", call_id)
    with pytest.raises(NotAllowed):
        await w.decisions.release(call_id, account("budi"), "officer_unavailable")
    with pytest.raises(ValidationError):
        await w.decisions.release(call_id, account("sri", Role.SUPERVISOR), "because")
    await w.decisions.release(call_id, account("sri", Role.SUPERVISOR), "officer_unavailable")
    assert w.sessions.record_state[record_id] == "ready_for_call"
    assert w.sessions.rows[call_id].state == "released"
    assert w.notifier.events("participant", "call_released")[-1]["reason"] == (
        "officer_unavailable"
    )
    with pytest.raises(Conflict):  # once only; and a released call is not decided any more
        await w.decisions.release(call_id, account("sri", Role.SUPERVISOR), "technical_problem")
    retry = Decision(Result.RETRY_REQUIRED, reasons=("poor_connection",))
    with pytest.raises(Conflict):
        await w.decisions.decide(call_id, account("budi"), retry)


async def test_a_restart_ends_the_calls_the_old_process_owned(w: Desk) -> None:
    live, record_id = await w.paired()
    waiting_for_decision, _ = await w.paired(officer="ani")
    await w.desk.officer_hangup("ani", "officer:ani", waiting_for_decision)
    w.recordings.found[live] = {"segments": [{"sha256": "b" * 64}], "gaps_s": []}
    # The process died: a new one starts with an empty in-process store.
    fresh = MemoryQueueStore(QueueConfig())
    w.reconciler.store = w.desk.store = w.calls.store = fresh
    assert await w.reconciler.on_start("node-a", fresh_store=True) == 1
    assert w.sessions.rows[live].state == "interrupted"
    assert w.sessions.record_state[record_id] == "ready_for_call"
    assert w.sessions.rows[live].recording == w.recordings.found[live]
    ended = w.notifier.events("participant", "call_ended")[-1]
    assert ended["session_id"] == live and ended["server_restarted"] is True
    # The call that was awaiting its decision is untouched: it is durable.
    assert w.sessions.rows[waiting_for_decision].state == "awaiting_decision"
    assert await fresh.officer_presence("budi") is not Presence.BUSY


async def test_a_restarted_node_with_a_shared_store_requeues_its_calls(w: Desk) -> None:
    call_id, record_id = await w.paired()
    # Same NODE_ID, same (Redis) store: the call is still in the store, its media is gone.
    assert await w.reconciler.on_start("node-a", fresh_store=False) == 1
    entry = await w.store.entry(record_id)
    assert entry is not None and entry.lane.value == "priority"
    assert w.sessions.rows[call_id].state == "interrupted"
    assert await w.store.call_of_officer("budi") is None


async def test_the_sweep_ends_a_call_the_store_lost_only_when_seen_twice(w: Desk) -> None:
    call_id, record_id = await w.paired()
    w.store = w.reconciler.store = MemoryQueueStore(QueueConfig())  # lost, e.g. flushed
    await w.reconciler.sweep()
    assert w.sessions.rows[call_id].state == "active"  # maybe an end on its way to SQL
    await w.reconciler.sweep()
    assert w.sessions.rows[call_id].state == "interrupted"
    assert w.sessions.record_state[record_id] == "ready_for_call"


async def test_every_call_reaches_a_terminal_state_on_every_road(w: Desk) -> None:
    """Hang-ups by either side before and after media, grace windows, the connect timeout."""
    roads: list[tuple[str, str]] = []
    a, _ = await w.paired("o1", connected=False)
    await w.desk.participant_hangup(w.sessions.rows[a].record_id)
    roads.append((a, "interrupted"))
    b, _ = await w.paired("o2")
    await w.desk.participant_hangup(w.sessions.rows[b].record_id)
    roads.append((b, "awaiting_decision"))
    c, _ = await w.paired("o3", connected=False)
    w.clock.advance(91)
    await w.desk.sweep()
    roads.append((c, "interrupted"))
    d, _ = await w.paired("o4")
    await w.desk.officer_gone("o4", "sid-never-seen")
    w.clock.advance(21)
    await w.desk.sweep()
    roads.append((d, "interrupted"))
    for call_id, state in roads:
        assert (call_id, w.sessions.rows[call_id].state) == (call_id, state)
        assert await w.store.get_call(call_id) is None
    assert await w.sessions.open_sessions() == []


async def test_a_dead_node_claimed_by_a_survivor_ends_its_calls(w: Desk) -> None:
    call_id, record_id = await w.paired()
    w.recordings.found[call_id] = {"segments": [{"sha256": "c" * 64}], "gaps_s": []}
    w.media.hosted.discard(call_id)  # its media was on the dead node
    await w.reconciler.node_lost(NodeInfo("node-a", "", 1, 0.0, False, 0.0))
    entry = await w.store.entry(record_id)
    assert entry is not None and entry.lane.value == "priority"  # our fault: back at the head
    assert w.sessions.rows[call_id].state == "interrupted"
    assert w.sessions.rows[call_id].recording == w.recordings.found[call_id]
    assert w.notifier.events("officer", "call_ended")[-1]["requeued"] is True


async def test_a_call_hung_up_just_before_the_crash_gets_its_recording(w: Desk) -> None:
    call_id, _ = await w.paired()
    w.media.hosted.discard(call_id)  # the process died before its media stored the recording
    await w.desk.officer_hangup("budi", "officer:budi", call_id)
    assert w.sessions.rows[call_id].recording is None
    w.recordings.found[call_id] = {"segments": [{"sha256": "d" * 64}], "gaps_s": []}
    await w.reconciler.on_start("node-a", fresh_store=True)
    assert w.sessions.rows[call_id].state == "awaiting_decision"  # still the officer's to decide
    assert w.sessions.rows[call_id].recording == w.recordings.found[call_id]
