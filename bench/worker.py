"""A client process of the call benchmark: sets up its share of the calls, keeps them running,
and reports what its peers measured over the window the driver names.

    python -m bench.worker --setup media-only|signalling --url http://127.0.0.1:P --calls K
        --first 0 [--decode-all]

Protocol on stdin/stdout (one JSON object per line): the worker prints ``{"event": "ready",
...}`` once its calls run; the driver writes ``{"t0": ..}`` when the window opens and
``{"t1": ..}`` when it closes (``time.monotonic()`` readings, shared by all processes on the
machine); the worker prints ``{"event": "result", ...}`` and exits.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import resource
import sys
import time
from dataclasses import dataclass
from typing import Any

from bench.media import cached_media
from bench.peers import Peer, VideoReceiver, make_peer
from bench.setup import CallSetup, Gate, setup_for
from bench.timeline import call_timeline
from media.rtc_forward import allow_loopback_candidates

GRACE_S = 1.0  # frames sent in the last second of the window may still be in flight
SETUP_CONCURRENCY = 3
FIRST_FRAME_TIMEOUT_S = 20.0


@dataclass
class RunningCall:
    call_id: str
    participant: Peer
    officer: Peer
    accept_at: float
    told_ms: float | None
    first_frame_s: float | None = None  # officer's accept -> first participant frame decoded
    back_frame_s: float | None = None  # officer's accept -> first officer frame at the participant
    signalling_marks: dict[str, float] | None = None  # accept acknowledged, both sides told

    def timeline(self) -> dict[str, float | None]:
        participant, officer = self.participant.timeline_marks(), self.officer.timeline_marks()
        return call_timeline(self.accept_at, self.signalling_marks or {}, participant, officer)


def _receiver(peers: dict[str, Peer], sender: str, decode_all: bool, table: Any) -> Any:
    return lambda: VideoReceiver(peers[sender].video, table, decode_all)


async def start_call(
    call_id: str,
    setup: CallSetup,
    decode_all: bool,
    gate: Gate | None = None,
    codec: str = "VP8",
) -> RunningCall:
    loop, audio = cached_media(codec=codec)
    table = loop.index_of()
    peers: dict[str, Peer] = {}
    peers["participant"] = make_peer(
        "participant", loop, audio, _receiver(peers, "officer", decode_all, table)
    )
    peers["officer"] = make_peer(
        "officer", loop, audio, _receiver(peers, "participant", decode_all, table)
    )
    times = await setup.connect(call_id, peers["participant"].pc, peers["officer"].pc, gate)
    call = RunningCall(
        call_id, peers["participant"], peers["officer"], times.accept_at, times.told_ms
    )
    if times.marks:
        call.signalling_marks = times.marks
    await wait_first_frames(call)
    return call


async def wait_first_frames(call: RunningCall) -> None:
    deadline = time.monotonic() + FIRST_FRAME_TIMEOUT_S
    while time.monotonic() < deadline:
        at_officer = call.officer.video_in
        at_participant = call.participant.video_in
        if at_officer and at_officer.arrivals.first_decoded_at and at_participant:
            if at_participant.arrivals.first_decoded_at:
                call.first_frame_s = at_officer.arrivals.first_decoded_at - call.accept_at
                call.back_frame_s = at_participant.arrivals.first_decoded_at - call.accept_at
                return
        await asyncio.sleep(0.01)
    logging.warning("call %s: no video both ways after %.0f s", call.call_id, FIRST_FRAME_TIMEOUT_S)


class AtOnce:
    """The gate of ``--at-once``: once every call of this worker is prepared, say so to the
    driver and wait for its ``{"go": ..}`` (sent when every worker is prepared)."""

    def __init__(self, calls: int) -> None:
        self._waiting = calls
        self._go = asyncio.Event()

    async def __call__(self) -> None:
        self._waiting -= 1
        if self._waiting == 0:
            emit({"event": "prepared"})
            json.loads(await read_line())
            self._go.set()
        await self._go.wait()


async def start_calls(
    ids: list[str], setup: CallSetup, decode_all: bool, at_once: bool = False, codec: str = "VP8"
) -> list[RunningCall]:
    """Up to ``SETUP_CONCURRENCY`` calls prepare at a time; without ``at_once`` each goes on
    to its accept and media as soon as it is prepared, with it they all accept together."""
    limit = asyncio.Semaphore(SETUP_CONCURRENCY)
    barrier = AtOnce(len(ids)) if at_once else None

    async def one(call_id: str) -> RunningCall:
        await limit.acquire()
        held = True

        async def gate() -> None:
            nonlocal held
            held = False
            limit.release()
            assert barrier is not None
            await barrier()

        try:
            return await start_call(call_id, setup, decode_all, gate if at_once else None, codec)
        finally:
            if held:
                limit.release()

    return list(await asyncio.gather(*(one(i) for i in ids)))


def direction_stats(sender: Peer, receiver: Peer, t0: float, t1: float) -> dict[str, Any]:
    """Frames sent in the window, how many arrived, and their latencies (ms)."""
    sent_at = sender.video.sent_at
    arrivals = receiver.video_in.arrivals if receiver.video_in else None
    got = arrivals.received if arrivals else {}
    window = [n for n, t in enumerate(sent_at) if t0 <= t <= t1 - GRACE_S]
    latencies = [round((got[n] - sent_at[n]) * 1000, 2) for n in window if n in got]
    # Audio carries no stamp: shift the arrival window by the video's median latency.
    delay = sorted(latencies)[len(latencies) // 2] / 1000 if latencies else 0.0
    audio_sent = sum(1 for t in sender.audio.sent_at if t0 <= t <= t1 - GRACE_S - delay)
    audio_got = sum(1 for t in receiver.audio_in.arrivals if t0 + delay <= t <= t1 - GRACE_S)
    late = [sender.video.late[n] for n in window]
    return {
        "video_sent": len(window),
        "video_delivered": len(latencies),
        "latencies_ms": latencies,
        "audio_sent": audio_sent,
        "audio_delivered": audio_got,
        "undecodable": arrivals.undecodable if arrivals else 0,
        "sender_late_max_ms": round(max(late, default=0.0) * 1000, 1),
    }


def call_result(call: RunningCall, t0: float, t1: float) -> dict[str, Any]:
    return {
        "call_id": call.call_id,
        "accept_to_told_ms": call.told_ms,
        "accept_to_first_frame_ms": None
        if call.first_frame_s is None
        else round(call.first_frame_s * 1000, 1),
        "accept_to_participant_first_frame_ms": None
        if call.back_frame_s is None
        else round(call.back_frame_s * 1000, 1),
        "timeline": call.timeline(),
        "participant_to_officer": direction_stats(call.participant, call.officer, t0, t1),
        "officer_to_participant": direction_stats(call.officer, call.participant, t0, t1),
    }


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def read_line() -> str:
    return await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)


def emit(event: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(event) + "\n")
    sys.stdout.flush()


async def run(args: argparse.Namespace) -> None:
    allow_loopback_candidates(True)
    cached_media(codec=args.codec)  # encode (or load) before any call starts
    setup: CallSetup = setup_for(args.setup, args.url)
    ids = [f"bench-{args.tag}-{n:03d}" for n in range(args.first, args.first + args.calls)]
    calls = await start_calls(ids, setup, args.decode_all, args.at_once, args.codec)
    emit({"event": "ready", "calls": len(calls)})
    t0 = json.loads(await read_line())["t0"]
    cpu_before = cpu_seconds()
    t1 = json.loads(await read_line())["t1"]
    cpu_used = cpu_seconds() - cpu_before
    results = [call_result(c, t0, t1) for c in calls]
    emit({"event": "result", "calls": results, "client_cpu_s": round(cpu_used, 3)})
    for call in calls:
        await call.participant.close()
        await call.officer.close()
    await setup.close([c.call_id for c in calls])


def main() -> None:
    parser = argparse.ArgumentParser(description="client peers for bench.calls")
    parser.add_argument("--setup", choices=("media-only", "signalling"), required=True)
    parser.add_argument("--url", required=True)
    parser.add_argument("--calls", type=int, required=True)
    parser.add_argument("--first", type=int, default=0)
    parser.add_argument("--tag", default="run")
    parser.add_argument("--decode-all", action="store_true")
    parser.add_argument("--at-once", action="store_true", help="accept on the driver's go")
    parser.add_argument("--codec", choices=("VP8", "H264"), default="VP8")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
