"""The /media namespace end to end: real python-socketio clients, real aiortc peers, real app."""

from __future__ import annotations

import asyncio
import base64
import io
from typing import Any

import pytest
import socketio
from aiortc import RTCPeerConnection, RTCSessionDescription
from PIL import Image

from server import MEDIA_HUB
from tests.integration.media_peers import PatternTrack, Received, ToneTrack, _consume, wait_for
from tests.integration.outcomes_support import APPROVE
from videocall.accounts import Role
from web import keys

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


async def start_session(client: Any, participant: Any) -> str:
    await participant.to_ready()
    app = client.app
    officer = await app[keys.ACCOUNTS].create(
        username="budi",
        password="Petugas-Rahasia-2026",
        role=Role.OFFICER,
        display_name="Budi",
        now=app[keys.CLOCK].now(),
    )
    session = await app[keys.SESSIONS].start(
        record_id=participant.record_id,
        officer_id=officer.id,
        officer_actor=officer.actor,
        now=app[keys.CLOCK].now(),
    )
    return session.id


class Side:
    """One browser stand-in: a Socket.IO connection to /media and an aiortc peer."""

    def __init__(self, client: Any, ticket: dict[str, Any]) -> None:
        self.client = client
        self.ticket = ticket
        self.sio = socketio.AsyncClient(reconnection=False)
        self.events: list[tuple[str, Any]] = []
        self.pc = RTCPeerConnection()
        self.received = Received()
        self.tasks: list[asyncio.Task[Any]] = []
        for name in ("hint", "quality", "error", "ended"):
            self.sio.on(name, self._recorder(name), namespace="/media")

    def _recorder(self, name: str) -> Any:
        async def record(data: Any) -> None:
            self.events.append((name, data))

        return record

    async def connect(self) -> None:
        await self.sio.connect(
            str(self.client.make_url("/")),
            namespaces=["/media"],
            transports=["websocket"],
            auth={"token": self.ticket["token"]},
        )

    async def call(self, event: str, data: Any = None) -> Any:
        return await self.sio.call(event, data, namespace="/media", timeout=20)

    async def start_media(self, video: PatternTrack) -> None:
        self.pc.addTransceiver(video, direction="sendrecv")
        self.pc.addTransceiver(ToneTrack(), direction="sendrecv")

        @self.pc.on("track")
        def on_track(track: Any) -> None:
            self.tasks.append(asyncio.create_task(_consume(track, self.received)))

        await self.pc.setLocalDescription(await self.pc.createOffer())
        answer = await self.call("offer", {"sdp": self.pc.localDescription.sdp, "type": "offer"})
        assert answer["ok"], answer
        await self.pc.setRemoteDescription(RTCSessionDescription(answer["sdp"], answer["type"]))

    async def close(self) -> None:
        await self.pc.close()
        for t in self.tasks:
            t.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        await self.sio.disconnect()


async def test_media_over_socketio_forwards_records_and_snapshots(client, participant_factory):
    session_id = await start_session(client, participant_factory())
    app = client.app
    participant = Side(client, await app[MEDIA_HUB].ticket(session_id, "participant", None))
    officer = Side(client, await app[MEDIA_HUB].ticket(session_id, "officer", None))
    assert participant.ticket["url"].startswith("http") and participant.ticket["ice_servers"] == []
    await participant.connect()
    await officer.connect()
    camera = PatternTrack()
    try:
        await participant.start_media(camera)
        await officer.start_media(PatternTrack())
        await wait_for(lambda: officer.received.frames["video"] > 10, 20)
        await wait_for(lambda: participant.received.frames["video"] > 10, 20)
        assert officer.received.frames["audio"] > 0
        # The participant may not take snapshots; the officer may.
        refused = await participant.call("snapshot", {"kind": "face"})
        assert refused == {
            "ok": False,
            "error": {"code": "role_forbidden", "message": "only the officer takes snapshots"},
        }
        await wait_for(lambda: any(n == "error" for n, _ in participant.events), 5)
        snap = await officer.call("snapshot", {"kind": "ktp"})
        assert snap["ok"], snap
        assert (snap["snapshot"]["width"], snap["snapshot"]["height"]) == (640, 480)
        thumb = base64.b64decode(snap["thumbnail"].split(",", 1)[1])
        assert Image.open(io.BytesIO(thumb)).format == "JPEG"
        # The dark room reaches the participant as a hint in Indonesian and English.
        camera.mode = "dark"
        await wait_for(
            lambda: any(n == "hint" and d["hint"] == "too_dark" for n, d in participant.events), 6
        )
        hint = next(d for n, d in participant.events if n == "hint" and d["hint"] == "too_dark")
        assert "gelap" in hint["text"]["id"] and "dark" in hint["text"]["en"]
        await wait_for(lambda: any(n == "quality" for n, _ in officer.events), 5)
    finally:
        summary = await app[MEDIA_HUB].end(session_id)
        await participant.close()
        await officer.close()
    assert summary is not None
    stored = await app[keys.SESSIONS].get(session_id)
    segments = stored.recording["segments"]
    assert segments and len(segments[0]["sha256"]) == 64 and segments[0]["duration_s"] > 0.5
    assert stored.snapshots[0]["kind"] == "ktp"
    assert "participant" in stored.quality_summary
    metrics = await (await client.get("/metrics")).text()
    values = {
        line.split(" ")[0]: float(line.split(" ")[1])
        for line in metrics.splitlines()
        if line and not line.startswith("#")
    }
    forwarded = [v for k, v in values.items() if "media_frames_forwarded_total" in k]
    assert sum(forwarded) > 20
    assert next(v for k, v in values.items() if "recording_bytes" in k) > 10_000
    assert any("quality_classes" in k and 'level="bad"' in k for k in values)
    assert next(v for k, v in values.items() if k.endswith("calls_in_progress")) == 0


async def test_media_errors_keep_the_connection_usable(client, participant_factory):
    session_id = await start_session(client, participant_factory())
    side = Side(client, await client.app[MEDIA_HUB].ticket(session_id, "participant", None))
    await side.connect()
    try:
        for bad, code in [
            ("just a string", "invalid_payload"),
            ({"sdp": 5, "type": "offer"}, "invalid_payload"),
            ({"sdp": "v=0 garbage", "type": "answer"}, "invalid_payload"),
            ({"sdp": "x" * 70_000, "type": "offer"}, "invalid_payload"),
            ({"sdp": "v=0\r\nnot really sdp\r\n", "type": "offer"}, "bad_sdp"),
            ({"kind": "passport"}, "invalid_payload"),
        ]:
            event = "snapshot" if "kind" in str(bad) else "offer"
            reply = await side.call(event, bad)
            assert reply["ok"] is False and reply["error"]["code"] == code, (bad, reply)
        assert side.sio.connected
        await side.start_media(PatternTrack())  # still usable after all that
    finally:
        await client.app[MEDIA_HUB].end(session_id)
        await side.close()


async def test_bad_ticket_is_refused(client):
    sio = socketio.AsyncClient(reconnection=False)
    with pytest.raises(socketio.exceptions.ConnectionError):
        await sio.connect(
            str(client.make_url("/")),
            namespaces=["/media"],
            transports=["websocket"],
            auth={"token": "forged"},
        )
    await sio.disconnect()


async def test_decision_during_the_call_ends_media_and_rests_on_its_evidence(
    client, participant_factory
):
    p = participant_factory()
    session_id = await start_session(client, p)
    app = client.app
    participant = Side(client, await app[MEDIA_HUB].ticket(session_id, "participant", None))
    officer = Side(client, await app[MEDIA_HUB].ticket(session_id, "officer", None))
    await participant.connect()
    await officer.connect()
    try:
        await participant.start_media(PatternTrack())
        await officer.start_media(PatternTrack())
        await wait_for(lambda: officer.received.frames["video"] > 15, 20)
        assert (await officer.call("snapshot", {"kind": "face"}))["ok"]
        login = await client.post(
            "/api/auth/login", json={"username": "budi", "password": "Petugas-Rahasia-2026"}
        )
        assert login.status == 200
        checklist = APPROVE["checklist"]
        bad = await client.post(
            f"/api/sessions/{session_id}/decision",
            json={"result": "rejected", "reasons": [], "checklist": checklist},
        )
        assert bad.status == 422
        assert session_id in app[MEDIA_HUB].calls  # a refused form does not end the call
        approve = {"result": "approved", "reasons": [], "checklist": checklist, "notes": ""}
        missing = await client.post(f"/api/sessions/{session_id}/decision", json=approve)
        assert missing.status == 422
        assert (await missing.json())["error"]["code"] == "evidence_missing_snapshots"
        # Told while the participant is still on camera: the call goes on, the officer fixes it.
        assert session_id in app[MEDIA_HUB].calls
        frames = officer.received.frames["video"]
        await wait_for(lambda: officer.received.frames["video"] > frames + 10, 10)
        assert (await officer.call("snapshot", {"kind": "ktp"}))["ok"]
        resp = await client.post(
            f"/api/sessions/{session_id}/decision",
            json={"result": "approved", "reasons": [], "checklist": checklist, "notes": ""},
        )
        assert resp.status == 201, await resp.text()
        assert session_id not in app[MEDIA_HUB].calls
        await wait_for(lambda: any(n == "ended" for n, _ in participant.events), 5)
    finally:
        await participant.close()
        await officer.close()
    me = await (await client.get("/api/me", headers=p.auth)).json()
    assert me["state"] == "under_review" and me["due_at"]
    stored = await app[keys.SESSIONS].get(session_id)
    assert stored.recording["segments"][0]["sha256"]
