from datetime import UTC, date, datetime, timedelta

import pytest

from videocall.errors import InvalidTransition, ValidationError
from videocall.nik import Sex, parse_nik
from videocall.records import TRANSITIONS, DocumentKind, RecordState, new_record
from videocall.workdays import WorkCalendar

NOW = datetime(2026, 11, 25, 3, 0, tzinfo=UTC)
S = RecordState


def fresh():
    info = parse_nik("3201014101900001", today=date(2026, 11, 25))
    return new_record(nik=info, mobile="+6281234567890", email="a@b.id", actor="p", now=NOW)


def ready():
    r = fresh()
    r.set_profile(full_name="Siti", birth_date=date(1990, 1, 1), sex=Sex.FEMALE, actor="p", now=NOW)
    for kind in DocumentKind:
        r.add_document(kind, actor="p", now=NOW, sha256="a" * 64)
    r.give_consent(actor="p", now=NOW)
    return r


def test_journey_reaches_ready_for_call_with_history_and_events() -> None:
    r = ready()
    assert r.state is S.READY_FOR_CALL
    changes = [
        (h.from_state, h.to_state) for h in r.history if h.action in ("state_changed", "registered")
    ]
    assert changes == [
        (None, S.REGISTERED),
        (S.REGISTERED, S.PROFILE_COMPLETE),
        (S.PROFILE_COMPLETE, S.DOCUMENTS_UPLOADED),
        (S.DOCUMENTS_UPLOADED, S.READY_FOR_CALL),
    ]
    assert [e.type for e in r.pending_events] == [
        "record.registered",
        "record.profile_complete",
        "record.documents_uploaded",
        "record.ready_for_call",
    ]
    assert len({e.id for e in r.pending_events}) == 4


@pytest.mark.parametrize("source", list(RecordState))
@pytest.mark.parametrize("target", list(RecordState))
def test_only_listed_transitions_are_allowed(source: RecordState, target: RecordState) -> None:
    r = fresh()
    r.state = source
    if target in TRANSITIONS[source]:
        r.transition(target, actor="x", now=NOW)
        assert r.state is target
    else:
        with pytest.raises(InvalidTransition):
            r.transition(target, actor="x", now=NOW)
        assert r.state is source


def test_profile_must_match_nik_and_says_which_field() -> None:
    r = fresh()
    with pytest.raises(ValidationError) as exc:
        r.set_profile(
            full_name="S", birth_date=date(1990, 1, 2), sex=Sex.FEMALE, actor="p", now=NOW
        )
    assert exc.value.field == "birth_date"
    with pytest.raises(ValidationError) as exc:
        r.set_profile(full_name="S", birth_date=date(1990, 1, 1), sex=Sex.MALE, actor="p", now=NOW)
    assert exc.value.field == "sex"
    assert r.state is S.REGISTERED


def test_out_of_order_steps_are_refused() -> None:
    r = fresh()
    with pytest.raises(InvalidTransition):
        r.add_document(DocumentKind.KTP, actor="p", now=NOW, sha256="a" * 64)
    with pytest.raises(InvalidTransition):
        r.give_consent(actor="p", now=NOW)
    r2 = ready()
    with pytest.raises(InvalidTransition):
        r2.set_profile(
            full_name="X", birth_date=date(1990, 1, 1), sex=Sex.FEMALE, actor="p", now=NOW
        )


def test_retry_required_goes_back_to_ready_after_consent() -> None:
    r = ready()
    r.transition(S.IN_CALL, actor="o", now=NOW)
    r.transition(S.RETRY_REQUIRED, actor="o", now=NOW, reason="poor_lighting")
    r.add_document(DocumentKind.FACE, actor="p", now=NOW, sha256="b" * 64)
    r.give_consent(actor="p", now=NOW)
    assert r.state is S.READY_FOR_CALL


def test_review_due_date_is_three_working_days() -> None:
    cal = WorkCalendar(holidays=[date(2026, 12, 25)])
    r = ready()
    r.transition(S.IN_CALL, actor="o", now=NOW)
    thursday = datetime(2026, 12, 24, 5, 0, tzinfo=UTC)  # Thu 24 Dec, Jakarta noon
    r.start_review(due_at=cal.due_at(thursday), actor="o", now=thursday)
    # Fri 25 Dec holiday, weekend skipped: Mon 28, Tue 29, Wed 30.
    assert r.due_at.date() == date(2026, 12, 30)
    assert r.pending_events[-1].data["due_at"] == r.due_at.isoformat()
    r.transition(S.ACTIVE, actor="s", now=thursday)
    assert r.due_at is None


def test_working_days_calendar() -> None:
    cal = WorkCalendar(holidays=[date(2026, 12, 25)])
    assert cal.add_working_days(date(2026, 11, 27), 3) == date(2026, 12, 2)  # Fri -> Wed
    assert cal.add_working_days(date(2026, 12, 23), 3) == date(2026, 12, 29)
    due = cal.due_at(datetime(2026, 11, 27, 3, 0, tzinfo=UTC))
    assert cal.is_overdue(due, due + timedelta(seconds=1))
    assert not cal.is_overdue(due, due)
