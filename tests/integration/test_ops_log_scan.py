"""No secret or personal data in the logs: a full journey, officer log-in, staff views and a real
media call (SDP offer/answer over /media) with the production logging set-up at DEBUG, JSON lines;
then every captured line is scanned for the NIK, tokens, password, ICE passwords and image bytes."""

from __future__ import annotations

import asyncio
import base64
import io
import json
import logging
import re
from collections.abc import Iterator
from typing import Any

import pytest
import socketio
from aiortc import RTCPeerConnection, RTCSessionDescription

from server import MEDIA_HUB
from tests.conftest import Participant
from tests.integration.media_peers import PatternTrack, ToneTrack
from videocall.accounts import Role
from videocall.logsetup import configure_logging
from web import keys

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)

PASSWORD = "Petugas-Rahasia-2026"
WRONG_PASSWORD = "Salah-Sandi-Rahasia-99"
NOISY = ("aioice", "aiortc", "aiohttp.access", "engineio", "socketio")


@pytest.fixture
def captured_logs() -> Iterator[io.StringIO]:
    """The production logging set-up (DEBUG, JSON lines), writing into a buffer."""
    root = logging.getLogger()
    saved = (root.handlers[:], root.level, {n: logging.getLogger(n).level for n in NOISY})
    configure_logging("DEBUG", json_lines=True)
    buffer = io.StringIO()
    for handler in root.handlers:
        handler.setStream(buffer)  # type: ignore[attr-defined]
    try:
        yield buffer
    finally:
        root.handlers[:], root.level = saved[0], saved[1]
        for name, level in saved[2].items():
            logging.getLogger(name).setLevel(level)


def ice_passwords(sdp: str) -> list[str]:
    return re.findall(r"a=ice-pwd:(\S+)", sdp)


async def media_call(client: Any, session_id: str) -> tuple[list[str], str]:
    """Offer/answer for the participant over /media; returns the SDPs and the ticket token."""

    ticket = await client.app[MEDIA_HUB].ticket(session_id, "participant", None)
    sio = socketio.AsyncClient(reconnection=False)
    pc = RTCPeerConnection()
    try:
        await sio.connect(
            str(client.make_url("/")),
            namespaces=["/media"],
            transports=["websocket"],
            auth={"token": ticket["token"]},
        )
        pc.addTransceiver(PatternTrack(), direction="sendrecv")
        pc.addTransceiver(ToneTrack(), direction="sendrecv")
        await pc.setLocalDescription(await pc.createOffer())
        offer = pc.localDescription.sdp
        answer = await sio.call(
            "offer", {"sdp": offer, "type": "offer"}, namespace="/media", timeout=20
        )
        assert answer["ok"], answer
        await pc.setRemoteDescription(RTCSessionDescription(answer["sdp"], answer["type"]))
        await asyncio.sleep(1.0)  # let ICE and a few frames happen, with their debug logs
        return [offer, answer["sdp"]], ticket["token"]
    finally:
        await client.app[MEDIA_HUB].end(session_id)
        await pc.close()
        await sio.disconnect()


async def journey(client: Any, person: Participant) -> dict[str, Any]:
    """Everything that handles secrets: returns them, to look for in the logs."""
    app = client.app
    await person.to_ready()
    officer = await app[keys.ACCOUNTS].create(
        username="budi",
        password=PASSWORD,
        role=Role.OFFICER,
        display_name="Budi",
        now=app[keys.CLOCK].now(),
    )
    bad = await client.post(
        "/api/auth/login", json={"username": "budi", "password": WRONG_PASSWORD}
    )
    assert bad.status == 401
    resp = await client.post("/api/auth/login", json={"username": "budi", "password": PASSWORD})
    assert resp.status == 200
    cookie = resp.cookies["vc_session"].value
    staff = {"Cookie": f"vc_session={cookie}"}
    # An officer opens only the records of their own calls: the call comes first.
    session = await app[keys.SESSIONS].start(
        record_id=person.record_id,
        officer_id=officer.id,
        officer_actor=officer.actor,
        now=app[keys.CLOCK].now(),
    )
    revealed = await client.post(f"/api/records/{person.record_id}/reveal-nik", headers=staff)
    assert (await revealed.json())["nik"] == person.nik
    photo = await client.get(f"/api/records/{person.record_id}/documents/face", headers=staff)
    image = await photo.read()
    upstream = await client.get(
        f"/api/upstream/records/{person.record_id}", headers={"X-API-Key": "test-api-key"}
    )
    assert upstream.status == 200
    await client.get("/api/me", headers={"Authorization": f"Bearer {person.token}x"})  # bad token
    sdps, ticket = await media_call(client, session.id)
    return {"cookie": cookie, "image": image, "sdps": sdps, "ticket": ticket}


def image_markers(image: bytes) -> list[str]:
    """Ways image bytes would show up in a text log: repr, latin-1, base64 (also a data URL)."""
    chunk = image[200:248]
    return [
        repr(chunk)[2:-1],
        chunk.decode("latin-1"),
        base64.b64encode(image[:48]).decode(),
        base64.b64encode(image[201:249]).decode()[4:40],
        "/9j/",  # every base64 JPEG starts so
        "data:image",
    ]


async def test_no_secrets_in_logs(
    client: Any, participant_factory: Any, captured_logs: io.StringIO
) -> None:
    person = participant_factory()
    secrets = await journey(client, person)
    lines = captured_logs.getvalue().splitlines()
    # Registration, log-ins, reveals, views and the media session each log at least one line.
    assert len(lines) > 5, "the journey should have logged something"
    for line in lines:
        json.loads(line)  # every line is one JSON object
    needles = {
        "full NIK": person.nik,
        "participant token": person.token,
        "staff session": secrets["cookie"],
        "password": PASSWORD,
        "wrong password": WRONG_PASSWORD,
        "api key": "test-api-key",
        "media ticket": secrets["ticket"],
    }
    for i, sdp in enumerate(secrets["sdps"]):
        for pwd in ice_passwords(sdp):
            needles[f"ice-pwd {i}"] = pwd
    assert any(k.startswith("ice-pwd") for k in needles)
    for i, marker in enumerate(image_markers(secrets["image"])):
        needles[f"image bytes {i}"] = marker
    leaks = [
        (what, line[:300]) for line in lines for what, value in needles.items() if value in line
    ]
    assert not leaks, leaks
    assert not [line for line in lines if re.search(r"ice-pwd:(?!\[redacted\])", line)]
