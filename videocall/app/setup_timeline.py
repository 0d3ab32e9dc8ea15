"""The set-up timeline of every call as the server sees it: how long after the officer's accept
each step towards the participant's picture on the officer's screen was reached.

    timeline = SetupTimeline(observe=lambda step, seconds: ..., now=time.monotonic)
    timeline.accepted(call_id)            # the call service, when the accept paired the call
    timeline.mark(call_id, "ice_connected")   # the call service and the media engine

Steps (``SETUP_STEPS``, in order; each observed at most once per call, in seconds since the
accept): ``accept_ack`` (the officer's answer to ``accept_next`` is ready), ``both_told`` (that
answer and the participant's ``paired`` message are out; the participant is told first, so
the two coincide on the server), then from the media engine: ``offers_received`` (both sides'
SDP offers reached the call), ``ice_checking`` / ``ice_connected`` / ``dtls_connected`` (both
server peer connections; the later of the two), ``first_rtp`` / ``first_keyframe`` (the
participant's video at the server) and ``first_frame_forwarded`` (the first participant frame
handed to the officer's sender).

Only what happened in this process is timed: in a cluster, a call whose media is hosted on
another process than the accept has no media steps there (monotonic clocks of two processes
do not compare). A call is forgotten once its last step was seen, or ``max_age_s`` after the
accept (it never got media).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

SETUP_STEPS = (
    "accept_ack",
    "both_told",
    "offers_received",
    "ice_checking",
    "ice_connected",
    "dtls_connected",
    "first_rtp",
    "first_keyframe",
    "first_frame_forwarded",
)
MAX_AGE_S = 600.0


class SetupSteps(Protocol):
    """What the call service and the media engine tell about a call's set-up."""

    def accepted(self, call_id: str) -> None: ...

    def mark(self, call_id: str, step: str) -> None: ...


class SetupTimeline:
    """Per-call set-up steps, each passed once to ``observe(step, seconds since accept)``."""

    def __init__(
        self,
        observe: Callable[[str, float], None],
        now: Callable[[], float],
        max_age_s: float = MAX_AGE_S,
    ) -> None:
        self._observe = observe
        self._now = now
        self._max_age_s = max_age_s
        self._calls: dict[str, tuple[float, set[str]]] = {}  # call -> (accept, steps seen)

    def accepted(self, call_id: str) -> None:
        now = self._now()
        self._forget_old(now)
        self._calls[call_id] = (now, set())

    def mark(self, call_id: str, step: str) -> None:
        entry = self._calls.get(call_id)
        if entry is None or step in entry[1]:
            return
        accept_at, seen = entry
        seen.add(step)
        self._observe(step, max(0.0, self._now() - accept_at))
        if seen.issuperset(SETUP_STEPS):
            del self._calls[call_id]

    def pending(self) -> int:
        """Calls whose set-up is still being timed."""
        return len(self._calls)

    def _forget_old(self, now: float) -> None:
        old = [c for c, (at, _) in self._calls.items() if now - at > self._max_age_s]
        for call_id in old:
            del self._calls[call_id]
