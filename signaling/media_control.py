"""Ending a call's media from any process of a cluster.

A call can end (hang-up, grace window, decision) on whichever process handled the event, but
only the process hosting its media can close it and store the recording. Two Redis keys per call:

- ``<prefix>:media:host:<session>`` names the node while it holds the call's media open;
- ``<prefix>:media:end:<session>`` is set by a process that ended the call elsewhere.

The media node sweeps its own calls every ``SWEEP_SECONDS`` and closes those asked to end or
whose SQL session has ended; a process waiting for the recording (the decision) watches the host
key disappear, which happens only after the recording and quality are stored.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable

from redis.asyncio import Redis

logger = logging.getLogger(__name__)

SWEEP_SECONDS = 1.0
# Long enough for any call; the keys of a node killed mid-call expire by themselves.
KEY_TTL_SECONDS = 4 * 3600
# A decision waits this long for another node to store the recording, then goes on without it.
END_WAIT_SECONDS = 10.0


class MediaControl:
    def __init__(self, redis: Redis, prefix: str) -> None:
        self.redis = redis
        self.prefix = prefix

    def _host_key(self, session_id: str) -> str:
        return f"{self.prefix}:media:host:{session_id}"

    def _end_key(self, session_id: str) -> str:
        return f"{self.prefix}:media:end:{session_id}"

    async def hosting(self, session_id: str, node_id: str) -> None:
        await self.redis.set(self._host_key(session_id), node_id, ex=KEY_TTL_SECONDS)

    async def released(self, session_id: str) -> None:
        await self.redis.delete(self._host_key(session_id), self._end_key(session_id))

    async def host_of(self, session_id: str) -> str | None:
        host = await self.redis.get(self._host_key(session_id))
        return host.decode() if isinstance(host, bytes) else host

    async def request_end(self, session_id: str) -> None:
        await self.redis.set(self._end_key(session_id), "1", ex=KEY_TTL_SECONDS)

    async def asked_to_end(self, session_ids: Iterable[str]) -> set[str]:
        ids = list(session_ids)
        if not ids:
            return set()
        flags = await self.redis.mget([self._end_key(i) for i in ids])
        return {i for i, flag in zip(ids, flags, strict=True) if flag}

    async def end_elsewhere(
        self, session_id: str, me: str, wait_s: float = END_WAIT_SECONDS
    ) -> bool:
        """Ask the node hosting the media to close it and wait (bounded) until it has stored
        the recording. False when it did not answer in time; True when done or nothing to do."""
        host = await self.host_of(session_id)
        if host is None or host == me:
            return True
        await self.request_end(session_id)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait_s
        while loop.time() < deadline:
            await asyncio.sleep(0.1)
            if await self.host_of(session_id) is None:
                return True
        logger.warning("session %s: media node %s did not close the call in time", session_id, host)
        return False
