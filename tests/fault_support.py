"""The fault matrix's rig: real ``python server.py`` processes in one of three deployments, one
participant (and officer) per phase of a call, all brought to their phase at once, then one
SIGKILL of the process that holds them (and a restart where the deployment has one).

Deployments:
- ``embedded``: the default — SQLite under DATA_DIR, in-process queue, no NODE_ID; restarted on
  the same DATA_DIR.
- ``fixed_node_id``: PostgreSQL + Redis, two nodes with fixed NODE_IDs; the one holding every
  socket and call is restarted under its NODE_ID. The node TTL is longer than the recovery bound,
  so only the restart's new incarnation can recover in time.
- ``random_node_id``: PostgreSQL + Redis, two nodes with random NODE_IDs; the killed one stays
  dead and the survivor claims it after the node TTL.

The cluster nodes share one DATA_DIR (shared storage, docs/deployment.md), so whoever recovers
a call can register the partial recording the dead process left.
"""

from __future__ import annotations

import asyncio
import logging
import random
import signal
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from tests.cluster_support import MediaPeer, Node, Rig, Sock, _Http, pair
from tests.conftest import Participant
from tests.integration.outcomes_support import APPROVE, Staff, make_account
from tests.support import REDIS_URL, make_nik, photo_bytes
from videocall.accounts import Role
from videocall.adapters import db

logger = logging.getLogger(__name__)

RECOVERY_BOUND_SECONDS = 30.0  # docs: after any fault the invariant is back within this
PHASES = ("waiting", "paired", "media", "hung_up", "decision")
MEDIA_PHASES = frozenset({"media", "hung_up", "decision"})
DEPLOYMENTS = ("embedded", "fixed_node_id", "random_node_id")
LONG_TTL_SECONDS = "120"  # fixed_node_id: a survivor's TTL-based reaping comes too late
# The decision is killed in flight, right after the hang-up it causes is committed (the session
# row leaves "active"; the recording is stored and the decision after that): once the server
# logs the hang-up it is frozen (SIGSTOP) and let run a STEP_SECONDS slice at a time until the
# row has changed. At the latest after IN_FLIGHT_LIMIT_SECONDS of waiting.
IN_FLIGHT_LIMIT_SECONDS = 3.0
STEP_SECONDS = 0.001


@dataclass
class Case:
    """One participant caught in ``phase`` by the kill, with their officer if paired."""

    phase: str
    person: Participant
    p_sock: Sock
    staff: Staff | None = None
    o_sock: Sock | None = None
    session_id: str | None = None
    peers: list[MediaPeer] = field(default_factory=list)
    record_before: dict[str, Any] = field(default_factory=dict)
    decision: asyncio.Task[tuple[int, Any]] | None = None
    notes: list[str] = field(default_factory=list)
    outcome: str = ""  # what the checks saw last, for the report
    # After the kill: the browser's reconnected sockets, opened by the checks.
    p_probe: Sock | None = None
    o_probe: Sock | None = None

    @property
    def had_media(self) -> bool:
        return self.phase in MEDIA_PHASES


def _read_from(path: Path, offset: int) -> str:
    with path.open("rb") as f:
        f.seek(offset)
        return f.read().decode(errors="replace")


class FaultRig:
    """One deployment: its processes, its people in every phase, the kill and the recovery."""

    def __init__(self, kind: str, workdir: Path, database_url: str) -> None:
        self.kind = kind
        self.workdir = workdir
        self.embedded = kind == "embedded"
        env = {} if kind != "fixed_node_id" else {"NODE_TTL_SECONDS": LONG_TTL_SECONDS}
        self.rig = Rig(workdir, database_url, REDIS_URL, **env)
        if self.embedded:
            for key in ("REDIS_URL", "REDIS_PREFIX", "DATABASE_URL"):
                self.rig.env.pop(key, None)
        self.shared_data = workdir / "data"
        self.doomed: Node | None = None
        self.survivor: Node | None = None
        self.supervisor: Staff | None = None
        self.cases: dict[str, Case] = {}
        self.killed_at = 0.0
        self.up_at = 0.0
        self.loop_time = asyncio.get_running_loop().time
        self.results: dict[str, float | BaseException] = {}  # by phase, see check_all
        self.timeline: list[str] = []  # set-up milestones, seconds since start, for the report
        self._t0 = self.loop_time()

    def mark(self, what: str) -> None:
        self.timeline.append(f"{self.loop_time() - self._t0:.1f}s {what}")

    # -- processes -----------------------------------------------------------------------

    def _node(self, name: str) -> Node:
        node = Node(name, dict(self.rig.env), self.workdir)
        if self.embedded:
            node.data_dir = self.workdir / name
        else:
            node.data_dir = self.shared_data
        node.env["DATA_DIR"] = str(node.data_dir)
        if self.kind != "fixed_node_id":
            node.env.pop("NODE_ID")  # embedded default, or random per process start
        self.rig.nodes.append(node)
        return node

    async def _spawn(self, node: Node) -> None:
        node.spawn()
        await node.ready()

    async def start(self) -> None:
        """The node that will be killed; in a cluster the survivor starts later (placement
        would otherwise put calls on it)."""
        self.doomed = self._node("doomed")
        await self._spawn(self.doomed)
        if not self.embedded:
            await self._wait_nodes(1)
        now = datetime.now(UTC)
        account = await make_account(self.rig.database, Role.SUPERVISOR, now)
        self.supervisor = await Staff.open(
            _Http(self.rig.http, self.doomed.url), self.rig.database, account, now
        )

    async def start_survivor(self) -> None:
        if self.embedded:
            return
        self.survivor = self._node("survivor")
        await self._spawn(self.survivor)
        await self._wait_nodes(2)

    async def _wait_nodes(self, count: int, timeout: float = 15) -> None:  # noqa: ASYNC109
        async with asyncio.timeout(timeout):
            while len(await self.rig.registry()) < count:  # noqa: ASYNC110 - lives in Redis
                await asyncio.sleep(0.1)

    @property
    def recovery_node(self) -> Node:
        """Where browsers reconnect after the kill: the restarted process, or the survivor."""
        if self.kind == "random_node_id":
            assert self.survivor is not None
            return self.survivor
        assert self.doomed is not None
        return self.doomed

    @property
    def deadline(self) -> float:
        return self.up_at + RECOVERY_BOUND_SECONDS

    def logs(self, chars: int = 6000) -> str:
        """Each node's first error (with its traceback) and the tail of its log."""
        parts = []
        for node in self.rig.nodes:
            text = node.log.read_text(errors="replace") if node.log.exists() else ""
            marks = [i for i in (text.find(" ERROR "), text.find("Traceback")) if i >= 0]
            first = min(marks, default=-1)
            if 0 <= first < len(text) - chars:
                parts.append(f"----- {node.name}: first error -----\n{text[first : first + 3000]}")
            parts.append(f"----- {node.name} log (tail) -----\n{text[-chars:]}")
        return "\n".join(parts)

    # -- people in their phases -------------------------------------------------------------

    async def prepare(self) -> None:
        """Every phase at once on the doomed node. People are made in parallel; pairing goes
        one by one (an officer takes the head of the queue), the waiting participant last; in
        a cluster the survivor starts once every call is placed, while media gets going."""
        assert self.doomed is not None
        doomed = self.doomed
        paired_phases = ("hung_up", "decision", "media", "paired")
        self.mark("server up")
        people = await asyncio.gather(*(self._participant(doomed) for _ in PHASES))
        officers = await asyncio.gather(*(self.rig.officer(doomed) for _ in paired_phases))
        self.mark("people ready")
        tickets = {}
        for phase, (person, p_sock), (staff, o_sock) in zip(
            paired_phases, people, officers, strict=False
        ):
            assert (await p_sock.call("join_queue")).get("queue"), phase
            reply, paired = await pair(p_sock, o_sock)
            self.cases[phase] = Case(phase, person, p_sock, staff, o_sock, reply["session_id"])
            tickets[phase] = (paired["media"], reply["media"])
        person, p_sock = people[-1]
        answer = await p_sock.call("join_queue")
        assert answer.get("queue"), answer
        self.cases["waiting"] = Case("waiting", person, p_sock)
        self.mark("paired")
        survivor = asyncio.create_task(self.start_survivor())
        try:
            await asyncio.gather(
                *(self._with_media(self.cases[phase], *tickets[phase]) for phase in MEDIA_PHASES)
            )
        finally:
            await survivor
        self.mark("media flowing, hung up, snapshots taken")
        for case in self.cases.values():
            case.record_before = await self.record(case.person.record_id)

    async def _participant(self, node: Node) -> tuple[Participant, Sock]:
        """``ready_for_call`` with the smallest photos the rules take: the upload checks (and
        the officer assist's OCR and face model behind them) cost by the pixel. Each person's
        photos are their own (identical photos uploaded at once by two people hit a race in
        the blob store's temporary file, which is not what this matrix is about)."""
        person = Participant(_Http(self.rig.http, node.url), make_nik(female=True))  # type: ignore[arg-type]
        await person.register()
        assert (await person.profile()).status == 200
        seed = random.randrange(1 << 30)
        for i, kind in enumerate(("ktp", "selfie_with_ktp", "face")):
            resp = await person.upload(kind, photo_bytes(480, 360, seed=seed + i))
            assert resp.status == 200, await resp.text()
        resp = await person.client.post("/api/me/consent", headers=person.auth)
        assert resp.status == 200, await resp.text()
        return person, await self.rig.participant_socket(person, node)

    async def _with_media(self, case: Case, p_ticket: Any, o_ticket: Any) -> None:
        case.peers = [await self.rig.media(p_ticket), await self.rig.media(o_ticket)]
        await self._media_flowing(case)
        if case.phase == "hung_up":
            assert case.o_sock is not None
            answer = await case.o_sock.call("end_call", {"session_id": case.session_id})
            case.notes.append(f"officer end_call answered {answer}")
            await self._wait_ended(case)
            for peer in case.peers:  # the browsers leave the call page
                await peer.close()
        elif case.phase == "decision":
            for kind in ("face", "ktp"):
                await self._snapshot(case, kind)

    async def _snapshot(self, case: Case, kind: str, timeout: float = 30) -> None:  # noqa: ASYNC109
        """The officer takes a snapshot; on a busy machine the server may pause the video as
        on a weak uplink (``video_paused``): the page then tries again once it is back."""
        deadline = self.loop_time() + timeout
        while True:
            shot = await case.peers[1].sio.call(
                "snapshot", {"kind": kind}, namespace="/media", timeout=20
            )
            if shot.get("ok"):
                return
            code = (shot.get("error") or {}).get("code")
            assert code == "video_paused" and self.loop_time() < deadline, shot
            await asyncio.sleep(0.5)

    async def _media_flowing(self, case: Case, timeout: float = 30) -> None:  # noqa: ASYNC109
        """Both sides receive video and the recording has reached the disk."""
        assert self.doomed is not None
        prefix = f"{case.session_id}-"

        def flowing() -> bool:
            files = [p for p in self.doomed.recordings() if p.name.startswith(prefix)]  # type: ignore[union-attr]
            return all(p.video_frames() > 30 for p in case.peers) and any(
                f.stat().st_size > 40_000 for f in files
            )

        async with asyncio.timeout(timeout):
            while not flowing():  # noqa: ASYNC110 - frames and files fill in other tasks
                await asyncio.sleep(0.1)

    async def _wait_ended(self, case: Case, timeout: float = 15) -> None:  # noqa: ASYNC109
        """After a hang-up: the session has ended and its recording is stored."""
        loop_deadline = self.loop_time() + timeout
        while self.loop_time() < loop_deadline:
            status, body = await self.session(case.session_id or "")
            if status == 200 and (body.get("recording") or {}).get("segments"):
                case.notes.append(f"after hang-up: session {body['session']}")
                return
            await asyncio.sleep(0.1)
        case.notes.append("after hang-up: no recording stored with the session in 15 s")

    # -- the fault --------------------------------------------------------------------------

    async def kill_and_recover(self) -> None:
        """Decision in flight, SIGKILL, and the restart where the deployment has one."""
        assert self.doomed is not None
        case = self.cases["decision"]
        assert case.staff is not None
        path = f"/api/sessions/{case.session_id}/decision"
        offset = self.doomed.log.stat().st_size
        case.decision = asyncio.create_task(case.staff.post(path, APPROVE))
        seen = await self._in_flight(self.doomed, offset, case.session_id or "")
        self.doomed.kill()
        self.killed_at = self.loop_time()
        self.mark("killed")
        answered = case.decision.done()
        case.notes.append(f"killed with {seen}; the decision was answered by then: {answered}")
        if self.kind != "random_node_id":
            await self._spawn(self.doomed)
        self.up_at = self.loop_time()
        self.mark(f"{self.recovery_node.name} up")
        logger.info("%s: killed, recovery node up %.1f s later", self.kind, self.up_at)
        base = self.recovery_node.url
        assert self.supervisor is not None
        self.supervisor.client.base = base
        for c in self.cases.values():
            c.person.client.base = base  # type: ignore[attr-defined]
            if c.staff is not None:
                c.staff.client.base = base

    async def _in_flight(self, node: Node, offset: int, session_id: str) -> str:
        """Freeze the node at the hang-up's log line, then step it until the hang-up is in SQL;
        what was seen, for the report. The caller kills the (stopped) process."""
        marker = f"call {session_id} ended"
        deadline = self.loop_time() + IN_FLIGHT_LIMIT_SECONDS
        while marker not in _read_from(node.log, offset) and self.loop_time() < deadline:  # noqa: ASYNC110 - written by another process
            await asyncio.sleep(0.001)
        assert node.proc is not None
        node.proc.send_signal(signal.SIGSTOP)
        steps = 0
        row = await self._decision_row(session_id)
        while (row is None or row[0] == "active") and self.loop_time() < deadline:
            node.proc.send_signal(signal.SIGCONT)
            await asyncio.sleep(STEP_SECONDS)
            node.proc.send_signal(signal.SIGSTOP)
            steps += 1
            row = await self._decision_row(session_id)
        state, stored = row if row is not None else ("unreadable", False)
        return f"session {state} in SQL after {steps} step(s), recording stored: {stored}"

    async def _decision_row(self, session_id: str) -> tuple[str, bool] | None:
        """(state, recording stored) of a session; None while the database is locked by the
        frozen process (SQLite)."""
        c = db.call_sessions.c
        query = sa.select(c.state, c.recording).where(c.id == session_id)
        try:
            async with self.rig.database.connect() as conn:
                row = (await conn.execute(query)).one()
        except sa.exc.OperationalError:
            return None
        return str(row.state), bool((row.recording or {}).get("segments"))

    async def settle_decision(self) -> str:
        """How the decision request sent into the kill ended, for the report."""
        task = self.cases["decision"].decision
        if task is None:
            return "not sent"
        try:
            status, body = await asyncio.wait_for(task, 15)
        except Exception as exc:  # the connection died with the process
            return f"no answer ({type(exc).__name__})"
        return f"answered {status} {body}"

    # -- reads --------------------------------------------------------------------------------

    async def record(self, record_id: str) -> dict[str, Any]:
        assert self.supervisor is not None
        status, body = await self.supervisor.get(f"/api/records/{record_id}")
        assert status == 200, body
        return dict(body)

    async def session(self, session_id: str) -> tuple[int, Any]:
        assert self.supervisor is not None
        return await self.supervisor.get(f"/api/sessions/{session_id}")

    async def close(self) -> None:
        for case in self.cases.values():
            if case.decision is not None and not case.decision.done():
                case.decision.cancel()
                await asyncio.gather(case.decision, return_exceptions=True)
        await self.rig.close()
