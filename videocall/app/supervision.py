"""Live supervision: a supervisor lists the calls in progress, watches one silently and may end
it with a reason. Only supervisors; the call's state changes only through ``CallService``.

- ``watch`` hands out a ticket for a receive-only connection to the node hosting the call's
  media; the media node reports when the watcher's connection starts and ends
  (``watching``), which is written to the record's history with the supervisor's identity and
  shown on the officer's call view (``watched`` {session_id, watching, watchers, supervisor}).
- ``end`` writes the reason to the history, tells the officer (``supervisor_ended`` with the
  reason) and the participant (``supervisor_ended`` without it), then hangs up for the officer's
  side: a conversation that took place waits for the officer's decision as after any hang-up;
  one that had not connected gives the participant back the head of the queue.
"""

from __future__ import annotations

import logging
from typing import Any

from videocall.accounts import Account, Role
from videocall.app.calls import CallService
from videocall.app.ports import CallSessionRow, CallSessions, Journal, Notifier, Watching
from videocall.errors import Conflict, NotAllowed
from videocall.privacy import clean_reason
from videocall.queue import QueueStore
from videocall.sessions import Phase, Side

logger = logging.getLogger(__name__)

WATCH_STARTED = "supervision_started"
WATCH_ENDED = "supervision_ended"
ENDED_BY_SUPERVISOR = "call_ended_by_supervisor"
# Pushed to the officer's pages (/officer) and, for the end, the participant's.
WATCHED = "watched"
SUPERVISOR_ENDED = "supervisor_ended"


def require_supervisor(account: Account) -> None:
    if account.role is not Role.SUPERVISOR:
        raise NotAllowed("only a supervisor may watch or end a call", code="role_forbidden")


class SupervisionService:
    def __init__(
        self,
        *,
        store: QueueStore,
        sessions: CallSessions,
        calls: CallService,
        watching: Watching,
        journal: Journal,
        notifier: Notifier,
    ) -> None:
        self.store = store
        self.sessions = sessions
        self.calls = calls
        self.media = watching
        self.journal = journal
        self.notifier = notifier

    async def live(self, account: Account) -> list[CallSessionRow]:
        """The calls in progress (paired or connected), oldest first."""
        require_supervisor(account)
        rows = await self.sessions.open_sessions()
        return sorted(rows, key=lambda r: r.created_at)

    async def watch(self, session_id: str, account: Account) -> dict[str, Any]:
        """A ticket to watch the call (``call_not_live`` once it is over)."""
        require_supervisor(account)
        row = await self._live_row(session_id)
        ticket = await self.media.watch_ticket(session_id, account, row.node)
        logger.info("call %s: ticket to watch for %s", session_id, account.actor)
        return {"session_id": session_id, "media": ticket}

    async def watching(
        self, session_id: str, actor: str, name: str, change: str, watchers: int
    ) -> None:
        """The media node says a watcher's connection started or ended (``still``: the officer
        reconnected and is told again, without a new history entry)."""
        row = await self.sessions.get(session_id)
        if change != "still":
            await self.journal.note(
                row.record_id,
                WATCH_STARTED if change == "started" else WATCH_ENDED,
                actor=actor,
                detail={"session_id": session_id},
            )
        body = {
            "session_id": session_id,
            "watching": watchers > 0,
            "watchers": watchers,
            "supervisor": name,
        }
        await self.notifier.to_officer(row.officer_id, WATCHED, body)

    async def end(self, session_id: str, account: Account, reason: Any) -> None:
        """End a call in progress with a reason (required)."""
        require_supervisor(account)
        text = clean_reason(reason, required=True, code="end_reason_required")
        assert text is not None
        row = await self._live_row(session_id)
        await self.journal.note(
            row.record_id,
            ENDED_BY_SUPERVISOR,
            actor=account.actor,
            detail={"session_id": session_id, "reason": text},
        )
        told = {"session_id": session_id}
        officer = {**told, "supervisor": account.display_name, "reason": text}
        await self.notifier.to_officer(row.officer_id, SUPERVISOR_ENDED, officer)
        await self.notifier.to_participant(row.record_id, SUPERVISOR_ENDED, told)
        await self.calls.hang_up(session_id, Side.OFFICER, account.actor)
        logger.info("call %s ended by supervisor %s", session_id, account.actor)

    async def _live_row(self, session_id: str) -> CallSessionRow:
        row = await self.sessions.get(session_id)
        live = await self.store.get_call(session_id)
        if row.ended_at is not None or live is None or live.phase is Phase.ENDED:
            raise Conflict("the call is not in progress", code="call_not_live")
        return row
