"""The rate-limit rule (GCRA token bucket): parsing, bursts, refill, honest Retry-After."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from videocall.limits import Decision, Rule, expires_in, parse_rule, take


@pytest.mark.parametrize(
    ("spec", "limit", "period"),
    [
        ("10/hour", 10, 3600.0),
        ("5/30s", 5, 30.0),
        ("20/10m", 20, 600.0),
        ("3/day", 3, 86400.0),
        ("7/second", 7, 1.0),
        ("2/1.5s", 2, 1.5),
        (" 4 / min ", 4, 60.0),
        ("9/h", 9, 3600.0),
    ],
)
def test_parse_rule(spec: str, limit: int, period: float) -> None:
    assert parse_rule("x", spec) == Rule("x", limit, period)


@pytest.mark.parametrize("spec", ["", "off", "OFF", "0", "none", "unlimited"])
def test_parse_rule_disabled(spec: str) -> None:
    assert parse_rule("x", spec) is None


@pytest.mark.parametrize("spec", ["ten/hour", "10", "10/fortnight", "0/hour", "10/0s", "-1/h"])
def test_parse_rule_rejects_nonsense(spec: str) -> None:
    with pytest.raises(ValueError, match="rate limit x"):
        parse_rule("x", spec)


def run(rule: Rule, times: list[float]) -> list[Decision]:
    tat: float | None = None
    decisions = []
    for now in times:
        tat, decision = take(rule, tat, now)
        decisions.append(decision)
    return decisions


def test_burst_up_to_the_limit_then_refused() -> None:
    decisions = run(Rule("r", 3, 3.0), [0, 0, 0, 0])
    assert [d.allowed for d in decisions] == [True, True, True, False]
    assert [d.remaining for d in decisions] == [2, 1, 0, 0]
    assert decisions[3].retry_after == pytest.approx(1.0)
    assert decisions[3].reset_after == pytest.approx(3.0)


def test_tokens_come_back_one_interval_at_a_time() -> None:
    decisions = run(Rule("r", 3, 3.0), [0, 0, 0, 0.5, 1.0, 1.0, 4.0])
    assert [d.allowed for d in decisions] == [True, True, True, False, True, False, True]
    assert decisions[3].retry_after == pytest.approx(0.5)


def test_refused_events_do_not_push_the_reset_further() -> None:
    rule = Rule("r", 2, 10.0)
    tat, _ = take(rule, None, 0)
    tat, _ = take(rule, tat, 0)
    for now in (1, 2, 3, 4):
        new_tat, decision = take(rule, tat, now)
        assert not decision.allowed
        assert new_tat == tat
    assert take(rule, tat, 5)[1].allowed


def test_idle_for_a_period_means_a_full_bucket() -> None:
    rule = Rule("r", 5, 60.0)
    tat, _ = take(rule, None, 0)
    assert expires_in(tat, 0) == pytest.approx(12.0)
    assert expires_in(tat, 100) == 0.0
    assert expires_in(None, 0) == 0.0
    _, decision = take(rule, tat, 12.0)
    assert decision.remaining == 4


def test_cost_spends_several_tokens() -> None:
    rule = Rule("r", 10, 10.0)
    tat, decision = take(rule, None, 0, cost=7)
    assert decision.allowed and decision.remaining == 3
    _, decision = take(rule, tat, 0, cost=4)
    assert not decision.allowed
    assert decision.retry_after == pytest.approx(1.0)


@settings(max_examples=200, deadline=None)
@given(
    limit=st.integers(1, 20),
    period=st.floats(0.5, 1000),
    gaps=st.lists(st.floats(0, 50), min_size=1, max_size=80),
)
def test_never_more_than_burst_plus_refill(limit: int, period: float, gaps: list[float]) -> None:
    rule = Rule("r", limit, period)
    times, now = [], 0.0
    for gap in gaps:
        now += gap
        times.append(now)
    decisions = run(rule, times)
    allowed = [t for t, d in zip(times, decisions, strict=True) if d.allowed]
    for i, start in enumerate(allowed):
        for j in range(i, len(allowed)):
            span = allowed[j] - start
            assert j - i + 1 <= limit + span / rule.interval + 1e-6


@settings(max_examples=200, deadline=None)
@given(limit=st.integers(1, 20), period=st.floats(0.5, 1000), hits=st.integers(1, 60))
def test_retry_after_is_honest(limit: int, period: float, hits: int) -> None:
    rule = Rule("r", limit, period)
    tat: float | None = None
    refused = None
    for _ in range(hits):
        tat, refused = take(rule, tat, 0.0)
    assert refused is not None
    if not refused.allowed:
        assert 0 < refused.retry_after <= rule.interval + 1e-9
        assert take(rule, tat, refused.retry_after)[1].allowed
        assert not take(rule, tat, refused.retry_after * 0.99 - 1e-9)[1].allowed
