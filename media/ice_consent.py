"""A guard for an aioice race: a connection closed while ``connect()`` finishes keeps a consent
task forever.

``aioice.Connection.connect()`` starts its consent-freshness task (RFC 7675) only after the check
list completed. When ``close()`` runs in between (a leg dropped as its ICE completes: a re-offer,
a reconnect, a call ended during set-up), ``close()`` finds no task to cancel and ``connect()``
then starts one on the closed connection. That task loops every ~5 s over an empty set of
nominated pairs, for the life of the process (seen in tests/integration/test_network_late_h264.py
as two tasks left behind per re-offer). ``guard_consent_after_close()`` wraps
``Connection.query_consent`` so that a task started on a closing connection ends at once.

aioice internals relied on (aioice 0.10; tests/integration/test_rtc_internals.py checks them):
``Connection.query_consent`` (an ``async`` method, the task's body) and ``Connection._closing``
(set first thing in ``close()``).
"""

from __future__ import annotations

import functools

import aioice.ice

_original = aioice.ice.Connection.query_consent


@functools.wraps(_original)
async def _query_consent(self: aioice.ice.Connection) -> None:
    if getattr(self, "_closing", False):
        return  # closed before connect() got here: nothing to keep fresh
    await _original(self)


def guard_consent_after_close() -> None:
    """Install the guard (process-wide, idempotent)."""
    aioice.ice.Connection.query_consent = _query_consent  # type: ignore[method-assign]
