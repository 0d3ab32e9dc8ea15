"""The calls whose media this process hosts (``MediaHub``, the services' ``MediaPort``): media
tickets, one ``MediaCall`` per call, recording from consent, the end of a call (recording and
quality stored with the session), quality events to the sides; and the ``MediaSweeper`` that
closes the calls hosted here which ended on another process."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

import socketio

from media.baseline import media_call_class
from media.call import IceServer, MediaCall, MediaSettings, Side
from signaling.media_control import SWEEP_SECONDS, MediaControl
from signaling.media_tickets import NAMESPACE, MediaTickets
from videocall.app.ports import CallSessions, Placement
from videocall.app.setup_timeline import SetupSteps
from videocall.clock import Clock
from videocall.errors import Conflict, NotFound
from videocall.ports import RecordRepository
from videocall.quality import hint_text
from videocall.quality_monitor import QualityEvent
from videocall.settings import Settings
from videocall.turn import ice_servers
from videocall.uplink import UplinkRule

logger = logging.getLogger(__name__)


class MediaHub:
    """The calls whose media this process hosts; the services' ``MediaPort``."""

    def __init__(
        self,
        sio: socketio.AsyncServer,
        *,
        settings: Settings,
        sessions: CallSessions,
        records: RecordRepository,
        placement: Placement,
        clock: Clock,
        metrics: Any = None,
        control: MediaControl | None = None,
    ) -> None:
        self.sio = sio
        self.settings = settings
        self.sessions = sessions
        self.records = records
        self.placement = placement
        self.clock = clock
        self.tickets = MediaTickets(settings.signing_keys())
        # ``aiortc-relay`` is the naive decode/re-encode baseline, kept for the benchmark only.
        self.call_class: type[MediaCall] = media_call_class(settings.media_pipeline)
        self.calls: dict[str, MediaCall] = {}
        # One lock per call, not one for the hub: the first offer of a call reads its session
        # (SQL) under it, and with many calls starting together a hub-wide lock queued every
        # call's first offer behind the others' reads.
        self._locks: dict[str, asyncio.Lock] = {}
        self._pending: set[asyncio.Future[Any]] = set()
        self._recording: set[str] = set()
        self._offered: dict[str, set[str]] = {}
        self._started: dict[str, float] = {}
        self.metrics = metrics
        self.media_settings = MediaSettings(
            recording_dir=settings.recordings_dir,
            snapshot_dir=settings.snapshots_dir,
            sample_fps=settings.quality_sample_fps,
            ice_servers=tuple(
                IceServer(tuple(s["urls"]) if isinstance(s["urls"], list) else (s["urls"],))
                for s in json.loads(settings.ice_servers or "[]")
            ),
            allow_loopback=settings.allow_loopback_ice,
            uplink=UplinkRule(pause_after_s=settings.weak_uplink_seconds),
            codec_wait_s=settings.codec_wait_seconds,
        )
        # Set in a cluster (Redis): lets other processes end the calls whose media is here.
        self.control = control
        # The call service: told when a call's media connects (set by the composition root).
        self.on_connected: Callable[[str], Awaitable[None]] | None = None
        # The calls' set-up timeline (metrics): the media steps of each call hosted here.
        self.setup: SetupSteps | None = None
        # Run before a call's media closes (``signaling.media_watch`` closes its monitors).
        self.on_end: list[Callable[[str], Awaitable[None]]] = []

    # -- MediaPort ------------------------------------------------------------------------

    async def ticket(self, call_id: str, side: str, node_id: str | None) -> dict[str, Any]:
        """What a side needs to start its media: put it in the pairing message."""
        settings = self.settings
        url = await self.placement.node_url(node_id)
        return {
            "url": url or settings.effective_public_url,
            "namespace": NAMESPACE,
            "token": self.tickets.issue(call_id, side),  # type: ignore[arg-type]
            "ice_servers": ice_servers(
                stun_json=settings.ice_servers,
                turn_urls=settings.turn_urls,
                turn_secret=settings.turn_secret,
                ttl_seconds=settings.turn_ttl_seconds,
                user=f"{call_id[:8]}-{side[0]}",
                now=self.clock.now(),
            ),
        }

    async def close(self, call_id: str, *, wait: bool = False) -> None:
        """Close the call's media here, or ask the process that hosts it (its media sweeper
        closes it within a second); with ``wait``, wait (at most ``END_WAIT_SECONDS``) until it
        has stored the recording."""
        if call_id in self.calls:
            await self.end(call_id)
        elif self.control is not None and wait:
            await self.control.end_elsewhere(call_id, self.node_id)
        elif self.control is not None:
            await self.control.request_end(call_id)

    def hosted_here(self) -> frozenset[str]:
        return frozenset(self.calls)

    def _lock_for(self, session_id: str) -> asyncio.Lock:
        return self._locks.setdefault(session_id, asyncio.Lock())

    async def call_for(self, session_id: str) -> MediaCall:
        async with self._lock_for(session_id):
            call = self.calls.get(session_id)
            if call is not None:
                return call
            session = await self.sessions.get(session_id)
            if session.ended_at is not None:
                self._locks.pop(session_id, None)
                raise Conflict("the call has ended", code="call_closed")
            call = self.call_class(
                session_id,
                self.media_settings,
                on_quality=functools.partial(self._on_quality, session_id),
                on_setup=None
                if self.setup is None
                else functools.partial(self.setup.mark, session_id),
                # Media runs in real time whatever clock the records use (tests set that one).
            )
            call.on_reoffer = functools.partial(self._send_reoffer, session_id)
            self.calls[session_id] = call
            self._started[session_id] = time.monotonic()
            self._gauge_calls()
        await self._announce(session_id)
        return call

    @property
    def node_id(self) -> str:
        return self.placement.node_id

    async def _announce(self, session_id: str) -> None:
        if self.control is None:
            return
        try:
            await self.control.hosting(session_id, self.node_id)
        except Exception:
            # The call goes on; only a decision taken on another node misses the wait.
            logger.warning("session %s: could not announce its media node", session_id)

    def after_answer(self, session_id: str, call: MediaCall, side: Side) -> None:
        """Start the recording and tell the call service, once the answer is on its way: ICE
        and DTLS need not wait for these SQL round trips (under 15 set-ups at once they made
        the answer wait hundreds of ms; bench.calls --at-once)."""
        self._offered.setdefault(session_id, set()).add(side)
        task = asyncio.ensure_future(self._after_answer(session_id, call, side))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def _after_answer(self, session_id: str, call: MediaCall, side: Side) -> None:
        try:
            await self.start_recording_if_consented(session_id, call, side)
            if self.on_connected is not None:
                await self.on_connected(session_id)
        except Exception:
            logger.exception("session %s: after answering the %s", session_id, side)

    async def start_recording_if_consented(
        self, session_id: str, call: MediaCall, side: Side
    ) -> None:
        """Record from the moment both sides are connected (no empty first segment)."""
        offered = self._offered.setdefault(session_id, set())
        offered.add(side)
        if session_id in self._recording or len(offered) < 2:
            return
        self._recording.add(session_id)  # claimed before the awaits: one offer starts it
        try:
            session = await self.sessions.get(session_id)
            record = await self.records.get(session.record_id)
            if record.consent_at is None:
                logger.warning("session %s: no recorded consent, not recording", session_id)
                self._recording.discard(session_id)
                return
            if self.calls.get(session_id) is call:  # not ended meanwhile
                call.start_recording()
        except BaseException:
            self._recording.discard(session_id)
            raise

    async def end(self, session_id: str) -> dict[str, Any] | None:
        """Close a call's media and store its recording and quality with the session."""
        async with self._lock_for(session_id):
            call = self.calls.pop(session_id, None)
            self._recording.discard(session_id)
            self._offered.pop(session_id, None)
        self._locks.pop(session_id, None)
        if call is None:
            return None
        for hook in self.on_end:
            await hook(session_id)
        summary = (await call.close()).as_dict()
        self._count_ended(session_id, call, summary)
        quality: dict[str, dict[str, Any]] = summary["quality"]  # type: ignore[assignment]
        await self.sessions.update_media(
            session_id,
            recording={
                "segments": summary["segments"],
                "gaps_s": summary["gaps_s"],
                "video_paused_s": summary.get("video_paused_s", []),
            },
            quality_summary={side: q["summary"] for side, q in quality.items()},
            quality_series={side: q["series"] for side, q in quality.items()},
        )
        if self.control is not None:
            # After the recording is stored: whoever waits on the host key may read it now.
            try:
                await self.control.released(session_id)
            except Exception:
                logger.warning("session %s: could not release its media node", session_id)
        await self.sio.emit(
            "ended", {"session_id": session_id}, room=session_id, namespace=NAMESPACE
        )
        return summary

    async def sweep(self) -> None:
        """Close the calls that ended on another process (asked to, or their session ended)."""
        if self.control is None or not self.calls:
            return
        ids = list(self.calls)
        asked = await self.control.asked_to_end(ids)
        for session_id in ids:
            if session_id in asked or await self._session_ended(session_id):
                logger.info("session %s: call ended elsewhere, closing its media", session_id)
                await self.end(session_id)

    async def _session_ended(self, session_id: str) -> bool:
        try:
            return (await self.sessions.get(session_id)).ended_at is not None
        except NotFound:
            return False

    def _gauge_calls(self) -> None:
        if self.metrics is not None:
            self.metrics.calls_in_progress.set(len(self.calls))

    def _count_ended(self, session_id: str, call: MediaCall, summary: dict[str, Any]) -> None:
        started = self._started.pop(session_id, None)
        self._gauge_calls()
        if self.metrics is None:
            return
        if started is not None:
            self.metrics.call_duration.observe(time.monotonic() - started)
        self.metrics.recording_bytes.inc(sum(s["size_bytes"] for s in summary["segments"]))
        for kind, totals in getattr(call, "forward_totals", {}).items():
            self.metrics.frames_forwarded.labels(kind).inc(totals["forwarded"])
            self.metrics.frames_dropped.labels(kind).inc(totals["dropped"])

    async def close_all(self) -> None:
        for session_id in list(self.calls):
            try:
                await self.end(session_id)
            except Exception:
                logger.exception("session %s: closing media failed", session_id)

    def _send_reoffer(self, session_id: str, side: Side, sdp: str) -> None:
        room = f"{session_id}:{side}"
        coro = self.sio.emit(
            "renegotiate", {"sdp": sdp, "type": "offer"}, room=room, namespace=NAMESPACE
        )
        task = asyncio.ensure_future(coro)
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    def _on_quality(self, session_id: str, side: Side, event: QualityEvent) -> None:
        if self.metrics is not None:
            self.metrics.quality_classes.labels(event.measure, event.level).inc()
        payload = event.as_dict()
        officer = {"side": side, **payload}
        tasks = [
            self.sio.emit("quality", officer, room=f"{session_id}:officer", namespace=NAMESPACE)
        ]
        if side == "participant":
            text = (
                {lang: hint_text(event.hint, lang) for lang in ("id", "en")} if event.hint else None
            )
            tasks.append(
                self.sio.emit(
                    "hint",
                    {**payload, "text": text},
                    room=f"{session_id}:participant",
                    namespace=NAMESPACE,
                )
            )
        for coro in tasks:
            task = asyncio.ensure_future(coro)
            self._pending.add(task)
            task.add_done_callback(self._pending.discard)


async def _sweep_forever(hub: MediaHub, stopping: asyncio.Event) -> None:
    while not stopping.is_set():
        try:
            await hub.sweep()
        except Exception:
            logger.warning("media sweep failed", exc_info=True)  # Redis away: next round
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stopping.wait(), SWEEP_SECONDS)


class MediaSweeper:
    """Closes, every ``SWEEP_SECONDS``, the calls hosted here that ended on another process."""

    def __init__(self, hub: MediaHub) -> None:
        self.hub = hub
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(_sweep_forever(self.hub, self._stopping))

    async def close(self) -> None:
        # Stopped by a flag, not a cancel: redis-py on 3.11 can swallow a cancellation.
        self._stopping.set()
        if (
            self._task is not None
            and not (await asyncio.wait({self._task}, timeout=SWEEP_SECONDS + 6))[0]
        ):
            self._task.cancel()
        self._task = None
