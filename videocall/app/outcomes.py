"""Decisions on calls: the officer's (or, for a stale call, a supervisor's) decision, and a
supervisor sending the participant of an undecided call back to the queue.

A decision is validated before the call is hung up: while the participant is still on camera,
missing snapshots are told to the officer, who can take them. Only then does the decision end
the call (the recording is closed and hashed: it is evidence) and get stored, with the record's
transition, in one transaction.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from videocall.accounts import Account, Role
from videocall.app import messages as msg
from videocall.app.calls import CallService
from videocall.app.desk import DeskService
from videocall.app.ports import CallSessionRow, CallSessions, Notifier, OutcomeStore, StoredDecision
from videocall.clock import Clock
from videocall.errors import NotAllowed
from videocall.outcomes import (
    DecidableCall,
    Decision,
    Evidence,
    check_decidable,
    check_release_reason,
    check_snapshots,
    evidence_from_media,
    validate_decision,
)

logger = logging.getLogger(__name__)

# What a form must be consistent with before anything is looked up (contradictions only).
_FULL_EVIDENCE = Evidence(frozenset({"face", "ktp"}), ("0" * 64,))


def decidable(row: CallSessionRow, decided: bool) -> DecidableCall:
    return DecidableCall(
        officer_id=row.officer_id,
        state=row.state,
        connected=row.connected_at is not None,
        ended_at=row.ended_at,
        decided=decided,
    )


class OutcomeService:
    def __init__(
        self,
        *,
        sessions: CallSessions,
        outcomes: OutcomeStore,
        calls: CallService,
        desk: DeskService,
        notifier: Notifier,
        clock: Clock,
        escalate_after: timedelta,
        assist: Callable[[str, str], Awaitable[dict[str, Any] | None]] | None = None,
    ) -> None:
        self.sessions = sessions
        self.outcomes = outcomes
        self.calls = calls
        self.desk = desk
        self.notifier = notifier
        self.clock = clock
        self.escalate_after = escalate_after
        # The officer-assist summary (KTP reading, face bands) stored with the evidence.
        self.assist = assist

    def _check(self, row: CallSessionRow, decided: bool, account: Account) -> None:
        check_decidable(
            decidable(row, decided),
            account_id=account.id,
            supervisor=account.role is Role.SUPERVISOR,
            now=self.clock.now(),
            escalate_after=self.escalate_after,
        )

    async def decide(self, session_id: str, account: Account, decision: Decision) -> StoredDecision:
        validate_decision(decision, _FULL_EVIDENCE)
        row = await self.sessions.get(session_id)
        self._check(row, False, account)
        if row.state == "active":
            # Still live: what is missing can be fixed while the participant is on camera.
            check_snapshots(decision, evidence_from_media(None, row.snapshots).snapshot_kinds)
            await self.calls.end_for_decision(session_id, account.actor)

        summary = await self._assist_summary(row.record_id, session_id)

        def check(locked: CallSessionRow, decided: bool) -> Evidence:
            self._check(locked, decided, account)
            evidence = evidence_from_media(locked.recording, locked.snapshots)
            validate_decision(decision, evidence)
            return dataclasses.replace(evidence, assist=summary)

        stored = await self.outcomes.decide(session_id, account, decision, self.clock.now(), check)
        logger.info("call %s decided %s by %s", session_id, decision.result.value, account.actor)
        await self.notifier.to_participant(
            row.record_id, msg.DECIDED, {"session_id": session_id, "result": stored.result.value}
        )
        await self.desk.officer_changed(row.officer_id)
        return stored

    async def _assist_summary(self, record_id: str, session_id: str) -> dict[str, Any] | None:
        if self.assist is None:
            return None
        try:
            return await self.assist(record_id, session_id)
        except Exception:
            # Help for the officer, never a reason to refuse the decision.
            logger.warning("call %s: no assist summary for the evidence", session_id, exc_info=True)
            return None

    async def release(self, session_id: str, supervisor: Account, reason: str) -> CallSessionRow:
        """Send the participant of an undecided call back to ``ready_for_call``."""
        if supervisor.role is not Role.SUPERVISOR:
            raise NotAllowed("only a supervisor may release a call", code="role_forbidden")
        check_release_reason(reason)
        row = await self.sessions.release(
            session_id, reason=reason, actor=supervisor.actor, now=self.clock.now()
        )
        logger.info("call %s released by %s (%s)", session_id, supervisor.actor, reason)
        await self.notifier.to_participant(
            row.record_id, msg.CALL_RELEASED, {"session_id": session_id, "reason": reason}
        )
        await self.desk.officer_changed(row.officer_id)
        return row
