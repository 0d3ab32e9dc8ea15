"""A user-space network emulator for media tests: a UDP proxy with loss, delay, jitter, a rate
cap and outages (``tc netem`` is not available on these machines).

    proxy = UdpImpairmentProxy(server_address)        # where the media server listens
    host, port = await proxy.start()
    answer = route_through(answer_sdp, host, port)    # the client now reaches the server via us
    proxy.uplink = Impairment(loss=0.1)               # client -> server; change it any time
    proxy.uplink = Impairment(rate_kbps=150)
    proxy.uplink = Impairment(down=True)              # an outage: nothing passes either way
    proxy.close()

Every client source address gets its own upstream socket (a symmetric NAT), so the server sees
the client as one peer-reflexive address and ICE, DTLS, RTP and RTCP all cross the proxy. The
client's own candidates must not reach the server (rewrite them to a dead address, port 9):
otherwise the server's checks find the client directly, the client learns the server as a
peer-reflexive candidate and may nominate that pair, and the proxy is bypassed. Each
direction counts what it received, dropped and delivered. It runs on the event loop: one
``call_later`` per delayed packet, nothing else.
"""

from __future__ import annotations

import asyncio
import random
import re
from dataclasses import dataclass, field
from typing import Any

Address = tuple[str, int]


@dataclass(frozen=True, slots=True)
class Impairment:
    loss: float = 0.0  # share of packets dropped at random (0-1)
    delay_s: float = 0.0  # one-way delay added to every packet
    jitter_s: float = 0.0  # plus a uniform 0..jitter_s (packets may reorder, as on real links)
    rate_kbps: float | None = None  # a bottleneck: packets queue behind each other at this rate
    queue_s: float = 0.3  # the bottleneck's queue; a packet that would wait longer is dropped
    down: bool = False  # an outage: everything is dropped


@dataclass(slots=True)
class Counters:
    received: int = 0
    dropped: int = 0
    delivered: int = 0
    bytes_delivered: int = 0


@dataclass(slots=True)
class _Direction:
    impairment: Impairment = field(default_factory=Impairment)
    counters: Counters = field(default_factory=Counters)
    next_free: float = 0.0  # when the bottleneck has sent everything queued so far


class _Upstream(asyncio.DatagramProtocol):
    def __init__(self, proxy: UdpImpairmentProxy, client: Address) -> None:
        self.proxy = proxy
        self.client = client
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: Address) -> None:
        self.proxy._pass(self.proxy._down, data, self.proxy._to_client, self.client)


class _Listener(asyncio.DatagramProtocol):
    def __init__(self, proxy: UdpImpairmentProxy) -> None:
        self.proxy = proxy

    def datagram_received(self, data: bytes, addr: Address) -> None:
        self.proxy._from_client(data, addr)


class UdpImpairmentProxy:
    def __init__(self, target: Address, host: str = "127.0.0.1", seed: int = 1) -> None:
        self.target = target
        self.host = host
        self._rng = random.Random(seed)
        self._up = _Direction()
        self._down = _Direction()
        self._listener: asyncio.DatagramTransport | None = None
        self._upstreams: dict[Address, _Upstream] = {}
        self._pending: dict[Address, list[bytes]] = {}
        self._timers: set[asyncio.TimerHandle] = set()
        self._loop: asyncio.AbstractEventLoop | None = None

    async def start(self) -> Address:
        self._loop = asyncio.get_running_loop()
        transport, _ = await self._loop.create_datagram_endpoint(
            lambda: _Listener(self), local_addr=(self.host, 0)
        )
        self._listener = transport
        host, port = transport.get_extra_info("sockname")[:2]
        return host, port

    # --- what tests change ----------------------------------------------------------------------

    @property
    def uplink(self) -> Impairment:
        return self._up.impairment

    @uplink.setter
    def uplink(self, value: Impairment) -> None:
        self._up.impairment = value

    @property
    def downlink(self) -> Impairment:
        return self._down.impairment

    @downlink.setter
    def downlink(self, value: Impairment) -> None:
        self._down.impairment = value

    def set_outage(self, down: bool) -> None:
        """Cut (or restore) both directions, keeping the rest of each impairment."""
        for direction in (self._up, self._down):
            i = direction.impairment
            direction.impairment = Impairment(
                i.loss, i.delay_s, i.jitter_s, i.rate_kbps, i.queue_s, down
            )

    @property
    def up_counters(self) -> Counters:
        return self._up.counters

    @property
    def down_counters(self) -> Counters:
        return self._down.counters

    def close(self) -> None:
        for timer in self._timers:
            timer.cancel()
        self._timers.clear()
        for upstream in self._upstreams.values():
            if upstream.transport is not None:
                upstream.transport.close()
        self._upstreams.clear()
        if self._listener is not None:
            self._listener.close()
            self._listener = None

    # --- forwarding -----------------------------------------------------------------------------

    def _from_client(self, data: bytes, addr: Address) -> None:
        upstream = self._upstreams.get(addr)
        if upstream is None:
            upstream = self._upstreams[addr] = _Upstream(self, addr)
            self._pending[addr] = [data]
            assert self._loop is not None
            task = self._loop.create_task(self._open_upstream(upstream))
            task.add_done_callback(lambda t: t.exception())
            return
        if upstream.transport is None:
            self._pending[addr].append(data)
            return
        self._pass(self._up, data, self._to_server, addr)

    async def _open_upstream(self, upstream: _Upstream) -> None:
        assert self._loop is not None
        await self._loop.create_datagram_endpoint(
            lambda: upstream, local_addr=(self.host, 0), remote_addr=self.target
        )
        for data in self._pending.pop(upstream.client, []):
            self._pass(self._up, data, self._to_server, upstream.client)

    def _to_server(self, data: bytes, client: Address) -> None:
        upstream = self._upstreams.get(client)
        if upstream is not None and upstream.transport is not None:
            upstream.transport.sendto(data)

    def _to_client(self, data: bytes, client: Address) -> None:
        if self._listener is not None:
            self._listener.sendto(data, client)

    def _pass(self, direction: _Direction, data: bytes, send: Any, client: Address) -> None:
        assert self._loop is not None
        counters, imp = direction.counters, direction.impairment
        counters.received += 1
        if imp.down or (imp.loss > 0 and self._rng.random() < imp.loss):
            counters.dropped += 1
            return
        now = self._loop.time()
        departure = now
        if imp.rate_kbps is not None:
            departure = max(now, direction.next_free)
            if departure - now > imp.queue_s:
                counters.dropped += 1  # tail drop: the bottleneck queue is full
                return
            direction.next_free = departure + len(data) * 8 / (imp.rate_kbps * 1000)
        wait = departure - now + imp.delay_s
        if imp.jitter_s > 0:
            wait += self._rng.uniform(0, imp.jitter_s)
        counters.delivered += 1
        counters.bytes_delivered += len(data)
        if wait <= 0:
            send(data, client)
            return
        holder: list[asyncio.TimerHandle] = []

        def fire() -> None:
            self._timers.discard(holder[0])
            send(data, client)

        holder.append(self._loop.call_later(wait, fire))
        self._timers.add(holder[0])


_CANDIDATE = re.compile(r"^a=candidate:(\S+) (\d) (udp|UDP) (\d+) (\S+) (\d+) typ (\S+)(.*)$")


def route_through(sdp: str, host: str, port: int) -> str:
    """Rewrite an SDP's UDP candidates to one host candidate at the proxy (TCP ones dropped),
    so that the side reading it reaches the other side only through the proxy."""
    out: list[str] = []
    seen: set[str] = set()
    for line in sdp.splitlines():
        if line.startswith("m="):
            seen = set()
        if line.startswith("a=candidate:"):
            match = _CANDIDATE.match(line)
            if match is None:
                continue
            foundation, component, _, priority = match.group(1, 2, 3, 4)
            line = f"a=candidate:{foundation} {component} udp {priority} {host} {port} typ host"
            if component in seen:
                continue
            seen.add(component)
        elif line.startswith("c=IN IP4 "):
            line = f"c=IN IP4 {host}"
        out.append(line)
    return "\r\n".join(out) + "\r\n"
