"""Debian Chromium as the participant against a real ``MediaCall``: forced to H.264 with
``setCodecPreferences`` (as Safari would send), and forced onto the TURN relay with
``iceTransportPolicy: "relay"``. The SDP goes straight between the page and the call (the
signalling layer is tested elsewhere); the officer is an aiortc peer."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiortc.codecs.h264
import av
import pytest
from aiohttp import web
from media_peers import PatternTrack, ToneTrack, connect_client, wait_for
from network_peers import EncodedH264Track, connect_via, nal_units

from media.call import MediaCall, MediaSettings
from tests.coturn import AVAILABLE as COTURN
from tests.coturn import running_coturn
from videocall.turn import ice_servers

CHROMIUM = Path("/usr/bin/chromium")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
ARGS = [
    "--use-fake-ui-for-media-stream",
    "--use-fake-device-for-media-stream",
    "--allow-loopback-in-peer-connection",
    "--no-sandbox",
]
pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian chromium missing")

OFFER_JS = """async (opts) => {
  const stream = await navigator.mediaDevices.getUserMedia(
    {video: {width: 640, height: 480}, audio: true});
  const pc = new RTCPeerConnection(
    {iceServers: opts.iceServers, iceTransportPolicy: opts.policy});
  window.pc = pc;
  for (const track of stream.getTracks()) {
    const t = pc.addTransceiver(track, {direction: "sendrecv", streams: [stream]});
    if (track.kind === "video" && opts.h264) {
      t.setCodecPreferences(RTCRtpReceiver.getCapabilities("video").codecs.filter(c =>
        c.mimeType === "video/rtx" || (c.mimeType === "video/H264" &&
          /packetization-mode=1/.test(c.sdpFmtpLine) && /42e01f/.test(c.sdpFmtpLine))));
    }
  }
  await pc.setLocalDescription(await pc.createOffer());
  await new Promise(done => {
    if (pc.iceGatheringState === "complete") return done();
    pc.addEventListener("icegatheringstatechange",
      () => pc.iceGatheringState === "complete" && done());
  });
  return pc.localDescription.sdp;
}"""

STATS_JS = """async () => {
  const stats = await window.pc.getStats();
  const out = {decoded: 0, encoded: 0, sendCodec: null, localType: null};
  stats.forEach(s => {
    if (s.type === "inbound-rtp" && s.kind === "video") out.decoded = s.framesDecoded || 0;
    if (s.type === "outbound-rtp" && s.kind === "video") {
      out.encoded = s.framesEncoded || 0;
      const codec = stats.get(s.codecId);
      out.sendCodec = codec ? codec.mimeType : null;
    }
    if (s.type === "candidate-pair" && s.nominated && s.state === "succeeded") {
      out.localType = stats.get(s.localCandidateId).candidateType;
    }
  });
  return out;
}"""


@contextlib.asynccontextmanager
async def serving(routes: Mapping[str, Handler]) -> AsyncIterator[str]:
    """A small aiohttp app with these GET routes on http://127.0.0.1 (a secure context)."""
    app = web.Application()
    for path, handler in routes.items():
        app.router.add_get(path, handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield f"http://127.0.0.1:{port}/"
    finally:
        await runner.cleanup()


@pytest.fixture
async def page_url() -> AsyncIterator[str]:
    """An empty page on http://127.0.0.1 (a secure context: the camera needs one)."""

    async def empty(_: web.Request) -> web.Response:
        return web.Response(text="<html></html>", content_type="text/html")

    async with serving({"/": empty}) as url:
        yield url


@pytest.fixture
async def chromium_page(page_url: str) -> AsyncIterator[Any]:
    from playwright.async_api import async_playwright

    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        page = await browser.new_page()
        await page.goto(page_url)
        yield page
        await page.evaluate("() => window.pc && window.pc.close()")
        await browser.close()


@pytest.fixture
async def call(tmp_path: Path) -> AsyncIterator[MediaCall]:
    media = MediaCall("chromium-net", MediaSettings(recording_dir=tmp_path, allow_loopback=True))
    yield media
    await media.close()


async def chromium_joins(call: MediaCall, page: Any, **opts: Any) -> None:
    opts = {"iceServers": [], "policy": "all", "h264": False, **opts}
    offer = await page.evaluate(OFFER_JS, opts)
    answer, _ = await call.accept_offer("participant", offer, "offer")
    await page.evaluate("sdp => window.pc.setRemoteDescription({type: 'answer', sdp})", answer)


async def stats(page: Any) -> dict[str, Any]:
    result: dict[str, Any] = await page.evaluate(STATS_JS)
    return result


async def test_chromium_sending_h264_only(
    call: MediaCall, chromium_page: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    encodes: list[int] = []
    original = aiortc.codecs.h264.H264Encoder.encode

    def counting_encode(self, frame, force_keyframe=False):  # type: ignore[no-untyped-def]
        encodes.append(1)
        return original(self, frame, force_keyframe)

    monkeypatch.setattr(aiortc.codecs.h264.H264Encoder, "encode", counting_encode)
    await chromium_joins(call, chromium_page, h264=True)
    officer = await connect_via(call, "officer", [EncodedH264Track(), ToneTrack()], tap_video=True)
    try:
        call.start_recording()
        await wait_for(lambda: len(officer.encoded) >= 30, timeout=30)
        for _ in range(300):
            seen = await stats(chromium_page)
            if seen["decoded"] >= 10:
                break
            await asyncio.sleep(0.1)
        assert seen["sendCodec"] == "video/H264" and seen["decoded"] >= 10, seen
        assert call.video_codec("participant") == call.video_codec("officer") == "H264 42e01f"
        snap = await call.snapshot("face")
        assert snap.width >= 320
    finally:
        await officer.close()
    summary = await call.close()
    assert not encodes, "the server re-encoded H.264"
    assert all(nal_units(unit) for unit in officer.encoded)
    (segment,) = summary.segments
    assert segment.path.suffix == ".mkv"
    with av.open(str(segment.path)) as container:
        video = next(
            s for s in container.streams.video if s.metadata.get("title") == "participant-video"
        )
        assert video.codec_context.name == "h264"
        assert sum(1 for _ in container.decode(video)) >= 10


@pytest.mark.skipif(not COTURN, reason="coturn is not installed (make coturn)")
async def test_chromium_relay_only(call: MediaCall, chromium_page: Any, tmp_path: Path) -> None:
    with running_coturn(tmp_path) as turn:
        servers = ice_servers(
            stun_json="",
            turn_urls=[f"turn:127.0.0.1:{turn.port}?transport=udp"],
            turn_secret=turn.secret,
            ttl_seconds=600,
            user="chromium-p",
            now=datetime.now(UTC),
        )
        await chromium_joins(call, chromium_page, iceServers=servers, policy="relay")
        officer = await connect_client(call, "officer", [PatternTrack(), ToneTrack()])
        try:
            await wait_for(lambda: officer.received.frames["video"] >= 15, timeout=30)
            for _ in range(300):
                seen = await stats(chromium_page)
                if seen["decoded"] >= 10 and seen["localType"]:
                    break
                await asyncio.sleep(0.1)
            assert seen["localType"] == "relay" and seen["decoded"] >= 10, seen
        finally:
            await officer.close()
            await chromium_page.evaluate("() => window.pc.close()")


MEDIA_LINK_JS = (Path(__file__).parents[2] / "web/static/js/media_link.js").read_text()
LINK_JS = """async () => {
  const { MediaLink } = await import("/static/js/media_link.js");
  const stream = await navigator.mediaDevices.getUserMedia(
    {video: {width: 640, height: 480}, audio: true});
  const video = document.createElement("video");
  video.muted = true;
  document.body.appendChild(video);
  const link = new MediaLink({role: "officer", ticket: {ice_servers: []}, stream,
    remoteVideo: video, onStatus: () => {}});
  // The /media socket, bridged to the MediaCall in the test.
  link.socket = {connected: true, disconnect: () => {},
    timeout: () => ({emitWithAck: (event, data) => window.pyEmit(event, data ?? null)})};
  window.link = link;
  link.negotiate();  // not awaited: the server holds the officer's offer for the participant
}"""

LINK_STATS_JS = """async () => {
  const out = {decoded: 0, recvCodec: null, sendCodec: null};
  if (!window.link.pc) return out;
  const stats = await window.link.pc.getStats();
  stats.forEach(s => {
    if (s.type === "inbound-rtp" && s.kind === "video") {
      out.decoded = s.framesDecoded || 0;
      out.recvCodec = stats.get(s.codecId) ? stats.get(s.codecId).mimeType : null;
    }
    if (s.type === "outbound-rtp" && s.kind === "video") {
      out.sendCodec = stats.get(s.codecId) ? stats.get(s.codecId).mimeType : null;
    }
  });
  return out;
}"""


@pytest.fixture
async def static_url() -> AsyncIterator[str]:
    """The page plus the real media_link.js; Socket.IO's module is a stub (the test bridges
    the socket's acknowledged events to the call)."""

    async def empty(_: web.Request) -> web.Response:
        return web.Response(text="<html><body></body></html>", content_type="text/html")

    async def link(_: web.Request) -> web.Response:
        return web.Response(text=MEDIA_LINK_JS, content_type="text/javascript")

    async def stub(_: web.Request) -> web.Response:
        return web.Response(text="export function io() {}", content_type="text/javascript")

    routes = {
        "/": empty,
        "/static/js/media_link.js": link,
        "/static/vendor/socket.io.esm.min.js": stub,
    }
    async with serving(routes) as url:
        yield url


async def test_chromium_officer_answers_the_servers_reoffer(
    tmp_path: Path, static_url: str
) -> None:
    """media_link.js in Chromium as the officer: its offer is answered in VP8 after the wait,
    a participant's H.264-only offer comes late, the server offers the officer's leg again
    with H.264 alone and the page answers it: Chromium then sends and decodes H.264."""
    from playwright.async_api import async_playwright

    settings = MediaSettings(recording_dir=tmp_path, allow_loopback=True, codec_wait_s=1.0)
    call = MediaCall("chromium-reoffer", settings)

    async def emit(event: str, data: Any) -> dict[str, Any]:
        try:
            if event == "offer":
                sdp, type_ = await call.accept_offer("officer", data["sdp"], data["type"])
                return {"ok": True, "sdp": sdp, "type": type_}
            if event == "answer":
                await call.accept_answer("officer", data["sdp"], data["type"])
                return {"ok": True}
            return {"ok": True, "participant": {}, "officer": {}}  # levels
        except Exception as exc:
            return {"ok": False, "error": {"code": getattr(exc, "code", "error")}}

    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        page = await browser.new_page()
        await page.goto(static_url)
        await page.expose_function("pyEmit", emit)
        pending: list[asyncio.Future[Any]] = []

        def reoffer(side: str, sdp: str) -> None:
            js = "msg => window.link.answerOffer(msg)"
            pending.append(asyncio.ensure_future(page.evaluate(js, {"sdp": sdp, "type": "offer"})))

        call.on_reoffer = reoffer
        participant = None
        try:
            await page.evaluate(LINK_JS)
            await wait_for(lambda: call.video_codec("officer") == "VP8", timeout=30)
            participant = await connect_via(
                call, "participant", [EncodedH264Track(), ToneTrack()], video_codec="video/H264"
            )
            for _ in range(300):
                seen = await page.evaluate(LINK_STATS_JS)
                if seen["decoded"] >= 10 and seen["sendCodec"]:
                    break
                await asyncio.sleep(0.1)
            assert seen["recvCodec"] == seen["sendCodec"] == "video/H264", seen
            assert seen["decoded"] >= 10, seen
            assert call.video_codec("officer") == call.video_codec("participant")
            await wait_for(lambda: participant.received.frames["video"] >= 10, timeout=30)
            assert pending and all(f.done() and f.exception() is None for f in pending)
        finally:
            await call.close()
            if participant is not None:
                await participant.close()
            await page.evaluate("() => window.link && window.link.close()")
            await browser.close()
