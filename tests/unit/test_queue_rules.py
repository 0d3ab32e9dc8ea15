"""Queue rules: order, the priority lane, who is next, positions, wait estimates, officer view."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from videocall.queue import (
    Lane,
    OfficerQueueView,
    ParticipantCard,
    QueueEmpty,
    QueueEntry,
    QueueSnapshot,
    WaitStatus,
    changed_statuses,
    estimate_wait,
    in_order,
    next_to_call,
    officer_view,
    wait_statuses,
)

T0 = datetime(2026, 11, 24, 3, 0, tzinfo=UTC)
NIK = "3201234101900001"


def entry(
    rid: str, seq: int, lane: Lane = Lane.NORMAL, joined: float = 0, away: bool = False
) -> QueueEntry:
    card = ParticipantCard.of(rid, f"Name {rid}", NIK, ["ktp", "face"])
    until = T0 + timedelta(seconds=60) if away else None
    return QueueEntry(card, lane, seq, T0 + timedelta(seconds=joined), until)


def snapshot(
    *entries: QueueEntry, available: int = 0, busy: int = 0, recent: tuple[float, ...] = ()
) -> QueueSnapshot:
    return QueueSnapshot(in_order(entries), available, busy, recent)


# -- cards --------------------------------------------------------------------------------


def test_card_masks_the_nik() -> None:
    card = ParticipantCard.of("r", "Siti", NIK, ["selfie_with_ktp", "ktp"])
    assert card.nik_masked == "3201********0001"
    assert card.documents == ("ktp", "selfie_with_ktp")


@pytest.mark.parametrize("nik", [NIK, "320123410190", "3201 2341 0190 0001"])
def test_card_refuses_an_unmasked_nik(nik: str) -> None:
    with pytest.raises(ValueError, match="masked"):
        ParticipantCard("r", "Siti", nik)


# -- order --------------------------------------------------------------------------------


def test_priority_lane_first_then_first_come_first_served() -> None:
    entries = [
        entry("n1", 1),
        entry("n2", 2),
        entry("p5", 5, Lane.PRIORITY),
        entry("n3", 3),
        entry("p4", 4, Lane.PRIORITY),
    ]
    assert [e.record_id for e in in_order(entries)] == ["p4", "p5", "n1", "n2", "n3"]


@pytest.mark.parametrize(
    ("entries", "expected"),
    [
        ([], None),
        ([entry("a", 1, away=True)], None),
        ([entry("a", 1, away=True), entry("b", 2)], "b"),
        ([entry("a", 1), entry("p", 9, Lane.PRIORITY, away=True)], "a"),
        ([entry("a", 1), entry("p", 9, Lane.PRIORITY)], "p"),
    ],
)
def test_next_to_call_skips_the_reconnecting(
    entries: list[QueueEntry], expected: str | None
) -> None:
    head = next_to_call(in_order(entries))
    assert (head.record_id if head else None) == expected


# -- estimates ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("position", "available", "busy", "average", "expected"),
    [
        (1, 1, 0, None, None),  # no history: unknown, not a made-up number
        (1, 0, 0, 600.0, None),  # nobody on duty
        (1, 1, 0, 600.0, 0),  # an idle officer will take them
        (2, 2, 3, 600.0, 0),
        (1, 0, 1, 600.0, 300),  # the busy officer is halfway through, on average
        (2, 0, 1, 600.0, 900),
        (3, 0, 2, 600.0, 900),
        (3, 1, 1, 600.0, 300),
        (4, 1, 1, 600.0, 900),
        (10, 2, 3, 420.0, 630),  # ceil(8 / 5) = 2 rounds -> 1.5 * 420
    ],
)
def test_estimate_wait(
    position: int, available: int, busy: int, average: float | None, expected: int | None
) -> None:
    assert estimate_wait(position, available=available, busy=busy, average_call=average) == (
        expected
    )


def test_estimate_wait_rejects_position_zero() -> None:
    with pytest.raises(ValueError):
        estimate_wait(0, available=1, busy=0, average_call=1.0)


def test_wait_statuses_use_the_recent_average() -> None:
    statuses = wait_statuses(snapshot(entry("a", 1), entry("b", 2), busy=1, recent=(500.0, 700.0)))
    assert statuses == {
        "a": WaitStatus(1, 300, Lane.NORMAL),
        "b": WaitStatus(2, 900, Lane.NORMAL),
    }


def test_changed_statuses_are_new_or_moved() -> None:
    before = {"a": WaitStatus(1, 0, Lane.NORMAL), "b": WaitStatus(2, 300, Lane.NORMAL)}
    after = {"b": WaitStatus(1, 0, Lane.NORMAL), "c": WaitStatus(2, 300, Lane.NORMAL)}
    assert changed_statuses(before, after) == after
    assert changed_statuses(after, after) == {}


# -- officer view -------------------------------------------------------------------------


def test_officer_view() -> None:
    view = officer_view(
        snapshot(
            entry("a", 1, joined=0),
            entry("b", 2, joined=30, away=True),
            entry("p", 3, Lane.PRIORITY, joined=100),
            available=2,
            busy=1,
        ),
        now=T0 + timedelta(seconds=130),
    )
    assert isinstance(view, OfficerQueueView)
    assert (view.waiting, view.longest_wait_seconds) == (3, 130)
    assert (view.officers_available, view.officers_busy) == (2, 1)
    assert [(i.record_id, i.wait_seconds, i.connected, i.lane) for i in view.entries] == [
        ("p", 30, True, Lane.PRIORITY),
        ("a", 130, True, Lane.NORMAL),
        ("b", 100, False, Lane.NORMAL),
    ]
    item = view.entries[0]
    assert (item.name, item.nik_masked, item.documents) == (
        "Name p",
        "3201********0001",
        ("face", "ktp"),
    )
    assert NIK not in repr(view)


def test_officer_view_of_an_empty_queue() -> None:
    view = officer_view(snapshot(), now=T0)
    assert (view.waiting, view.longest_wait_seconds, view.entries) == (0, None, ())


def test_queue_empty_says_why() -> None:
    assert QueueEmpty().message == "queue empty: nobody is waiting"
    assert "2 waiting" in QueueEmpty(disconnected=2).message
    assert QueueEmpty.code == "queue_empty"


# -- properties ---------------------------------------------------------------------------


@st.composite
def entry_sets(draw: st.DrawFn) -> list[QueueEntry]:
    """Entries as a store holds them: distinct record ids and distinct seqs."""
    seqs = draw(st.lists(st.integers(1, 10_000), unique=True, max_size=40))
    return [
        entry(
            f"r{seq}",
            seq,
            draw(st.sampled_from(Lane)),
            joined=draw(st.floats(0, 3600)),
            away=draw(st.booleans()),
        )
        for seq in seqs
    ]


@given(entry_sets(), st.randoms())
def test_order_is_a_permutation_independent_of_input_order(
    entries: list[QueueEntry], rnd: random.Random
) -> None:
    shuffled = list(entries)
    rnd.shuffle(shuffled)
    ordered = in_order(shuffled)
    assert ordered == in_order(entries)
    assert sorted(e.record_id for e in ordered) == sorted(e.record_id for e in entries)
    assert len({e.record_id for e in ordered}) == len(ordered)


@given(entry_sets())
def test_priority_lane_is_at_the_head_and_each_lane_is_fifo(entries: list[QueueEntry]) -> None:
    ordered = in_order(entries)
    lanes = [e.lane for e in ordered]
    assert lanes == sorted(lanes, key=lambda lane: lane is Lane.NORMAL)
    for lane in Lane:
        seqs = [e.seq for e in ordered if e.lane is lane]
        assert seqs == sorted(seqs)


@given(entry_sets())
def test_next_to_call_is_the_first_connected(entries: list[QueueEntry]) -> None:
    ordered = in_order(entries)
    head = next_to_call(ordered)
    connected = [e for e in ordered if e.connected]
    assert head == (connected[0] if connected else None)


@given(
    entry_sets(),
    st.integers(0, 5),
    st.integers(0, 5),
    st.lists(st.floats(1, 3600), max_size=20),
)
def test_positions_are_consistent(
    entries: list[QueueEntry], available: int, busy: int, recent: list[float]
) -> None:
    snap = snapshot(*entries, available=available, busy=busy, recent=tuple(recent))
    statuses = wait_statuses(snap)
    assert [statuses[e.record_id].position for e in snap.entries] == list(
        range(1, len(entries) + 1)
    )
    waits = [statuses[e.record_id].estimated_wait_seconds for e in snap.entries]
    if not recent or available + busy == 0:
        assert set(waits) <= {None}
    else:
        known = [w for w in waits if w is not None]
        assert known == waits and known == sorted(known)  # later never waits less
    view = officer_view(snap, T0 + timedelta(hours=2))
    assert [i.record_id for i in view.entries] == [e.record_id for e in snap.entries]
    assert view.waiting == len(statuses)


@given(st.integers(1, 200), st.integers(0, 10), st.integers(0, 10), st.floats(1, 3600))
def test_more_officers_never_lengthen_the_wait(
    position: int, available: int, busy: int, average: float
) -> None:
    base = estimate_wait(position, available=available, busy=busy, average_call=average)
    more_free = estimate_wait(position, available=available + 1, busy=busy, average_call=average)
    more_busy = estimate_wait(position, available=available, busy=busy + 1, average_call=average)
    assert more_free is not None and more_busy is not None
    if base is not None:
        assert more_free <= base and more_busy <= base
