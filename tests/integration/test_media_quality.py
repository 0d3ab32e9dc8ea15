"""Quality hints from a real aiortc participant: picture problems and injected packet loss."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from media_peers import PatternTrack, ToneTrack, connect_client, drop_rtp, wait_for

from media.call import MediaCall, MediaSettings, Side
from videocall.quality_monitor import QualityEvent

HINT_DEADLINE_S = 3.0


class Hints:
    def __init__(self) -> None:
        self.events: list[tuple[Side, QualityEvent]] = []

    def __call__(self, side: Side, event: QualityEvent) -> None:
        self.events.append((side, event))

    def seen(self, measure: str, levels: tuple[str, ...]) -> bool:
        return any(e.measure == measure and e.level in levels for _, e in self.events)


@pytest.fixture
async def hints_call(tmp_path: Path) -> AsyncIterator[tuple[MediaCall, Hints]]:
    hints = Hints()
    call = MediaCall(
        "quality-test",
        MediaSettings(recording_dir=tmp_path, allow_loopback=True),
        on_quality=hints,
    )
    yield call, hints
    await call.close()


@pytest.mark.parametrize(
    ("mode", "measure", "hint"),
    [
        ("dark", "darkness", "too_dark"),
        ("blurred", "sharpness", "blurry"),
        ("frozen", "frozen", "frozen"),
    ],
)
async def test_picture_hint_raised_and_cleared_within_3_s(
    hints_call: tuple[MediaCall, Hints], mode: str, measure: str, hint: str
) -> None:
    call, hints = hints_call
    camera = PatternTrack()
    participant = await connect_client(call, "participant", [camera, ToneTrack()])
    try:
        await wait_for(lambda: "frozen" in call.quality_levels("participant"), timeout=10)
        await asyncio.sleep(1.0)
        assert call.quality_levels("participant")[measure] == "ok", call.quality_values(
            "participant"
        )
        hints.events.clear()

        camera.mode = mode
        raised = await wait_for(
            lambda: hints.seen(measure, ("warn", "bad")), timeout=HINT_DEADLINE_S
        )
        event = next(e for _, e in hints.events if e.measure == measure)
        assert event.hint == hint
        camera.mode = "normal"
        cleared = await wait_for(lambda: hints.seen(measure, ("ok",)), timeout=HINT_DEADLINE_S)
        print(f"{hint}: raised after {raised:.2f} s, cleared after {cleared:.2f} s")
        assert all(side == "participant" for side, _ in hints.events)
    finally:
        await participant.close()


async def test_packet_loss_is_reported(hints_call: tuple[MediaCall, Hints]) -> None:
    call, hints = hints_call
    participant = await connect_client(call, "participant", [PatternTrack(), ToneTrack()])
    counts = drop_rtp(participant.pc, 0.10)
    try:
        await wait_for(lambda: hints.seen("packet_loss", ("warn", "bad")), timeout=8)
        await asyncio.sleep(2.0)  # a few more intervals, so the figure is not the first one
        reported = call.quality_values("participant")["packet_loss"]
        injected = 100 * counts["dropped"] / counts["sent"]
        print(f"injected {injected:.1f} % loss, reported {reported:.1f} %")
        assert reported == pytest.approx(injected, abs=4.0)
        event = next(e for _, e in hints.events if e.measure == "packet_loss")
        assert event.hint == "unstable_connection"
    finally:
        await participant.close()
