"""Live supervision end to end: real app, python-socketio clients and aiortc peers. A paired call
through the queue; a supervisor's receive-only monitor gets the same encoded frames as the
officer, from a keyframe; the watch is in the record's history and on the officer's page; an
officer or participant is refused; the supervisor ends the call with a reason."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiortc import RTCPeerConnection, RTCSessionDescription

from media.rtc_forward import install_tap
from tests.conftest import Participant
from tests.integration.media_peers import PatternTrack, ToneTrack, digest, wait_for
from tests.integration.monitor_peer import MonitorPeer
from tests.integration.staff_support import staff_login
from tests.integration.test_queue_signaling import Sock
from tests.support import make_nik
from videocall.accounts import Role
from web import keys

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


class MediaSide:
    """A participant's or officer's browser stand-in on /media; keeps the encoded video it
    receives."""

    def __init__(self, client: Any, ticket: dict[str, Any]) -> None:
        self.sock = Sock(client, "/media", auth={"token": ticket["token"]})
        self.pc = RTCPeerConnection()
        self.video: list[bytes] = []

    async def start(self) -> None:
        await self.sock.connect()
        self.pc.addTransceiver(PatternTrack(), direction="sendrecv")
        self.pc.addTransceiver(ToneTrack(), direction="sendrecv")

        @self.pc.on("track")
        def on_track(track: Any) -> None:
            if track.kind == "video":
                receiver = next(
                    t.receiver for t in self.pc.getTransceivers() if t.receiver.track is track
                )
                install_tap(receiver, lambda f: self.video.append(f.data), "test")

        await self.pc.setLocalDescription(await self.pc.createOffer())
        answer = await self.sock.call(
            "offer", {"sdp": self.pc.localDescription.sdp, "type": "offer"}
        )
        assert answer["ok"], answer
        await self.pc.setRemoteDescription(RTCSessionDescription(answer["sdp"], answer["type"]))

    async def close(self) -> None:
        await self.pc.close()
        await self.sock.close()


async def post(client: Any, path: str, headers: dict[str, str], body: Any = None) -> Any:
    client.session.cookie_jar.clear()  # each person sends their own cookie explicitly
    resp = await client.post(path, json=body, headers=headers)
    return resp.status, await resp.json()


async def get(client: Any, path: str, headers: dict[str, str]) -> Any:
    client.session.cookie_jar.clear()
    return await (await client.get(path, headers=headers)).json()


async def test_supervisor_watches_and_ends_a_call(app_factory: Any) -> None:
    client = await app_factory(drain_seconds=1.0)  # a failed test leaves no call to wait for
    app = client.app
    _, officer_auth = await staff_login(client, "budi", Role.OFFICER)
    supervisor, supervisor_auth = await staff_login(client, "sari", Role.SUPERVISOR)
    desk = Sock(client, "/officer", headers=dict(officer_auth))  # the client pops the cookie
    person = Participant(client, make_nik(female=True))
    await person.to_ready()
    queue = Sock(client, "/participant", auth={"token": person.token})
    socks = [await desk.connect(), await queue.connect()]
    sides: list[MediaSide] = []
    monitor = MonitorPeer()
    watch_sock: Sock | None = None
    try:
        await desk.call("set_presence", {"presence": "available"})
        assert (await queue.call("join_queue"))["ok"]
        paired = await desk.call("accept_next")
        assert paired["ok"], paired
        session_id = paired["session_id"]
        mine = await queue.next("paired")
        participant, officer_side = (
            MediaSide(client, mine["media"]),
            MediaSide(client, paired["media"]),
        )
        sides += [participant, officer_side]
        await participant.start()
        await officer_side.start()
        await wait_for(lambda: len(officer_side.video) >= 10, 20)

        # The live list, and who may watch: only supervisors.
        [live] = (await get(client, "/api/calls/live", supervisor_auth))["items"]
        assert (live["session_id"], live["officer_name"]) == (session_id, "Budi")
        for path in (f"/api/sessions/{session_id}/watch", f"/api/sessions/{session_id}/end"):
            status, body = await post(client, path, officer_auth, {"reason": "x"})
            assert (status, body["error"]["code"]) == (403, "role_forbidden"), (path, body)
        for side in sides:  # a participant's or officer's media ticket cannot watch
            refused = await side.sock.call("watch", {"sdp": "v=0", "type": "offer"})
            assert refused["error"]["code"] == "role_forbidden"
            error = await side.sock.next("error")
            assert error == {"event": "watch", "error": refused["error"]}

        # The supervisor watches: both sides' video and audio, the same bytes as the officer's.
        status, body = await post(client, f"/api/sessions/{session_id}/watch", supervisor_auth)
        assert status == 200, body
        ticket = body["media"]
        watch_sock = Sock(client, "/media", auth={"token": ticket["token"]})
        await watch_sock.connect()
        refused = await watch_sock.call("offer", {"sdp": "v=0", "type": "offer"})
        assert refused["error"]["code"] == "role_forbidden"  # a monitor sends no media

        async def answer(sdp: str) -> tuple[str, str]:
            assert watch_sock is not None
            reply = await watch_sock.call("watch", {"sdp": sdp, "type": "offer"})
            assert reply["ok"], reply
            return reply["sdp"], reply["type"]

        await monitor.connect(answer)
        await wait_for(
            lambda: (
                len(monitor.video["participant"]) >= 20
                and len(monitor.video["officer"]) >= 5
                and min(monitor.audio.values()) >= 10
            ),
            20,
        )
        watched = digest(monitor.video["participant"])
        seen = digest(officer_side.video)
        assert monitor.video["participant"][0][0] & 1 == 0, (
            "the monitor did not start at a keyframe"
        )
        assert monitor.video["officer"][0][0] & 1 == 0
        start = seen.index(watched[0])
        overlap = min(len(watched), len(seen) - start)
        assert overlap >= 10 and watched[:overlap] == seen[start : start + overlap]

        notice = await desk.next("watched")
        assert notice == {
            "session_id": session_id,
            "watching": True,
            "watchers": 1,
            "supervisor": "Sari",
        }
        history = await app[keys.RECORDS].history(person.record_id)
        [started] = [h for h in history if h.action == "supervision_started"]
        assert started.actor == supervisor.actor and started.detail == {"session_id": session_id}

        # The supervisor ends the call with a reason: both sides are told, the call waits for
        # the officer's decision, the monitor is closed and that is audited too.
        blank = {"reason": "  "}
        status, body = await post(client, f"/api/sessions/{session_id}/end", supervisor_auth, blank)
        assert (status, body["error"]["code"]) == (422, "end_reason_required")
        reason = "Petugas tidak mengikuti prosedur"
        status, body = await post(
            client, f"/api/sessions/{session_id}/end", supervisor_auth, {"reason": reason}
        )
        assert (status, body) == (200, {"session_id": session_id, "ended": True})
        told = await desk.next("supervisor_ended")
        assert told == {"session_id": session_id, "supervisor": "Sari", "reason": reason}
        assert await queue.next("supervisor_ended") == {"session_id": session_id}
        ended = await desk.next("call_ended")
        assert ended["awaiting_decision"] and not ended["requeued"]
        assert (await queue.next("call_ended"))["session_id"] == session_id
        await watch_sock.next("ended")
        stopped = await desk.next("watched")
        assert (stopped["watching"], stopped["watchers"]) == (False, 0)
        row = await app[keys.SESSIONS].get(session_id)
        assert row.ended_at is not None and row.recording["segments"]
        undecided = await get(client, "/api/sessions/undecided", officer_auth)
        assert [i["session_id"] for i in undecided["items"]] == [session_id]
        history = await app[keys.RECORDS].history(person.record_id)
        actions = [h.action for h in history]
        [end] = [h for h in history if h.action == "call_ended_by_supervisor"]
        assert end.actor == supervisor.actor and end.detail["reason"] == reason
        assert actions.index("supervision_started") < actions.index("call_ended_by_supervisor")
        assert "supervision_ended" in actions
        status, body = await post(client, f"/api/sessions/{session_id}/watch", supervisor_auth)
        assert (status, body["error"]["code"]) == (409, "call_not_live")
    finally:
        await monitor.close()
        for side in sides:
            await side.close()
        if watch_sock is not None:
            await watch_sock.close()
        for sock in socks:
            await sock.close()
        await asyncio.sleep(0)
