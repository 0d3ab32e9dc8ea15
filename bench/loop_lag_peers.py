"""The call's two client peers for ``bench/loop_lag.py``, in their own process (as browsers would
be): they offer to the bench's server over HTTP, send a panning picture and a tone, and the
officer's peer times every video frame it receives.

    python -m bench.loop_lag_peers --url http://127.0.0.1:PORT

Commands on stdin, one per line: ``start`` (begin timing), ``stop`` (print
``{"gap_max_ms", "frames"}`` as one JSON line and stop timing), ``quit``. Prints
``{"event": "ready"}`` once the officer receives video.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time

from aiohttp import ClientSession
from aiortc import RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from media.rtc_forward import allow_loopback_candidates
from tests.integration.media_peers import PatternTrack, ToneTrack


class FrameTimes:
    def __init__(self) -> None:
        self.timing = False
        self.last: float | None = None
        self.gap_max = 0.0
        self.frames = 0
        self.total = 0

    def seen(self) -> None:
        now = time.monotonic()
        self.total += 1
        if self.timing:
            if self.last is not None:
                self.gap_max = max(self.gap_max, now - self.last)
            self.frames += 1
        self.last = now


async def consume(track: MediaStreamTrack, times: FrameTimes | None) -> None:
    try:
        while True:
            await track.recv()
            if times is not None:
                times.seen()
    except MediaStreamError:
        pass


async def connect(
    http: ClientSession,
    url: str,
    side: str,
    times: FrameTimes | None,
    tasks: list[asyncio.Task[None]],
) -> RTCPeerConnection:
    pc = RTCPeerConnection()
    for track in (PatternTrack(), ToneTrack()):
        pc.addTransceiver(track, direction="sendrecv")

    @pc.on("track")
    def on_track(track: MediaStreamTrack) -> None:
        timed = times if track.kind == "video" else None
        tasks.append(asyncio.create_task(consume(track, timed)))

    await pc.setLocalDescription(await pc.createOffer())
    offer = {"sdp": pc.localDescription.sdp, "type": pc.localDescription.type}
    async with http.post(f"{url}/offer/{side}", json=offer) as response:
        answer = await response.json()
    await pc.setRemoteDescription(RTCSessionDescription(sdp=answer["sdp"], type=answer["type"]))
    return pc


async def commands(times: FrameTimes) -> None:
    loop = asyncio.get_running_loop()
    while True:
        line = (await loop.run_in_executor(None, sys.stdin.readline)).strip()
        if line == "start":
            times.timing, times.last, times.gap_max, times.frames = True, None, 0.0, 0
        elif line == "stop":
            times.timing = False
            result = {"gap_max_ms": round(times.gap_max * 1000, 1), "frames": times.frames}
            print(json.dumps(result), flush=True)
        elif line in ("quit", ""):
            return


async def main(url: str) -> None:
    allow_loopback_candidates(True)
    times = FrameTimes()
    tasks: list[asyncio.Task[None]] = []
    async with ClientSession() as http:
        peers = [
            await connect(http, url, "participant", None, tasks),
            await connect(http, url, "officer", times, tasks),
        ]
    while times.total < 15:  # noqa: ASYNC110 - a frame counter, no event to wait on
        await asyncio.sleep(0.1)
    print(json.dumps({"event": "ready"}), flush=True)
    try:
        await commands(times)
    finally:
        for pc in peers:
            await pc.close()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    asyncio.run(main(parser.parse_args().url))
