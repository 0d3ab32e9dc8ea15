"""A participant who may use only the TURN relay: real coturn on loopback, started by the test,
with the TURN REST credentials the server issues (``videocall.turn``); over UDP and over TCP
(networks that block UDP). Media must flow both ways through the relay and be recorded."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path

import av
import pytest
from aiortc import (
    RTCConfiguration,
    RTCIceServer,
    RTCIceTransportPolicy,
    RTCPeerConnection,
    RTCSessionDescription,
)
from media_peers import (
    ClientPeer,
    PatternTrack,
    Received,
    ToneTrack,
    _consume,
    connect_client,
    wait_for,
)

from media.call import MediaCall, MediaSettings
from tests.coturn import AVAILABLE, Coturn, running_coturn
from videocall.turn import ice_servers

pytestmark = pytest.mark.skipif(not AVAILABLE, reason="coturn is not installed (make coturn)")


@pytest.fixture
def coturn(tmp_path: Path) -> Iterator[Coturn]:
    with running_coturn(tmp_path) as turn:
        yield turn


@pytest.fixture
async def call(tmp_path: Path) -> AsyncIterator[MediaCall]:
    media = MediaCall("relay-test", MediaSettings(recording_dir=tmp_path, allow_loopback=True))
    yield media
    await media.close()


async def relay_only_peer(call: MediaCall, coturn: Coturn, transport: str) -> ClientPeer:
    """The participant as a browser with ``iceTransportPolicy: "relay"`` and the ICE servers
    of its media ticket."""
    (server,) = ice_servers(
        stun_json="",
        turn_urls=[f"turn:127.0.0.1:{coturn.port}?transport={transport}"],
        turn_secret=coturn.secret,
        ttl_seconds=600,
        user="relaytest-p",
        now=datetime.now(UTC),
    )
    config = RTCConfiguration(
        iceServers=[RTCIceServer(server["urls"], server["username"], server["credential"])],
        iceTransportPolicy=RTCIceTransportPolicy.RELAY,
    )
    pc = RTCPeerConnection(config)
    client = ClientPeer(pc, Received(), [])
    for track in (PatternTrack(), ToneTrack()):
        pc.addTransceiver(track, direction="sendrecv")

    @pc.on("track")
    def on_track(track: object) -> None:
        client.tasks.append(asyncio.create_task(_consume(track, client.received)))  # type: ignore[arg-type]

    await pc.setLocalDescription(await pc.createOffer())
    assert pc.localDescription is not None
    offer = pc.localDescription.sdp
    assert " typ relay" in offer and " typ host" not in offer, "not a relay-only offer"
    answer, type_ = await call.accept_offer("participant", offer, "offer")
    await pc.setRemoteDescription(RTCSessionDescription(sdp=answer, type=type_))
    return client


@pytest.mark.parametrize("transport", ["udp", "tcp"])
async def test_relay_only_participant_calls_and_is_recorded(
    call: MediaCall, coturn: Coturn, transport: str
) -> None:
    participant = await relay_only_peer(call, coturn, transport)
    officer = await connect_client(call, "officer", [PatternTrack(), ToneTrack()])
    try:
        for peer in (participant, officer):
            await wait_for(lambda p=peer: min(p.received.frames.values()) >= 15, timeout=20)
        call.start_recording()
        await asyncio.sleep(2.0)
        pair = participant.pc.getTransceivers()[0].sender.transport.transport  # RTCIceTransport
        selected = pair._connection._nominated  # aioice: the pair media flows on
        assert selected and all(p.local_candidate.type == "relay" for p in selected.values())
    finally:
        await participant.close()
        await officer.close()
    summary = await call.close()
    (segment,) = summary.segments
    with av.open(str(segment.path)) as container:
        titles = {s.metadata.get("title") for s in container.streams}
        video = next(
            s for s in container.streams.video if s.metadata.get("title") == "participant-video"
        )
        frames = sum(1 for _ in container.decode(video))
    assert titles >= {"participant-video", "participant-audio", "officer-video"}
    assert frames >= 10
