"""Three 7000 x 7000 PNG uploads at once while another participant is in a live call (real aiortc
peers on the server's event loop): the officer's video keeps flowing and nobody gets a quality
warning the uploads would have caused. The lag and gap figures are in ``bench/loop_lag.py``."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from media_peers import PatternTrack, ToneTrack, connect_client, wait_for

from media.call import MediaCall, MediaSettings, Side
from tests.conftest import Participant
from tests.photos import BIG, big_grey_png
from tests.support import make_nik
from videocall.quality_monitor import QualityEvent

Client = TestClient[web.Request, web.Application]
KINDS = ("ktp", "selfie_with_ktp", "face")


class Warnings:
    def __init__(self) -> None:
        self.events: list[tuple[Side, QualityEvent]] = []

    def __call__(self, side: Side, event: QualityEvent) -> None:
        self.events.append((side, event))

    def raised(self) -> list[str]:
        return [f"{side}:{e.measure}={e.level}" for side, e in self.events if e.level != "ok"]


@pytest.fixture
async def live_call(tmp_path: Path) -> AsyncIterator[tuple[MediaCall, Warnings]]:
    warnings = Warnings()
    call = MediaCall(
        "live-with-uploads",
        MediaSettings(recording_dir=tmp_path / "recordings", allow_loopback=True),
        on_quality=warnings,
    )
    yield call, warnings
    await call.close()


async def test_big_uploads_during_a_live_call_keep_the_video_flowing(
    client: Client, live_call: tuple[MediaCall, Warnings]
) -> None:
    call, warnings = live_call
    photo = await asyncio.to_thread(big_grey_png)
    assert 40_000 < len(photo) < 64_000
    uploader = Participant(client, make_nik(female=True))
    await uploader.register()
    assert (await uploader.profile()).status == 200

    participant = await connect_client(call, "participant", [PatternTrack(), ToneTrack()])
    officer = await connect_client(call, "officer", [PatternTrack(), ToneTrack()])
    seen = officer.received.frames
    try:
        # Settled: measures classified and a couple of seconds of video; what the start-up
        # raised is not the uploads' doing.
        await wait_for(lambda: "frozen" in call.quality_levels("participant"), timeout=30)
        mark = seen["video"]
        await wait_for(lambda: seen["video"] >= mark + 30, timeout=30)
        warnings.events.clear()

        before = seen["video"]
        responses = await asyncio.gather(
            *(uploader.upload(kind, photo, **{"Content-Type": "image/png"}) for kind in KINDS)
        )
        during = seen["video"] - before
        for response in responses:
            assert response.status == 200, await response.text()
            assert (await response.json())["width"] == BIG
        # A stall would show as a quality warning within the next seconds of the call.
        mark = seen["video"]
        await wait_for(lambda: seen["video"] >= mark + 45, timeout=30)

        print(f"officer received {during} video frames during the three uploads")
        assert during > 0, "the officer's video stopped during the uploads"
        assert warnings.raised() == []
    finally:
        await participant.close()
        await officer.close()
