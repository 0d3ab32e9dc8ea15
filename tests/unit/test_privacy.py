"""Personal-data rules: due time, reasons, legal holds, and what a deletion leaves of a record."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from videocall.errors import Conflict, ValidationError
from videocall.nik import parse_nik
from videocall.privacy import (
    DELETED_EVENT,
    DeletionStatus,
    change_hold,
    check_not_held,
    check_pending,
    clean_reason,
    due_at,
    is_overdue,
    legal_hold,
    reduce_record,
)
from videocall.records import DocumentKind, Record, new_record

NOW = datetime(2026, 11, 25, 3, 0, tzinfo=UTC)


def fresh() -> Record:
    info = parse_nik("3201014101900001", today=date(2026, 11, 25))
    return new_record(nik=info, mobile="+6281234567890", email="a@b.id", actor="p", now=NOW)


def test_due_in_three_times_24_hours_and_overdue_only_while_pending() -> None:
    assert due_at(NOW) == NOW + timedelta(hours=72)
    later = NOW + timedelta(hours=72, seconds=1)
    assert not is_overdue(DeletionStatus.PENDING, NOW, NOW + timedelta(hours=72))
    assert is_overdue(DeletionStatus.PENDING, NOW, later)
    assert not is_overdue(DeletionStatus.DONE, NOW, later)
    assert not is_overdue(DeletionStatus.REFUSED, NOW, later)


@pytest.mark.parametrize(("raw", "expected"), [(None, None), ("", None), ("  x  ", "x"), (5, None)])
def test_optional_reason_trimmed(raw: object, expected: str | None) -> None:
    assert clean_reason(raw, required=False) == expected


def test_required_reason_and_length() -> None:
    with pytest.raises(ValidationError) as err:
        clean_reason("   ", required=True, code="hold_reason_required")
    assert err.value.code == "hold_reason_required"
    with pytest.raises(ValidationError) as err:
        clean_reason("x" * 201, required=False)
    assert err.value.code == "reason_too_long"


@pytest.mark.parametrize("status", [DeletionStatus.DONE, DeletionStatus.REFUSED])
def test_closed_request_cannot_be_decided_again(status: DeletionStatus) -> None:
    check_pending(DeletionStatus.PENDING)
    with pytest.raises(Conflict):
        check_pending(status)


def test_legal_hold_placed_released_and_placed_again() -> None:
    record = fresh()
    assert legal_hold(record.history) is None
    check_not_held(record)
    change_hold(record, place=True, actor="supervisor:s", reason="claim", now=NOW)
    assert legal_hold(record.history) is not None
    with pytest.raises(Conflict) as err:
        check_not_held(record)
    assert err.value.code == "deletion_legal_hold"
    with pytest.raises(Conflict):
        change_hold(record, place=True, actor="supervisor:s", reason="again", now=NOW)
    change_hold(record, place=False, actor="supervisor:s", reason="closed", now=NOW)
    check_not_held(record)
    with pytest.raises(Conflict) as err:
        change_hold(record, place=False, actor="supervisor:s", reason="again", now=NOW)
    assert err.value.code == "legal_hold_none"
    change_hold(record, place=True, actor="supervisor:t", reason="second claim", now=NOW)
    held = legal_hold(record.history)
    assert held is not None and held.reason == "second claim" and held.actor == "supervisor:t"


def test_reduced_record_keeps_identity_and_announces_the_deletion() -> None:
    record = fresh()
    record.documents.add(DocumentKind.KTP)
    before = len(record.history)
    reduce_record(record, actor="supervisor:s", now=NOW, request_id="req-1", deleted={"photos": 1})
    assert record.mobile == "" and record.email == "" and not record.documents
    assert record.nik == "3201014101900001" and record.nik_birth_date == date(1990, 1, 1)
    assert len(record.history) == before + 1
    entry = record.history[-1]
    assert entry.action == "personal_data_deleted" and entry.actor == "supervisor:s"
    assert entry.detail == {"request_id": "req-1", "deleted": {"photos": 1}}
    event = record.pending_events[-1]
    assert event.type == DELETED_EVENT and event.data["deleted"] == {"photos": 1}
    assert event.data["reference"] == record.reference
