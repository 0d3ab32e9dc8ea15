"""The set-up timeline on /metrics: one real call (officer's accept over Socket.IO, aiortc peers
on /media) fills the histogram of every step, once. No timing is asserted (bench/ measures it)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from server import MEDIA_HUB
from tests.conftest import Participant
from tests.integration.media_peers import PatternTrack, wait_for
from tests.integration.staff_support import staff_login
from tests.integration.test_media_signaling import Side
from tests.integration.test_ops_metrics import scrape
from tests.integration.test_queue_signaling import Sock
from tests.support import make_nik
from videocall.accounts import Role
from videocall.app.setup_timeline import SETUP_STEPS

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)

HISTOGRAM = "videocall_call_setup_seconds"


def step_counts(data: dict[Any, float]) -> dict[str, float]:
    return {
        dict(labels)["step"]: value
        for (name, labels), value in data.items()
        if name == f"{HISTOGRAM}_count"
    }


async def test_one_call_fills_every_setup_step(client: Any) -> None:
    app = client.app
    _, cookie = await staff_login(client, "budi", Role.OFFICER)
    person = Participant(client, make_nik(female=True))
    await person.to_ready()
    p_sock = await Sock(client, "/participant", auth={"token": person.token}).connect()
    o_sock = await Sock(client, "/officer", headers=cookie).connect()
    sides: list[Side] = []
    session_id = None
    try:
        assert (await p_sock.call("join_queue"))["ok"]
        assert (await o_sock.call("set_presence", {"presence": "available"}))["ok"]
        before = step_counts(await scrape(client))
        assert not any(before.values())  # nothing timed before the first accept
        reply = await o_sock.call("accept_next")
        assert reply["ok"], reply
        session_id = reply["session_id"]
        paired = await p_sock.next("paired")
        participant = Side(client, paired["media"])
        officer = Side(client, reply["media"])
        sides = [participant, officer]
        await asyncio.gather(participant.connect(), officer.connect())
        await asyncio.gather(
            participant.start_media(PatternTrack()), officer.start_media(PatternTrack())
        )
        await wait_for(lambda: officer.received.frames["video"] > 3, 30)

        async def all_steps() -> dict[str, float]:
            return step_counts(await scrape(client))

        for _ in range(200):  # the officer's first frame may be a moment ahead of the metric
            counts = await all_steps()
            if all(counts.get(s) for s in SETUP_STEPS):
                break
            await asyncio.sleep(0.05)
        assert {s: counts.get(s) for s in SETUP_STEPS} == dict.fromkeys(SETUP_STEPS, 1.0)
        data = await scrape(client)
        sums = {
            dict(labels)["step"]: v
            for (name, labels), v in data.items()
            if name == f"{HISTOGRAM}_sum"
        }
        assert all(sums[s] >= 0 for s in SETUP_STEPS)
        # Steps that cannot happen before another (the participant's RTP may beat the
        # officer's DTLS, so that pair is not compared).
        assert sums["both_told"] <= sums["offers_received"] <= sums["dtls_connected"]
        assert sums["first_rtp"] <= sums["first_keyframe"] <= sums["first_frame_forwarded"]
    finally:
        if session_id is not None:
            await app[MEDIA_HUB].end(session_id)
        for side in sides:
            await side.close()
        await p_sock.close()
        await o_sock.close()
