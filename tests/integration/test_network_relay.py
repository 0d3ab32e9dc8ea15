"""A participant who may use only the TURN relay: real coturn on loopback, started by the test,
with the TURN REST credentials the server issues (``videocall.turn``); over UDP and over TCP
(networks that block UDP). Media must flow both ways through the relay and be recorded."""

from __future__ import annotations

import asyncio
import shutil
import socket
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
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
from tests.coturn import AVAILABLE, SECRET, Coturn, running_coturn
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


async def relay_only_peer(
    call: MediaCall, coturn: Coturn, transport: str, scheme: str = "turn"
) -> ClientPeer:
    """The participant as a browser with ``iceTransportPolicy: "relay"`` and the ICE servers
    of its media ticket."""
    (server,) = ice_servers(
        stun_json="",
        turn_urls=[f"{scheme}:127.0.0.1:{coturn.port}?transport={transport}"],
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


DEPLOY_CONF = Path(__file__).resolve().parents[2] / "deploy" / "turnserver.conf"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def deployed_coturn(directory: Path) -> Iterator[tuple[int, str]]:
    """coturn from the shipped ``deploy/turnserver.conf``, changed only where a test machine
    must differ: loopback addresses and ports, a self-signed certificate for 127.0.0.1, files
    in ``directory``. Yields (TLS port, certificate path)."""
    cert, key = directory / "turn-cert.pem", directory / "turn-key.pem"
    subject = ["-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"]
    files = ["-keyout", str(key), "-out", str(cert)]
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            *subject,
            *files,
        ],
        check=True,
        capture_output=True,
    )
    tls_port = _free_port()
    changes = {
        "listening-port": str(_free_port()),
        "tls-listening-port": str(tls_port),
        "min-port": "40000",
        "max-port": "40999",
        "static-auth-secret": SECRET,
        "cert": str(cert),
        "pkey": str(key),
        "log-file": str(directory / "turn.log"),
    }
    lines = []
    for line in DEPLOY_CONF.read_text().splitlines():
        name = line.split("=", 1)[0]
        lines.append(f"{name}={changes.pop(name)}" if name in changes and "=" in line else line)
    assert not changes, f"deploy/turnserver.conf lacks {sorted(changes)}"
    # The media server is on 127.0.0.1 here, which coturn refuses to relay to by default.
    lines += ["listening-ip=127.0.0.1", "relay-ip=127.0.0.1", "allow-loopback-peers"]
    conf = directory / "turnserver.conf"
    conf.write_text("\n".join(lines) + "\n")
    files = [f"--db={directory / 'turndb'}", f"--pidfile={directory / 'turn.pid'}"]
    process = subprocess.Popen(
        ["turnserver", "-c", str(conf), *files],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(200):
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", tls_port)) == 0:
                    break
            assert process.poll() is None, (directory / "turn.log").read_text()
            time.sleep(0.05)
        yield tls_port, str(cert)
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.mark.skipif(not shutil.which("openssl"), reason="openssl CLI missing")
async def test_relay_over_tls_with_the_shipped_coturn_config(
    call: MediaCall, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``turns:`` (TURN over TLS, the 443 listener of deploy/turnserver.conf) for networks that
    let only TLS out: the shipped configuration starts and relays a relay-only participant."""
    with deployed_coturn(tmp_path) as (tls_port, cert):
        monkeypatch.setenv("SSL_CERT_FILE", cert)  # the client trusts the test certificate
        turn = Coturn(tls_port, SECRET, tmp_path / "turn.log")
        participant = await relay_only_peer(call, turn, "tcp", scheme="turns")
        officer = await connect_client(call, "officer", [PatternTrack(), ToneTrack()])
        try:
            for peer in (participant, officer):
                await wait_for(lambda p=peer: min(p.received.frames.values()) >= 15, timeout=20)
        finally:
            await participant.close()
            await officer.close()
