"""Officer presence: whether an officer can take the next call.

``busy`` is never set by hand: an officer is busy exactly while a call is assigned to them,
so the queue store derives it from its call table and refuses to let anyone else change it.
"""

from __future__ import annotations

from enum import StrEnum


class Presence(StrEnum):
    AVAILABLE = "available"  # at the desk, free to take the next call
    BUSY = "busy"  # in a call
    AWAY = "away"  # logged in but not taking calls, or disconnected


# What an officer (or their socket) may set; busy comes and goes with calls only.
SETTABLE = frozenset({Presence.AVAILABLE, Presence.AWAY})
