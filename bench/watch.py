"""What a supervisor watching costs: N calls unwatched, then the same calls watched.

    python -m bench.watch --calls N --seconds S

The real server and the call benchmark's client workers (``bench.calls``: pre-encoded 640x480
15 fps VP8 and Opus both ways, recorded and analysed) run N calls. Server CPU is read from
outside over S seconds with nobody watching; then a supervisor logs in, lists the calls in
progress (``GET /api/calls/live``) and opens one receive-only monitor per call (a watch ticket,
``/media`` ``watch``, an aiortc peer here that keeps the encoded frames without decoding), and
the server's CPU is read over S seconds again, with the workers' delivery and latency figures
for that window. Writes ``bench/results/watch.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import aiohttp
import socketio
from aiortc import RTCBundlePolicy, RTCConfiguration, RTCPeerConnection, RTCSessionDescription

from bench.calls import CallsConfig, run, start_workers, stop_all, wait_ready
from bench.procs import ServerProcess, Worker, start_server
from bench.report import environment, print_table, write_result
from bench.signalling import create_officers
from bench.window import measure_window, server_cpu
from media.rtc_forward import EncodedFrame, allow_loopback_candidates, install_tap

SUPERVISOR = ("bench.supervisor", "Bench-Supervisor-2026!")
SIDES = ("participant", "officer")
FIRST_FRAMES_TIMEOUT_S = 30.0


class Monitor:
    """One supervisor's receive-only view of one call; counts the frames of each stream."""

    def __init__(self, url: str, ticket: dict[str, Any]) -> None:
        self.url = url
        self.ticket = ticket
        self.sio = socketio.AsyncClient(reconnection=False)
        self.pc = RTCPeerConnection(RTCConfiguration(bundlePolicy=RTCBundlePolicy.MAX_BUNDLE))
        self.frames = {f"{s}-{k}": 0 for s in SIDES for k in ("video", "audio")}
        self.first_keyframe: dict[str, bool] = {}
        for _ in SIDES:
            self.pc.addTransceiver("video", direction="recvonly")
            self.pc.addTransceiver("audio", direction="recvonly")

        @self.pc.on("track")
        def on_track(track: Any) -> None:
            same = [t for t in self.pc.getTransceivers() if t.kind == track.kind]
            index = next(i for i, t in enumerate(same) if t.receiver.track is track)
            name = f"{SIDES[index]}-{track.kind}"
            install_tap(same[index].receiver, self._counter(name), "monitor")

    def _counter(self, name: str) -> Callable[[EncodedFrame], None]:
        def count(frame: EncodedFrame) -> None:
            self.frames[name] += 1
            self.first_keyframe.setdefault(name, frame.keyframe)

        return count

    async def start(self) -> None:
        await self.sio.connect(
            self.url,
            namespaces=["/media"],
            transports=["websocket"],
            auth={"token": self.ticket["token"]},
        )
        await self.pc.setLocalDescription(await self.pc.createOffer())
        assert self.pc.localDescription is not None
        offer = {"sdp": self.pc.localDescription.sdp, "type": "offer"}
        reply = await self.sio.call("watch", offer, namespace="/media", timeout=30)
        if not reply.get("ok"):
            raise RuntimeError(f"watch refused: {reply}")
        await self.pc.setRemoteDescription(RTCSessionDescription(reply["sdp"], reply["type"]))

    def seeing(self) -> bool:
        return all(self.frames[f"{s}-video"] > 0 for s in SIDES)

    async def close(self) -> None:
        await self.pc.close()
        await self.sio.disconnect()


async def create_supervisor(server: ServerProcess) -> None:
    from videocall.accounts import Role
    from videocall.adapters.sql_accounts import SqlAccounts
    from videocall.adapters.sql_records import Database

    url = f"sqlite+aiosqlite:///{(server.data_dir / 'videocall.db').resolve()}"
    database = Database.from_url(url)
    try:
        await SqlAccounts(database).create(
            username=SUPERVISOR[0],
            password=SUPERVISOR[1],
            role=Role.SUPERVISOR,
            display_name="Bench Supervisor",
            now=datetime.now(UTC),
        )
    finally:
        await database.close()


async def open_monitors(server: ServerProcess, calls: int) -> list[Monitor]:
    """Log in as the supervisor, list the calls in progress and watch each one."""
    async with aiohttp.ClientSession() as http:
        login = {"username": SUPERVISOR[0], "password": SUPERVISOR[1]}
        async with http.post(f"{server.url}/api/auth/login", json=login) as response:
            response.raise_for_status()
            auth = {"Cookie": f"vc_session={response.cookies['vc_session'].value}"}
        async with http.get(f"{server.url}/api/calls/live", headers=auth) as response:
            live = (await response.json())["items"]
        if len(live) != calls:
            raise RuntimeError(f"{len(live)} calls in progress, {calls} expected")
        tickets = []
        for item in live:
            path = f"{server.url}/api/sessions/{item['session_id']}/watch"
            async with http.post(path, headers=auth) as response:
                response.raise_for_status()
                tickets.append((await response.json())["media"])
    monitors = [Monitor(server.url, ticket) for ticket in tickets]
    for monitor in monitors:
        await monitor.start()
    deadline = time.monotonic() + FIRST_FRAMES_TIMEOUT_S
    while not all(m.seeing() for m in monitors):
        if time.monotonic() > deadline:
            raise RuntimeError("a monitor saw no video in time")
        await asyncio.sleep(0.1)
    return monitors


async def unwatched_window(server: ServerProcess, seconds: float) -> dict[str, float | None]:
    t0, cpu0 = time.monotonic(), server_cpu(server)
    await asyncio.sleep(seconds)
    t1, cpu1 = time.monotonic(), server_cpu(server)
    cpu = None if cpu0 is None or cpu1 is None else cpu1 - cpu0
    return {"window_s": t1 - t0, "server_cpu_s": cpu}


def per_call_second(cpu: float | None, calls: int, window_s: float) -> float | None:
    return round(cpu / (calls * window_s), 4) if cpu is not None and calls else None


async def run_watch(calls: int, seconds: float) -> dict[str, Any]:
    allow_loopback_candidates(True)
    config = CallsConfig(calls, seconds, "ours", "signalling", 0, False)
    env = environment()
    server = await start_server("signalling", "ours")
    workers: list[Worker] = []
    monitors: list[Monitor] = []
    try:
        await create_officers(server.data_dir, calls)
        await create_supervisor(server)
        workers = await start_workers(config, server)
        ready = await wait_ready(workers)
        await asyncio.sleep(2.0)  # past the set-up: ramp-up and the first keyframes
        unwatched = await unwatched_window(server, seconds)
        monitors = await open_monitors(server, calls)
        before = [dict(m.frames) for m in monitors]
        watched = await measure_window(server, ready, seconds)
        got = [
            {k: m.frames[k] - b[k] for k in m.frames} for m, b in zip(monitors, before, strict=True)
        ]
    finally:
        for monitor in monitors:
            await monitor.close()
        await stop_all(workers, server)
    result = summarize(calls, unwatched, watched, got, monitors)
    write_result("watch", {"benchmark": "watch", "calls": calls, "env": env, "result": result})
    print_summary(result)
    return result


def summarize(
    calls: int,
    unwatched: dict[str, Any],
    watched: dict[str, Any],
    got: list[dict[str, int]],
    monitors: list[Monitor],
) -> dict[str, Any]:
    window = watched["window_s"]
    sent = {"video": 0, "delivered_video": 0}
    for call in watched["calls"]:
        p2o = call["participant_to_officer"]
        sent["video"] += p2o["video_sent"]
        sent["delivered_video"] += p2o["video_delivered"]
    unwatched_cost = per_call_second(unwatched["server_cpu_s"], calls, unwatched["window_s"])
    watched_cost = per_call_second(watched["server_cpu_s"], len(watched["calls"]), window)
    return {
        "calls": calls,
        "unwatched": {**unwatched, "cpu_per_call_s": unwatched_cost},
        "watched": {
            "window_s": round(window, 2),
            "server_cpu_s": watched["server_cpu_s"],
            "cpu_per_call_s": watched_cost,
            "officer_video_delivered_ratio": round(sent["delivered_video"] / sent["video"], 4)
            if sent["video"]
            else None,
            "monitor_fps": {
                k: round(sum(g[k] for g in got) / max(1, len(got)) / window, 1) for k in got[0]
            }
            if got
            else {},
            "monitor_first_frame_keyframe": all(
                m.first_keyframe.get(f"{s}-video") for m in monitors for s in SIDES
            ),
            "workers_lost": watched["workers_lost"],
        },
        "watch_cost_per_call_s": round(watched_cost - unwatched_cost, 4)
        if watched_cost is not None and unwatched_cost is not None
        else None,
    }


def print_summary(r: dict[str, Any]) -> None:
    print(f"watch benchmark: {r['calls']} calls, unwatched then one monitor per call")
    print_table(
        [
            ("server CPU-s per call-second, unwatched", r["unwatched"]["cpu_per_call_s"]),
            ("server CPU-s per call-second, watched", r["watched"]["cpu_per_call_s"]),
            ("extra per watched call-second", r["watch_cost_per_call_s"]),
            ("officer video delivered (watched)", r["watched"]["officer_video_delivered_ratio"]),
            ("monitor frames/s per call", r["watched"]["monitor_fps"]),
            ("monitor video starts at a keyframe", r["watched"]["monitor_first_frame_keyframe"]),
        ]
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=30.0)
    args = parser.parse_args(argv)
    run(run_watch(args.calls, args.seconds))


if __name__ == "__main__":
    main()
