"""Network benchmark: one call whose participant uplink crosses the impairment proxy.

    python -m bench.network [--scenario NAME ...] [--seconds S]
    python -m bench.network --docs     # results table of docs/networks.md from the last run

Scenarios: 5 / 10 / 20 % uplink loss, 300 and 150 kbit/s uplink caps, a 5 s outage. Each
runs a fresh call in this process (``media.call.MediaCall``, real aiortc peers sending the
pre-encoded, frame-stamped VP8 loop of ``bench.media`` and Opus), recording on: 4 s clean, the
impairment for S seconds (the outage for 5 s), then 8 s clean. Reported per scenario:

- ``first_hint_s``: impairment start -> the first hint the participant is sent;
- ``delivered``: share of the participant's video frames sent during the impairment that reached
  the officer (identified by their bytes: forwarding does not change them); ``audio_delivered``
  the same for audio packets, by count;
- ``recovery_s`` (outage): outage end -> the first officer frame sent after it, which is the
  keyframe the forwarded PLI asked for (``keyframes_after``: keyframes the sender was asked for);
- ``paused``: whether the weak-uplink rule switched the call to audio and for how long;
- ``recording``: participant video packets and frames decoded from the recorded file.

The pre-encoded loop (``sender_video_kbps``, measured from the loop: 270-310 kbit/s) does not
adapt its rate as a browser's congestion control would: the caps show a sender that does not
fit the link, which is what the weak-uplink rule is for. A full run (no ``--scenario``) also
rewrites the results table of docs/networks.md (bench/docs.py does not cover this benchmark).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import av
from aiortc import RTCSessionDescription

from bench.media import FPS, VideoLoop, cached_media
from bench.peers import Peer, VideoReceiver, make_peer
from bench.report import environment, print_table, write_result
from media.call import MediaCall, MediaSettings, Side
from tests.netem import Impairment, UdpImpairmentProxy, route_through
from videocall.quality_monitor import QualityEvent

WARMUP_S = 4.0
RECOVER_S = 8.0


@dataclass(frozen=True, slots=True)
class Scenario:
    name: str
    impairment: Impairment
    seconds: float | None = None  # fixed length (the outage)


SCENARIOS = {
    s.name: s
    for s in (
        Scenario("loss-5", Impairment(loss=0.05)),
        Scenario("loss-10", Impairment(loss=0.10)),
        Scenario("loss-20", Impairment(loss=0.20)),
        Scenario("cap-300", Impairment(rate_kbps=300)),
        Scenario("cap-150", Impairment(rate_kbps=150)),
        Scenario("outage-5s", Impairment(down=True), seconds=5.0),
    )
}


async def connect(
    call: MediaCall, side: Side, peer: Peer, proxy: UdpImpairmentProxy | None = None
) -> None:
    """Offer/answer; with ``proxy`` the peer reaches the server only through it."""
    await peer.pc.setLocalDescription(await peer.pc.createOffer())
    assert peer.pc.localDescription is not None
    offer = peer.pc.localDescription.sdp
    if proxy is not None:
        offer = route_through(offer, "127.0.0.1", 9)  # the server finds us only via the proxy
    answer, type_ = await call.accept_offer(side, offer, "offer")
    if proxy is not None:
        proxy.target = server_port(answer)
        host, port = await proxy.start()
        answer = route_through(answer, host, port)
    await peer.pc.setRemoteDescription(RTCSessionDescription(sdp=answer, type=type_))


def server_port(sdp: str) -> tuple[str, int]:
    for line in sdp.splitlines():
        parts = line.split()
        if line.startswith("a=candidate:") and parts[4] == "127.0.0.1":
            return parts[4], int(parts[5])
    raise RuntimeError("no loopback candidate in the answer")


async def run_scenario(scenario: Scenario, seconds: float, directory: Path) -> dict[str, Any]:
    loop, audio = cached_media()
    hints: list[tuple[float, Side, QualityEvent]] = []
    call = MediaCall(
        f"net-{scenario.name}",
        MediaSettings(recording_dir=directory, allow_loopback=True),
        on_quality=lambda side, event: hints.append((time.monotonic(), side, event)),
    )
    participant, officer = _peers(loop, audio)
    proxy = UdpImpairmentProxy(("127.0.0.1", 0))
    try:
        await connect(call, "participant", participant, proxy)
        await connect(call, "officer", officer)
        await asyncio.sleep(1.0)
        call.start_recording()
        await asyncio.sleep(WARMUP_S - 1.0)
        start = time.monotonic()
        proxy.uplink = scenario.impairment
        await asyncio.sleep(scenario.seconds or seconds)
        end = time.monotonic()
        keys_before = participant.video.keyframes_sent
        proxy.uplink = Impairment()
        await asyncio.sleep(RECOVER_S)
    finally:
        await participant.close()
        await officer.close()
        summary = await call.close()
        proxy.close()
    return _report(scenario, summary, hints, participant, officer, start, end, keys_before, proxy)


def _peers(loop: VideoLoop, audio: tuple[bytes, ...]) -> tuple[Peer, Peer]:
    index = loop.index_of()
    holder: dict[str, Peer] = {}
    participant = make_peer(
        "participant", loop, audio, lambda: VideoReceiver(holder["officer"].video, index, False)
    )
    officer = make_peer(
        "officer", loop, audio, lambda: VideoReceiver(holder["participant"].video, index, False)
    )
    holder.update(participant=participant, officer=officer)
    return participant, officer


def _report(
    scenario: Scenario,
    summary: Any,
    hints: list[tuple[float, Side, QualityEvent]],
    participant: Peer,
    officer: Peer,
    start: float,
    end: float,
    keys_before: int,
    proxy: UdpImpairmentProxy,
) -> dict[str, Any]:
    sent = participant.video.sent_at
    arrivals = officer.video_in.arrivals.received if officer.video_in is not None else {}
    window = [n for n, t in enumerate(sent) if start <= t < end]
    delivered = sum(1 for n in window if n in arrivals) / len(window) if window else None
    first_hint = next(
        (t - start for t, side, e in hints if side == "participant" and e.hint and t >= start),
        None,
    )
    after = [arrivals[n] for n, t in enumerate(sent) if t >= end and n in arrivals]
    pauses = summary.video_paused_s
    return {
        "scenario": scenario.name,
        "uplink": {
            "loss": scenario.impairment.loss,
            "rate_kbps": scenario.impairment.rate_kbps,
            "outage": scenario.impairment.down,
            "sender_video_kbps": round(loop_kbps(cached_media()[0])),
        },
        "first_hint_s": None if first_hint is None else round(first_hint, 2),
        "hints": sorted({e.hint for _, s, e in hints if s == "participant" and e.hint}),
        "delivered": None if delivered is None else round(delivered, 3),
        "audio_delivered": _audio_delivered(participant, officer, start, end),
        "recovery_s": round(min(after) - end, 2) if after else None,
        "keyframes_after": participant.video.keyframes_sent - keys_before,
        "paused_s": [[round(a, 1), round(b, 1)] for a, b in pauses],
        "proxy_dropped": proxy.up_counters.dropped,
        "recording": _recording(summary),
    }


def _audio_delivered(participant: Peer, officer: Peer, start: float, end: float) -> float | None:
    """Share of the participant's audio packets of the window that reached the officer (by
    count: audio packets are not identified one by one)."""
    sent = sum(1 for t in participant.audio.sent_at if start <= t < end)
    got = sum(1 for t in officer.audio_in.arrivals if start <= t < end + 0.3)
    return round(min(1.0, got / sent), 3) if sent else None


def loop_kbps(loop: VideoLoop) -> float:
    return sum(map(len, loop.inter)) * 8 * FPS / len(loop) / 1000


def _recording(summary: Any) -> dict[str, Any]:
    result: dict[str, Any] = {"segments": len(summary.segments), "packets": 0, "decoded": 0}
    errors = 0
    for segment in summary.segments:
        with av.open(str(segment.path)) as container:
            stream = next(
                s for s in container.streams.video if s.metadata.get("title") == "participant-video"
            )
            for packet in container.demux(stream):
                if not packet.size:
                    continue
                result["packets"] += 1
                try:
                    result["decoded"] += len(packet.decode())
                except av.FFmpegError:
                    errors += 1
    result["decode_errors"] = errors
    result["decodable"] = result["decoded"] > 0 and errors <= 0.02 * max(1, result["packets"])
    return result


DOCS = Path(__file__).resolve().parents[1] / "docs" / "networks.md"
RESULTS = Path(__file__).resolve().parent / "results" / "network.json"
BEGIN, END = "<!-- bench.network results -->", "<!-- end of bench.network results -->"


def markdown(data: dict[str, Any]) -> str:
    """The per-scenario table of a run, for docs/networks.md."""
    env = data["environment"]
    rows = [
        f"Run {env['when'][:16].replace('T', ' ')} UTC on {env['cpus']} cores (load "
        f"{env['load_avg_1m_before']} before it), impairment {data['seconds']:g} s (the outage "
        "5 s), sender's video "
        f"{data['scenarios'][0]['uplink']['sender_video_kbps']} kbit/s, not adapting.",
        "",
        "| scenario | first hint | hints | video delivered | audio delivered | video back after "
        "| audio-only | recording (packets / decoded) |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in data["scenarios"]:
        rec = r["recording"]
        decodable = "decodable" if rec["decodable"] else "NOT decodable"

        def s(value: float | None) -> str:
            return "-" if value is None else f"{value:g} s"

        def pct(value: float | None) -> str:
            return "-" if value is None else f"{value:.0%}"

        paused = ", ".join(f"{b - a:.1f} s" for a, b in r["paused_s"]) or "no"
        rows.append(
            f"| {r['scenario']} | {s(r['first_hint_s'])} | {', '.join(r['hints']) or '-'} "
            f"| {pct(r['delivered'])} | {pct(r['audio_delivered'])} | {s(r['recovery_s'])} "
            f"| {paused} | {rec['packets']} / {rec['decoded']}, {decodable} |"
        )
    return "\n".join(rows)


def write_docs(results: Path = RESULTS, docs: Path = DOCS) -> None:
    """Put the last run's table between the markers of docs/networks.md."""
    text = docs.read_text()
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    table = markdown(json.loads(results.read_text()))
    docs.write_text(f"{head}{BEGIN}\n{table}\n{END}{tail}")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scenario", action="append", choices=sorted(SCENARIOS))
    parser.add_argument("--seconds", type=float, default=14.0, help="impairment length")
    parser.add_argument("--docs", action="store_true", help="only rewrite docs/networks.md")
    return parser.parse_args(argv)


async def run(args: argparse.Namespace) -> dict[str, Any]:
    names = args.scenario or list(SCENARIOS)
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in names:
            result = await run_scenario(SCENARIOS[name], args.seconds, Path(tmp) / name)
            results.append(result)
            print(f"{name}:")
            print_table([(k, v) for k, v in result.items() if k != "scenario"])
    return {"environment": environment(), "seconds": args.seconds, "scenarios": results}


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if not args.docs:
        data = asyncio.run(run(args))
        print(f"written to {write_result('network', data)}")
    if not args.scenario:  # a full run (or --docs): the documented table follows it
        write_docs()
        print(f"table written to {DOCS}")


if __name__ == "__main__":
    main()
