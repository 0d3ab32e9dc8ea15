"""A media-only stand-in for the server, for when the signalling is not there: hosts the same
media call classes the server does (``MEDIA_PIPELINE``) behind three JSON routes.

    python -m bench.media_server --port P --pipeline ours|aiortc-relay

POST /offer {call, side, sdp} -> {sdp, type}; POST /record {call}; POST /close {call}.
"""

from __future__ import annotations

import argparse
import logging
import os
import tempfile
from pathlib import Path
from typing import Any

from aiohttp import web

from media.baseline import media_call_class
from media.call import MediaSettings

CALLS = web.AppKey("calls", dict)
FACTORY = web.AppKey("factory", object)


async def offer(request: web.Request) -> web.Response:
    body: dict[str, Any] = await request.json()
    calls = request.app[CALLS]
    call = calls.get(body["call"])
    if call is None:
        call = calls[body["call"]] = request.app[FACTORY](body["call"])  # type: ignore[operator]
    sdp, type_ = await call.accept_offer(body["side"], body["sdp"], "offer")
    return web.json_response({"sdp": sdp, "type": type_})


async def record(request: web.Request) -> web.Response:
    body = await request.json()
    request.app[CALLS][body["call"]].start_recording()
    return web.json_response({"ok": True})


async def close(request: web.Request) -> web.Response:
    body = await request.json()
    call = request.app[CALLS].pop(body["call"], None)
    if call is not None:
        await call.close()
    return web.json_response({"ok": True})


def complete_frames_on_marker() -> None:
    """Former experiment (``BENCH_SERVER_MARKER_JITTER``): the product's video receivers now
    complete frames on the RTP marker bit themselves (``media.rtc_forward.install_tap``)."""
    logging.warning("BENCH_SERVER_MARKER_JITTER: marker-bit frames are the default now")


def create_app(pipeline: str, data_dir: Path) -> web.Application:
    settings = MediaSettings(recording_dir=data_dir / "recordings", allow_loopback=True)
    cls = media_call_class(pipeline)
    app = web.Application()
    app[CALLS] = {}
    app[FACTORY] = lambda call_id: cls(call_id, settings)
    app.router.add_post("/offer", offer)
    app.router.add_post("/record", record)
    app.router.add_post("/close", close)
    return app


def main() -> None:
    parser = argparse.ArgumentParser(description="media-only server for bench.calls")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--pipeline", choices=("ours", "aiortc-relay"), default="ours")
    parser.add_argument(
        "--marker-jitter", action="store_true", help="see complete_frames_on_marker"
    )
    parser.add_argument("--data-dir", type=Path, help="default: a new temporary directory")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    if args.marker_jitter or os.environ.get("BENCH_SERVER_MARKER_JITTER"):
        complete_frames_on_marker()
    data_dir = args.data_dir or Path(tempfile.mkdtemp(prefix="bench-media-"))
    web.run_app(create_app(args.pipeline, data_dir), host="127.0.0.1", port=args.port)


if __name__ == "__main__":
    main()
