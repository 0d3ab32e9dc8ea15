"""The short reference: readable symbols only, a check symbol that catches typos."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from videocall.errors import ValidationError
from videocall.nik import parse_nik
from videocall.records import new_record
from videocall.reference import (
    ALPHABET,
    LENGTH,
    check_symbol,
    display,
    is_valid,
    new_reference,
    parse_reference,
)

NOW = datetime(2026, 11, 25, 3, 0, tzinfo=UTC)
bits = st.integers(min_value=0, max_value=2**35 - 1)


def _fixed(*values: int):  # a randbits that returns the given draws in turn
    it = iter(values)
    return lambda _n: next(it)


def test_alphabet_is_crockford_without_confusable_letters() -> None:
    assert len(ALPHABET) == 32
    assert not set("ILOU") & set(ALPHABET)


@given(bits)
def test_every_reference_is_eight_readable_symbols_and_checks(number: int) -> None:
    ref = new_reference(lambda _n: number) if number % 37 < 32 else None
    if ref is None:
        return
    assert len(ref) == LENGTH == 8
    assert set(ref) <= set(ALPHABET)
    assert is_valid(ref)


def test_a_draw_whose_check_would_be_an_extra_symbol_is_drawn_again() -> None:
    unreadable = next(n for n in range(1000) if n % 37 >= 32)
    readable = next(n for n in range(1000) if n % 37 < 32)
    ref = new_reference(_fixed(unreadable, readable))
    assert ref == new_reference(_fixed(readable))
    assert ref[-1] in ALPHABET


def test_known_value() -> None:
    # 0000001 is the value 1: its check symbol is symbol 1.
    assert check_symbol("0000001") == "1"
    assert new_reference(_fixed(1)) == "00000011"


@given(bits, st.integers(min_value=0, max_value=7), st.integers(min_value=1, max_value=31))
def test_any_single_wrong_symbol_is_caught(number: int, pos: int, shift: int) -> None:
    if number % 37 >= 32:
        return
    ref = new_reference(lambda _n: number)
    wrong = ALPHABET[(ALPHABET.index(ref[pos]) + shift) % 32]
    assert not is_valid(ref[:pos] + wrong + ref[pos + 1 :])


@given(bits, st.integers(min_value=0, max_value=6))
def test_any_swap_of_neighbours_is_caught(number: int, pos: int) -> None:
    if number % 37 >= 32:
        return
    ref = new_reference(lambda _n: number)
    if ref[pos] == ref[pos + 1]:
        return
    swapped = ref[:pos] + ref[pos + 1] + ref[pos] + ref[pos + 2 :]
    assert not is_valid(swapped)


def test_parse_accepts_what_people_type() -> None:
    ref = new_reference(random.Random(5).getrandbits)
    spoken = display(ref).lower()
    assert spoken[4] == "-"
    assert parse_reference(spoken) == ref
    assert parse_reference(f"  {ref[:4]} {ref[4:]} ") == ref
    with_aliases = ref.replace("0", "o").replace("1", "l")
    assert parse_reference(with_aliases) == ref


@pytest.mark.parametrize("raw", ["", "ABC", "0000001", "000000112", "00000012", "0000001U"])
def test_parse_refuses_a_wrong_reference(raw: str) -> None:
    with pytest.raises(ValidationError) as exc:
        parse_reference(raw)
    assert exc.value.code == "reference_invalid"


def test_a_new_record_has_a_reference_in_every_event() -> None:
    info = parse_nik("3201014101900001", today=date(2026, 11, 25))
    record = new_record(nik=info, mobile="+6281234567890", email="a@b.id", actor="p", now=NOW)
    assert is_valid(record.reference)
    record.change_reference("00000011")
    assert [e.data["reference"] for e in record.pending_events] == ["00000011"]
    two = new_record(nik=info, mobile="+6281234567890", email="a@b.id", actor="p", now=NOW)
    assert two.reference != record.reference


def test_the_webhook_payload_carries_the_reference() -> None:
    import json

    from videocall.webhooks import payload

    info = parse_nik("3201014101900001", today=date(2026, 11, 25))
    record = new_record(nik=info, mobile="+6281234567890", email="a@b.id", actor="p", now=NOW)
    body = json.loads(payload(record.pending_events[0]))
    assert body["data"]["reference"] == record.reference
    assert body["data"]["record_id"] == record.id
