"""Live supervision on the ``/media`` namespace: a supervisor's receive-only connection to a
call, served by the process that hosts the call's media.

A supervisor gets a *watch ticket* (``POST /api/sessions/{id}/watch``, checked by
``videocall.app.supervision``): the URL of the node hosting the call, and a signed token for
(session, supervisor) with its own salt, so a participant's or officer's media ticket can never
watch and a watch ticket can never send media. With it:

- ``watch`` ``{sdp, type: "offer"}`` -> ``{ok, sdp, type: "answer"}``: the offer has up to two
  video and two audio ``recvonly`` m-lines, participant first (``media.monitor``);
- a participant's or officer's connection sending ``watch``, or a monitor sending ``offer`` or
  ``snapshot``, is refused with ``role_forbidden`` (acknowledgement and ``error`` event);
- the monitor is in the call's room, so it gets ``ended`` when the call's media closes.

When a monitor's connection is answered, and when its socket goes (or the call ends), the
application is told (``on_watch``): the record's history and the officer's call view. When the
officer's media reconnects while someone watches, the officer is told again.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from itsdangerous import BadSignature, URLSafeTimedSerializer

from media.call import MediaCall
from media.monitor import MonitorLeg
from signaling.media import TICKET_TTL_SECONDS, MediaHub, MediaNamespace, OfferIn, answers
from videocall.accounts import Account
from videocall.errors import Conflict, NotAllowed

logger = logging.getLogger(__name__)

MONITOR = "monitor"
# (session_id, supervisor actor, supervisor name, "started" | "ended" | "still", watchers now)
OnWatch = Callable[[str, str, str, str, int], Awaitable[None]]


class WatchTickets:
    def __init__(self, keys_: list[str]) -> None:
        self._serializer = URLSafeTimedSerializer(keys_[::-1], salt="media-watch-ticket")

    def issue(self, session_id: str, watcher: Account) -> str:
        return self._serializer.dumps(
            {"sid": session_id, "by": watcher.actor, "name": watcher.display_name}
        )

    def claims(self, token: object) -> tuple[str, str, str] | None:
        """(session, actor, name) of a valid watch ticket; None for anything else."""
        if not isinstance(token, str):
            return None
        try:
            data = self._serializer.loads(token, max_age=TICKET_TTL_SECONDS)
        except BadSignature:
            return None
        return str(data["sid"]), str(data["by"]), str(data["name"])


@dataclass
class _Watcher:
    session_id: str
    actor: str
    name: str
    leg: MonitorLeg
    answered: bool = False


class WatchDesk:
    """The monitors of the calls hosted here; the application's ``Watching`` port."""

    def __init__(self, hub: MediaHub) -> None:
        self.hub = hub
        self.tickets = WatchTickets(hub.settings.signing_keys())
        self.watchers: dict[str, _Watcher] = {}  # socket id -> watcher
        self.on_watch: OnWatch | None = None  # set by the composition root
        hub.on_end.append(self.close_call)

    async def watch_ticket(
        self, call_id: str, watcher: Account, node_id: str | None
    ) -> dict[str, Any]:
        ticket = await self.hub.ticket(call_id, MONITOR, node_id)
        return {**ticket, "token": self.tickets.issue(call_id, watcher), "side": MONITOR}

    def count(self, session_id: str) -> int:
        return sum(1 for w in self.watchers.values() if w.session_id == session_id and w.answered)

    async def start(self, sid: str, session_id: str, actor: str, name: str, sdp: str) -> Any:
        call = self.hub.calls.get(session_id)
        if call is None:
            raise Conflict("the call's media is not live here", code="call_not_live")
        if not isinstance(call, MediaCall):  # the benchmark's decode/re-encode baseline
            raise Conflict("this media pipeline cannot be watched", code="watch_unsupported")
        watcher = self.watchers.get(sid)
        if watcher is None or watcher.leg.call is not call:
            watcher = _Watcher(session_id, actor, name, MonitorLeg(call, self.hub.media_settings))
            self.watchers[sid] = watcher
        answer = await watcher.leg.accept_offer(sdp, "offer")
        if not watcher.answered:
            watcher.answered = True
            logger.info("session %s: watched by %s", session_id, actor)
            await self._tell(watcher, "started")
        return answer

    async def stop(self, sid: str) -> None:
        watcher = self.watchers.pop(sid, None)
        if watcher is None:
            return
        await watcher.leg.close()
        if watcher.answered:
            logger.info("session %s: %s stopped watching", watcher.session_id, watcher.actor)
            await self._tell(watcher, "ended")

    async def close_call(self, session_id: str) -> None:
        for sid in [s for s, w in self.watchers.items() if w.session_id == session_id]:
            try:
                await self.stop(sid)
            except Exception:
                logger.exception("session %s: closing a monitor failed", session_id)

    async def remind(self, session_id: str) -> None:
        """The officer's media reconnected: tell their page again who is watching."""
        watching = [w for w in self.watchers.values() if w.session_id == session_id and w.answered]
        if watching:
            await self._tell(watching[-1], "still")

    async def _tell(self, watcher: _Watcher, change: str) -> None:
        if self.on_watch is None:
            return
        try:
            await self.on_watch(
                watcher.session_id,
                watcher.actor,
                watcher.name,
                change,
                self.count(watcher.session_id),
            )
        except Exception:
            # The watch goes on; the history misses an entry, which the log says.
            logger.exception("session %s: could not record the watch", watcher.session_id)


class WatchingMediaNamespace(MediaNamespace):
    """``/media`` with supervisors' monitors (``watch``) besides the two sides."""

    def __init__(self, hub: MediaHub, watch: WatchDesk) -> None:
        super().__init__(hub)
        self.watch = watch

    async def on_connect(self, sid: str, environ: dict[str, Any], auth: Any = None) -> None:
        token = auth.get("token") if isinstance(auth, dict) else None
        claims = self.watch.tickets.claims(token)
        if claims is None:
            await super().on_connect(sid, environ, auth)
            return
        session_id, actor, name = claims
        who = {"session_id": session_id, "side": MONITOR, "actor": actor, "name": name}
        await self.save_session(sid, who)
        await self.enter_room(sid, session_id)  # "ended" reaches the monitor too
        await self.enter_room(sid, f"{session_id}:{MONITOR}")

    async def on_disconnect(self, sid: str, reason: str | None = None) -> None:
        await self.watch.stop(sid)

    @answers("watch")
    async def on_watch(self, sid: str, data: Any) -> dict[str, Any]:
        offer = OfferIn.model_validate(data if isinstance(data, dict) else {"_": data})
        who = await self.get_session(sid)
        if who["side"] != MONITOR:
            raise NotAllowed("only a supervisor's watch ticket may watch", code="role_forbidden")
        sdp, type_ = await self.watch.start(
            sid, who["session_id"], who["actor"], who["name"], offer.sdp
        )
        return {"sdp": sdp, "type": type_}

    async def on_offer(self, sid: str, data: Any = None) -> dict[str, Any]:
        who = await self.get_session(sid)
        if who["side"] == MONITOR:
            return await self._monitor_refused(sid, data)
        reply: dict[str, Any] = await super().on_offer(sid, data)
        if reply.get("ok") and who["side"] == "officer":
            await self.watch.remind(who["session_id"])
        return reply

    @answers("offer")
    async def _monitor_refused(self, sid: str, data: Any) -> dict[str, Any]:
        raise NotAllowed("a supervisor's monitor only watches", code="role_forbidden")
