"""Hand-off link rules: who may ask, one use, a short life, the step a record opens at."""

from __future__ import annotations

import secrets
from datetime import UTC, date, datetime, timedelta

import pytest

from videocall import handoff
from videocall.errors import NotAllowed, NotFound, ValidationError
from videocall.nik import parse_nik
from videocall.records import Record, RecordState, new_record

NOW = datetime(2026, 11, 25, 3, 0, tzinfo=UTC)
S = RecordState


def record(actor: str = "upstream:insurer") -> Record:
    info = parse_nik("3201014101900001", today=date(2026, 11, 25))
    return new_record(nik=info, mobile="+6281234567890", email="a@b.id", actor=actor, now=NOW)


def grant(ttl: int = 600, prefill: handoff.Prefill | None = None) -> tuple[str, handoff.Grant]:
    code = secrets.token_urlsafe(24)
    issued = handoff.issue(
        record(),
        upstream="insurer",
        code=code,
        now=NOW,
        ttl_seconds=ttl,
        prefill=prefill or handoff.Prefill(),
    )
    return code, issued


def test_a_link_stores_only_the_hash_of_its_code_and_lives_the_ttl() -> None:
    code, issued = grant(ttl=600)
    assert handoff.well_formed(code)
    assert issued.code_hash == handoff.hash_code(code) != code
    assert code not in repr(issued)
    assert issued.expires_at == NOW + timedelta(minutes=10)
    assert issued.used_at is None and issued.issued_by == "insurer"


@pytest.mark.parametrize("creator", ["participant", "upstream:other-system"])
def test_only_the_system_that_created_the_record_gets_a_link(creator: str) -> None:
    with pytest.raises(NotAllowed) as exc:
        handoff.issue(
            record(creator),
            upstream="insurer",
            code=secrets.token_urlsafe(24),
            now=NOW,
            ttl_seconds=600,
            prefill=handoff.Prefill(),
        )
    assert exc.value.code == "handoff_not_creator"


def test_a_lifetime_must_be_positive() -> None:
    with pytest.raises(ValidationError):
        grant(ttl=0)


def test_a_link_is_used_once() -> None:
    _, issued = grant()
    used = handoff.redeem(issued, NOW + timedelta(seconds=5))
    assert used.used_at == NOW + timedelta(seconds=5)
    with pytest.raises(handoff.HandoffGone) as exc:
        handoff.redeem(used, NOW + timedelta(seconds=6))
    assert exc.value.code == "handoff_used" and exc.value.status == 410


@pytest.mark.parametrize(("after", "usable"), [(0, True), (599, True), (600, False), (3600, False)])
def test_a_link_expires_at_its_ttl(after: int, usable: bool) -> None:
    _, issued = grant(ttl=600)
    at = NOW + timedelta(seconds=after)
    if usable:
        assert handoff.check(issued, at) is issued
        return
    with pytest.raises(handoff.HandoffGone) as exc:
        handoff.redeem(issued, at)
    assert exc.value.code == "handoff_expired"


def test_an_unknown_link_is_not_found() -> None:
    with pytest.raises(NotFound) as exc:
        handoff.redeem(None, NOW)
    assert exc.value.code == "handoff_invalid"


@pytest.mark.parametrize(
    ("code", "ok"),
    [
        # A fixed id: every xdist worker must collect the same test names.
        pytest.param(secrets.token_urlsafe(24), True, id="a-fresh-code"),
        ("short", False),
        ("a" * 65, False),
        ("abc/../" + "a" * 30, False),
        ("a" * 31 + "%", False),
    ],
)
def test_only_codes_of_our_shape_are_looked_up(code: str, ok: bool) -> None:
    assert handoff.well_formed(code) is ok


@pytest.mark.parametrize(
    ("state", "step"),
    [
        (S.REGISTERED, "profile"),
        (S.PROFILE_COMPLETE, "documents"),
        (S.RETRY_REQUIRED, "documents"),
        (S.DOCUMENTS_UPLOADED, "consent"),
        (S.READY_FOR_CALL, "queue"),
        (S.IN_CALL, "call"),
        (S.UNDER_REVIEW, "result"),
        (S.ACTIVE, "result"),
        (S.REJECTED, "result"),
    ],
)
def test_the_page_opens_at_the_step_the_record_is_at(state: RecordState, step: str) -> None:
    assert handoff.step_for(state) == step


def test_every_state_has_a_step() -> None:
    assert {handoff.step_for(s) for s in RecordState} <= {
        "profile",
        "documents",
        "consent",
        "queue",
        "call",
        "result",
    }


def test_prefill_round_trips_and_drops_what_is_not_a_profile_field() -> None:
    prefill = handoff.Prefill(full_name="Siti Aminah", birth_date=date(1990, 1, 1), sex="female")
    assert handoff.Prefill.from_dict(prefill.as_dict()) == prefill
    assert handoff.Prefill.from_dict(None) == handoff.Prefill()
    assert handoff.Prefill.from_dict({"sex": "other", "full_name": ""}).as_dict() == {}


@pytest.mark.parametrize(
    ("url", "ok"),
    [
        ("", True),
        ("jkn://verifikasi/selesai", True),
        ("mobile-jkn+app://back", True),
        ("https://app.example.id/kembali", True),
        ("http://localhost:3000/back", True),
        ("http://app.example.id/back", False),
        ("javascript:alert(1)", False),
        ("JavaScript:alert(1)", False),
        ("data:text/html,hi", False),
        ("file:///etc/passwd", False),
        ("https://", False),
        ("jkn://back\r\nX: y", False),
        ("/relative/path", False),
    ],
)
def test_the_return_url_is_an_app_scheme_or_https(url: str, ok: bool) -> None:
    assert handoff.valid_return_url(url) is ok
