"""GET /metrics over real HTTP: access rules, request counts by route, one registry per app."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web
from aiohttp.test_utils import TestClient
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import Participant
from tests.support import make_nik
from web.metrics import METRICS

Client = TestClient[web.Request, web.Application]
AppFactory = Callable[..., Awaitable[Client]]


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


async def scrape(
    client: Client, **headers: str
) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    resp = await client.get("/metrics", headers=headers)
    assert resp.status == 200, await resp.text()
    assert resp.content_type == "text/plain"
    return samples(await resp.text())


def http_count(data: dict, route: str, method: str, status: str) -> float:
    key = (
        "videocall_http_requests_total",
        (("method", method), ("route", route), ("status", status)),
    )
    return data.get(key, 0.0)


async def test_requests_by_route_template_and_status(client: Client) -> None:
    person = Participant(client, make_nik())
    await person.register()
    await client.get("/api/me")  # 401
    await client.get("/no/such/page/12345")  # 404, one label for all unknown paths
    data = await scrape(client)
    assert http_count(data, "/api/participants", "POST", "201") == 1
    assert http_count(data, "/api/me", "GET", "401") == 1
    assert http_count(data, "unmatched", "GET", "404") == 1
    assert data[("videocall_records", (("state", "registered"),))] == 1
    assert data[("videocall_webhook_backlog", ())] >= 0


async def test_domain_metrics_are_exposed_with_conventional_names(client: Client) -> None:
    metrics = client.app[METRICS]
    metrics.wait_time.observe(42)
    metrics.set_officers({"away": 4})  # available/busy come from the queue at scrape time
    metrics.calls_in_progress.inc()
    metrics.call_duration.observe(300)
    metrics.decisions.labels("approved").inc()
    metrics.frames_forwarded.labels("video").inc(30)
    metrics.frames_dropped.labels("audio").inc()
    metrics.quality_classes.labels("darkness", "bad").inc()
    metrics.recording_bytes.inc(1024)
    metrics.webhook_failures.inc()
    data = await scrape(client)
    assert data[("videocall_queue_wait_seconds_count", ())] == 1
    assert data[("videocall_officers", (("presence", "away"),))] == 4
    assert data[("videocall_officers", (("presence", "available"),))] == 0
    assert data[("videocall_call_duration_seconds_sum", ())] == 300
    assert data[("videocall_decisions_total", (("result", "approved"),))] == 1
    assert data[("videocall_media_frames_forwarded_total", (("kind", "video"),))] == 30
    assert data[("videocall_recording_bytes_total", ())] == 1024
    assert data[("videocall_webhook_failures_total", ())] == 1


async def test_each_app_has_its_own_registry(app_factory: AppFactory) -> None:
    first, second = await app_factory(), await app_factory()
    first.app[METRICS].calls_in_progress.set(5)
    assert (await scrape(second))[("videocall_calls_in_progress", ())] == 0
    assert (await scrape(first))[("videocall_calls_in_progress", ())] == 5


async def test_token_required_when_set(app_factory: AppFactory) -> None:
    client = await app_factory(metrics_token="scrape-me")
    assert (await client.get("/metrics")).status == 401
    resp = await client.get("/metrics", headers={"Authorization": "Bearer wrong"})
    assert resp.status == 401
    assert (await resp.json())["error"]["code"] == "unauthenticated"
    await scrape(client, Authorization="Bearer scrape-me")


async def test_without_token_only_direct_loopback(client: Client) -> None:
    await scrape(client)  # the test client is on 127.0.0.1
    resp = await client.get("/metrics", headers={"X-Forwarded-For": "203.0.113.9"})
    assert resp.status == 401


async def test_queue_gauges_read_at_scrape_time(client: Client) -> None:
    import socketio

    person = Participant(client, make_nik(female=True))
    await person.to_ready()
    sio = socketio.AsyncClient(reconnection=False)
    await sio.connect(
        str(client.make_url("/")),
        namespaces=["/participant"],
        transports=["websocket"],
        auth={"token": person.token},
    )
    try:
        answer = await sio.call("join_queue", {}, namespace="/participant", timeout=10)
        assert answer["ok"], answer
        data = await scrape(client)
        assert data[("videocall_queue_participants_waiting", ())] == 1
        assert data[("videocall_officers", (("presence", "available"),))] == 0
    finally:
        await sio.disconnect()
