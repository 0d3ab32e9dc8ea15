"""THE INVARIANT after a fault, read from outside as the people involved and a supervisor see it.

Each participant is in exactly one of: free to join (``join_queue`` works, so then waiting),
waiting, in a live call, awaiting a decision that the officer's desk and the supervisor board
both show, or past the call; their call session is terminal, live or awaiting a decision; the
officer is not stuck busy; a call that had media has its recording listed with its SHA-256 and
readable with PyAV (served to a supervisor); nothing else in the record changed.

``evaluate`` returns the violations at one moment (empty: it holds); ``wait_for_invariant``
polls it until it holds or the recovery bound has passed.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import tempfile
from pathlib import Path
from typing import Any

import av
import sqlalchemy as sa

from tests.fault_support import Case, FaultRig
from videocall.adapters import db

TERMINAL = frozenset({"decided", "interrupted", "released"})
PAST_CALL = frozenset({"under_review", "active", "rejected", "retry_required"})
# What each phase may end in once recovered (media gone: no live call).
ALLOWED = {
    "waiting": {"waiting"},
    "paired": {"waiting", "live"},
    "media": {"waiting"},
    "hung_up": {"awaiting"},
    "decision": {"waiting", "awaiting", "past"},
}
# A record may change only these (besides state and new history) when its call is decided.
DECIDED_FIELDS = frozenset({"due_at"})
VOLATILE = frozenset({"state", "history", "updated_at"})
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


async def _probe(rig: FaultRig, case: Case) -> None:
    """Reconnect the browsers' sockets to the recovery node (once it accepts them)."""
    node = rig.recovery_node
    if case.p_probe is None:
        case.p_probe = await rig.rig.participant_socket(case.person, node)
    if case.o_probe is None and case.staff is not None:
        case.o_probe = await rig.rig.officer_socket(case.staff.account, case.staff, node)


async def _get(client: Any, path: str, headers: dict[str, str]) -> tuple[int, Any]:
    async with client.get(path, headers=headers) as resp:
        try:
            return resp.status, await resp.json()
        except Exception:
            return resp.status, await resp.text()


def _classify(join: Any) -> tuple[str, str | None]:
    """The participant's situation from their ``join_queue`` answer: (kind, session id)."""
    if not isinstance(join, dict):
        return f"unexpected answer {join!r}", None
    if join.get("ok") and join.get("call"):
        return "live", join["call"].get("session_id")
    if join.get("ok") and join.get("awaiting_decision"):
        return "awaiting", join["awaiting_decision"].get("session_id")
    if join.get("ok") and join.get("queue") and join["queue"].get("position"):
        return "waiting", None
    if not join.get("ok") and (join.get("error") or {}).get("code") == "not_ready_for_call":
        return "past", None
    return f"unexpected join_queue answer {join!r}", None


async def evaluate(rig: FaultRig, case: Case, verified: set[str]) -> list[str]:
    """The violations of the invariant for ``case`` right now (``verified``: recordings
    already downloaded and opened, by SHA-256)."""
    try:
        await _probe(rig, case)
    except Exception as exc:
        return [f"cannot reconnect to {rig.recovery_node.name}: {exc!r}"]
    assert case.p_probe is not None and rig.supervisor is not None
    sid = case.session_id
    problems: list[str] = []
    record = await rig.record(case.person.record_id)
    state = record["state"]
    status, me = await _get(case.person.client, "/api/me", case.person.auth)
    call_status = me.get("call_status") if status == 200 else f"GET /api/me {status}"
    join = await case.p_probe.call("join_queue")
    kind, join_sid = _classify(join)
    if kind == "past" and state not in PAST_CALL:
        kind = f"refused not_ready_for_call while the record is {state}"
    session: dict[str, Any] = {}
    if sid is not None:
        status, body = await rig.session(sid)
        if status != 200:
            return [f"GET /api/sessions/{sid} as supervisor: {status} {body}"]
        session = body
    s_state = session.get("session", {}).get("state")
    board = await _undecided(rig.supervisor)
    desk = await _undecided(case.staff) if case.staff is not None else set()

    case.outcome = f"{kind} (record {state}, session {s_state})"
    allowed = ALLOWED[case.phase]
    if rig.kind == "random_node_id":
        # The node that was to host the call's media is gone for good: a paired call can
        # never connect, so "live" there is only the moment before the loss was noticed.
        allowed = allowed - {"live"}
    if kind not in allowed:
        problems.append(f"participant is {kind!r} (record {state}, session {s_state})")
    if join_sid is not None and join_sid != sid:
        problems.append(f"join_queue points at another session {join_sid} (ours {sid})")
    problems += _consistent(kind, state, s_state, call_status, sid, board, desk, session)
    if case.o_probe is not None:
        problems += await _officer(case, kind, sid)
    problems += _unchanged(case.record_before, record, decided=s_state == "decided")
    problems += await _all_sessions(rig, case)
    if case.had_media:
        problems += await _recording(rig, case, session, verified)
    return problems


def _consistent(
    kind: str,
    state: str,
    s_state: str | None,
    call_status: Any,
    sid: str | None,
    board: set[str] | str,
    desk: set[str] | str,
    session: dict[str, Any],
) -> list[str]:
    p: list[str] = []
    listed = sid is not None and isinstance(board, set) and sid in board
    on_desk = sid is not None and isinstance(desk, set) and sid in desk
    for where, seen in (("supervisor board", board), ("officer desk", desk)):
        if isinstance(seen, str):
            p.append(f"GET /api/sessions/undecided on the {where}: {seen}")
    if kind == "live":
        expect = ("in_call", "active", "live")
    elif kind == "awaiting":
        expect = ("in_call", "awaiting_decision", "awaiting_decision")
        if not (listed and on_desk):
            p.append(f"undecided call not shown: board={listed} desk={on_desk}")
        if not session.get("session", {}).get("ended_at"):
            p.append("awaiting a decision but the session has no ended_at")
    elif kind == "waiting":
        expect = ("ready_for_call", None, "none")
        if s_state is not None and s_state not in TERMINAL - {"decided"}:
            p.append(f"waiting again but the session is {s_state!r}")
    elif kind == "past":
        expect = ("", "decided", "none")
        if state not in PAST_CALL:
            p.append(f"join refused but the record is {state!r}")
        if not session.get("decision"):
            p.append("past the call but the session shows no decision")
    else:
        return p
    if expect[0] and state != expect[0]:
        p.append(f"{kind}: record is {state!r}, expected {expect[0]!r}")
    if expect[1] and s_state != expect[1]:
        p.append(f"{kind}: session is {s_state!r}, expected {expect[1]!r}")
    if call_status != expect[2]:
        p.append(f"{kind}: /api/me call_status is {call_status!r}, expected {expect[2]!r}")
    if kind != "awaiting" and (listed or on_desk):
        p.append(f"{kind}: the session is still listed as undecided")
    if s_state is not None and s_state not in TERMINAL | {"active", "awaiting_decision"}:
        p.append(f"session state {s_state!r} is not one of the contract's states")
    return p


async def _all_sessions(rig: FaultRig, case: Case) -> list[str]:
    """Every call session of the record (read from the database): in a state of the contract,
    ended when terminal, and none open but the case's own."""
    c = db.call_sessions.c
    query = sa.select(c.id, c.state, c.ended_at).where(c.record_id == case.person.record_id)
    async with rig.rig.database.connect() as conn:
        rows = (await conn.execute(query)).all()
    p = []
    for row in rows:
        if row.state not in TERMINAL | {"active", "awaiting_decision"}:
            p.append(f"session {row.id} is in state {row.state!r}, not one of the contract's")
        elif row.state in TERMINAL and row.ended_at is None:
            p.append(f"session {row.id} is {row.state} but has no ended_at")
        elif row.state not in TERMINAL and row.id != case.session_id:
            p.append(f"another session {row.id} of the record is open ({row.state})")
    return p


async def _undecided(staff: Any) -> set[str] | str:
    status, body = await staff.get("/api/sessions/undecided")
    if status != 200 or not isinstance(body, dict):
        return f"{status} {body}"
    return {str(item["session_id"]) for item in body.get("items", [])}


async def _officer(case: Case, kind: str, sid: str | None) -> list[str]:
    assert case.o_probe is not None
    answer = await case.o_probe.call("set_presence", {"presence": "available"})
    if not answer.get("ok"):
        return [f"officer set_presence refused: {answer}"]
    presence, call = answer.get("presence"), answer.get("call")
    undecided = {str(u.get("session_id")) for u in answer.get("undecided") or []}
    p = []
    if kind == "live":
        if presence != "busy" or not call or call.get("session_id") != sid:
            p.append(f"live call but the officer is {presence!r} with call {call}")
    elif presence != "available" or call:
        p.append(f"officer stuck: presence {presence!r}, call {call}")
    if (kind == "awaiting") != (sid in undecided):
        p.append(f"officer's presence answer lists undecided {sorted(undecided)} ({kind})")
    # Exactly one place: in the queue officers see if and only if waiting.
    entries = (answer.get("queue") or {}).get("entries") or []
    queued = case.person.record_id in {e.get("record_id") for e in entries}
    if queued != (kind == "waiting"):
        p.append(f"participant is {kind} but {'' if queued else 'not '}in the officers' queue")
    return p


def _unchanged(before: dict[str, Any], after: dict[str, Any], *, decided: bool) -> list[str]:
    p = []
    may_change = VOLATILE | (DECIDED_FIELDS if decided else frozenset())
    for key in sorted(set(before) | set(after)):
        if key not in may_change and before.get(key) != after.get(key):
            p.append(f"record field {key!r} changed: {before.get(key)!r} -> {after.get(key)!r}")
    old, new = before.get("history") or [], after.get("history") or []
    if new[: len(old)] != old:
        p.append("record history was rewritten (the old entries are not a prefix of the new)")
    return p


async def _recording(
    rig: FaultRig, case: Case, session: dict[str, Any], verified: set[str]
) -> list[str]:
    segments = (session.get("recording") or {}).get("segments") or []
    if not segments:
        return ["a call that had media lists no recording segment"]
    p = []
    for index, segment in enumerate(segments):
        digest = str(segment.get("sha256", ""))
        if not _SHA256.match(digest):
            p.append(f"segment {index} has no SHA-256: {segment}")
        elif digest not in verified:
            problem = await _download_and_open(rig, case, index, digest)
            if problem:
                p.append(problem)
            else:
                verified.add(digest)
    return p


async def _download_and_open(rig: FaultRig, case: Case, index: int, digest: str) -> str | None:
    assert rig.supervisor is not None
    path = f"/api/sessions/{case.session_id}/recording/{index}"
    async with rig.supervisor.client.get(path, headers=rig.supervisor.headers) as resp:
        if resp.status != 200:
            return f"GET {path} as supervisor: {resp.status}"
        data = await resp.read()
    if hashlib.sha256(data).hexdigest() != digest:
        return f"segment {index}: the served file does not match its listed SHA-256"
    packets = await asyncio.to_thread(_video_packets, data)
    if packets < 10:
        return f"segment {index}: PyAV reads only {packets} video packets"
    return None


def _video_packets(data: bytes) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "segment.webm"
        path.write_bytes(data)
        try:
            with av.open(str(path)) as container:
                return sum(1 for p in container.demux() if p.size and p.stream.type == "video")
        except av.FFmpegError:
            return 0


async def wait_for_invariant(rig: FaultRig, case: Case) -> float:
    """Poll until the invariant holds for ``case``: the seconds from the server being up to
    the first time it held. Fails with what is wrong once the recovery bound has passed."""
    verified: set[str] = set()
    loop = asyncio.get_running_loop()
    while True:
        try:
            problems = await evaluate(rig, case, verified)
        except Exception as exc:  # a read that fails is a violation at this moment
            problems = [f"check failed: {exc!r}"]
        if not problems:
            return loop.time() - rig.up_at
        if loop.time() > rig.deadline:
            late = loop.time() - rig.up_at
            raise AssertionError(
                f"{rig.kind}/{case.phase}: the invariant does not hold {late:.0f} s after the "
                f"server was up ({case.outcome}):\n- " + "\n- ".join(problems) + "\nsetup notes: "
                f"{case.notes}\ntimeline: {rig.timeline}\n{rig.logs()}"
            )
        await asyncio.sleep(0.5)


async def check_all(rig: FaultRig) -> dict[str, float | BaseException]:
    """Every case watched at once from the moment the server is up: when its invariant first
    held, or why it did not within the bound."""
    phases = list(rig.cases)
    results = await asyncio.gather(
        *(wait_for_invariant(rig, rig.cases[p]) for p in phases), return_exceptions=True
    )
    return dict(zip(phases, results, strict=True))
