"""Rate-limit rules as pure functions: a token bucket kept as one number (GCRA).

A rule allows ``limit`` events per ``period`` seconds, all at once if the bucket is full, then one
every ``period / limit`` seconds. The whole state of a key is its *theoretical arrival time*
(``tat``): the moment the bucket would be full again. Storing one float makes the rule easy to
keep in memory or in Redis, and the same function decides for both backends.

    rule = parse_rule("login", "20/10m")
    state, decision = take(rule, previous_tat, now)     # now: seconds, passed in

Time is always passed in; nothing here reads a clock.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

_UNITS = {"s": 1.0, "sec": 1.0, "second": 1.0, "m": 60.0, "min": 60.0, "minute": 60.0}
_UNITS |= {"h": 3600.0, "hour": 3600.0, "d": 86400.0, "day": 86400.0}
_SPEC = re.compile(r"^\s*(\d+)\s*/\s*(\d*(?:\.\d+)?)\s*([a-z]*)\s*$")
DISABLED = frozenset({"", "0", "off", "none", "unlimited"})


@dataclass(frozen=True, slots=True)
class Rule:
    """``limit`` events per ``period`` seconds for each key."""

    name: str
    limit: int
    period: float

    def __post_init__(self) -> None:
        if self.limit < 1 or self.period <= 0:
            raise ValueError(f"rate limit {self.name}: limit and period must be positive")

    @property
    def interval(self) -> float:
        """Seconds for one token to come back."""
        return self.period / self.limit


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    remaining: int  # events still allowed right now, after this one
    retry_after: float  # seconds until the next event is allowed (0 when allowed)
    reset_after: float  # seconds until the bucket is full again


def parse_rule(name: str, spec: str) -> Rule | None:
    """``"10/hour"``, ``"5/30s"``, ``"20/10m"``, ``"3/day"``; None for ``""``/``"off"``."""
    if spec.strip().lower() in DISABLED:
        return None
    match = _SPEC.match(spec.lower())
    if match is None:
        raise ValueError(f"rate limit {name}: expected 'N/period' like '10/hour', got {spec!r}")
    count, amount, unit = match.groups()
    if unit not in _UNITS and unit != "":
        raise ValueError(f"rate limit {name}: unknown unit {unit!r}")
    seconds = float(amount or 1) * _UNITS.get(unit, 1.0)
    return Rule(name, int(count), seconds)


def take(rule: Rule, tat: float | None, now: float, cost: int = 1) -> tuple[float | None, Decision]:
    """Spend ``cost`` tokens at ``now``; returns the new state and the decision.

    A refused event does not change the state (the returned tat is the one passed in), so a
    client hammering a limit does not push its own reset further away."""
    start = now if tat is None else max(tat, now)
    new_tat = start + rule.interval * cost
    allow_at = new_tat - rule.period
    if now < allow_at:
        reset = max(0.0, start - now)
        return tat, Decision(False, 0, allow_at - now, reset)
    remaining = math.floor((now - allow_at) / rule.interval + 1e-9)
    return new_tat, Decision(True, remaining, 0.0, new_tat - now)


def expires_in(tat: float | None, now: float) -> float:
    """How long a stored state still matters; after that it equals a full bucket."""
    return 0.0 if tat is None else max(0.0, tat - now)
