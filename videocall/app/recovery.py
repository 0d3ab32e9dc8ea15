"""Bringing the live state and the durable record back together after a fault.

The SQL session is the truth that outlives processes; the queue store holds the live call
(grace windows, presence). They can disagree after a crash:

- **This node restarted.** Whatever its previous incarnation owned is lost at once (not after
  the node timeout): its people's sockets, and the calls whose media it hosted. With the
  in-process store (embedded default) every open call was this process's.
- **Another node died** (silent for ``NODE_TTL_SECONDS``, claimed by this one): its calls end and
  its people's sockets count as gone.
- **A call open in SQL that the store no longer knows** (the store was lost, or a process died
  between the store's change and the SQL write): seen twice in a row, ``SWEEP_SECONDS`` apart,
  it ends as interrupted. The two sightings leave an ordinary end time to reach SQL.

A call ended this way goes back to ``ready_for_call`` (the participant is told, and may queue
again); when the store still had the call, ``MediaLost`` puts them at the head of the queue.
The partial recording the dead process left is registered with its SHA-256.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from videocall.app import messages as msg
from videocall.app.calls import CallService
from videocall.app.desk import DeskService
from videocall.app.ports import CallSessionRow, CallSessions, Notifier, RecordingRecovery
from videocall.clock import Clock
from videocall.errors import VideoCallError
from videocall.placement import NodeInfo
from videocall.queue import QueueStore

logger = logging.getLogger(__name__)

SWEEP_SECONDS = 5.0
ACTOR = "system:recovery"


class Reconciler:
    def __init__(
        self,
        *,
        store: QueueStore,
        sessions: CallSessions,
        calls: CallService,
        desk: DeskService,
        notifier: Notifier,
        recordings: RecordingRecovery,
        clock: Clock,
    ) -> None:
        self.store = store
        self.sessions = sessions
        self.calls = calls
        self.desk = desk
        self.notifier = notifier
        self.recordings = recordings
        self.clock = clock
        self._suspects: set[str] = set()

    async def on_start(self, node_id: str, *, fresh_store: bool) -> int:
        """This process is a new incarnation of ``node_id``: end what the previous one owned.
        ``fresh_store``: the queue store started empty (in-process), so every open call was
        lost with the old process. Returns how many calls were ended."""
        await self.desk.connections_lost(node_id)
        rows = [
            row for row in await self.sessions.open_sessions() if fresh_store or row.node == node_id
        ]
        await self.end_all_lost(rows, reason="server_restarted")
        if rows:
            logger.warning("recovery: %d call(s) of a previous incarnation ended", len(rows))
        await self._register_undecided(lambda node: fresh_store or node == node_id)
        return len(rows)

    async def _register_undecided(self, owned: Callable[[str | None], bool]) -> None:
        """Calls hung up just before the process died wait for their decision; the recording
        their media never finished storing is on disk."""
        for undecided in await self.sessions.undecided():
            row = await self.sessions.get(undecided.session_id)
            if owned(row.node):
                await self.register_recording(row.id)

    async def node_lost(self, node: NodeInfo) -> None:
        """A dead node (claimed by this one): its calls end at once, participants back at the
        head, and whoever was connected only through it starts their grace window."""
        rows = await self.sessions.open_on_node(node.node_id)
        await self.end_all_lost(rows, reason="node_lost", node=node.node_id)
        await self._register_undecided(lambda owner: owner == node.node_id)
        await self.desk.connections_lost(node.node_id)

    async def sweep(self) -> None:
        """Calls open in SQL that the store does not know, seen on two sweeps in a row."""
        live = set(await self.store.live_calls())
        suspects: set[str] = set()
        for row in await self.sessions.open_sessions():
            if row.id in live:
                continue
            if row.id in self._suspects:
                await self.end_all_lost([row], reason="call_state_lost")
            else:
                suspects.add(row.id)
        self._suspects = suspects

    async def end_all_lost(
        self, rows: list[CallSessionRow], *, reason: str, node: str | None = None
    ) -> None:
        """End calls whose media is gone, all of them first (people are freed at once), then
        register what each recorded (hashing files takes longer)."""
        for row in rows:
            if await self.calls.media_lost(row.id):
                logger.warning("call %s: media lost (%s), participant requeued", row.id, reason)
            else:
                await self._end_orphan(row, reason)
            if node is not None:
                await self.calls.note_lost_node(row.record_id, row.id, node)
            await self.desk.officer_changed(row.officer_id)
        for row in rows:
            await self.register_recording(row.id)

    async def _end_orphan(self, row: CallSessionRow, reason: str) -> None:
        try:
            await self.sessions.end_interrupted(
                row.id, reason=reason, actor=ACTOR, now=self.clock.now()
            )
        except VideoCallError as exc:
            logger.info("call %s: already ended (%s)", row.id, exc.code)
            return
        logger.warning("call %s: ended as interrupted (%s)", row.id, reason)
        body: dict[str, Any] = {
            "session_id": row.id,
            "reason": "interrupted",
            "ended_by": None,
            "requeued": False,
            "awaiting_decision": False,
            "server_restarted": True,
        }
        await self.notifier.to_participant(row.record_id, msg.CALL_ENDED, body)
        await self.notifier.to_officer(row.officer_id, msg.CALL_ENDED, body)

    async def register_recording(self, session_id: str) -> None:
        """Store the partial recording found on disk, unless a clean close stored one."""
        row = await self.sessions.get(session_id)
        if row.recording and row.recording.get("segments"):
            return
        try:
            recording = await self.recordings.recover(session_id)
        except Exception:
            logger.exception("call %s: recovering the recording failed", session_id)
            return
        if recording is not None:
            await self.sessions.update_media(session_id, recording=recording)
            logger.info(
                "call %s: partial recording registered (%d segment(s))",
                session_id,
                len(recording.get("segments", [])),
            )
