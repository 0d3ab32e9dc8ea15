"""Schemathesis against our own /api/openapi.json, over real HTTP, on SQLite and PostgreSQL.

Every operation gets a bounded number of generated requests, valid and invalid, sent with a real
participant token, a real staff session and an API key (so handlers run, not just auth checks).
Checks: never a 5xx, every status documented, every body matching its schema.

The stateful run follows the spec's OpenAPI links (``web.openapi.LINK_SOURCES``): ids from one
answer (a registration, the undecided calls, the review queue, the failed webhooks, a session's
evidence) feed the next operations, so decisions, releases, snapshots, recordings and redelivery
run against a real call session, real files and a real parked delivery.
"""

from __future__ import annotations

import asyncio
import copy
import os
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import requests
import schemathesis
import sqlalchemy as sa
from aiohttp import web
from aiohttp.test_utils import TestClient
from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as hyp_settings
from hypothesis.errors import FlakyStrategyDefinition, Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.conftest import Participant
from tests.support import SettableClock, make_nik, photo_bytes
from videocall.accounts import Role
from videocall.adapters import db
from web import keys
from web.metrics import METRICS
from web.webhooks_api import WEBHOOKS

Client = TestClient[web.Request, web.Application]
AppFactory = Callable[..., Awaitable[Client]]
MAX_EXAMPLES = int(os.environ.get("FUZZ_MAX_EXAMPLES", "10"))  # per operation and mode
STATEFUL_EXAMPLES = int(os.environ.get("FUZZ_STATEFUL_EXAMPLES", "120"))  # scenarios
STATEFUL_STEPS = 8  # calls per scenario
UNDECIDED_CALLS = 3  # a release ends one; the links find the next
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
LAST = ("/api/auth/logout",)  # would end the staff session the other operations use
# Known 500s in routes owned by others, reproduced by a strict xfail below; fuzzed without the
# media type that triggers them until fixed (then the xfail passes strictly: drop both).
KNOWN_MEDIA_TYPES: dict[tuple[str, str], str] = {}
KNOWN_OPERATIONS: set[tuple[str, str]] = set()


async def credentials(
    client: Client, clock: SettableClock
) -> tuple[dict[str, str], dict[str, str]]:
    person = Participant(client, make_nik())
    await person.register()
    await client.app[keys.ACCOUNTS].create(
        username="fuzz-officer",
        password="kopi-tubruk-panas-42",
        role=Role.SUPERVISOR,
        display_name="Fuzz",
        now=clock.now(),
    )
    resp = await client.post(
        "/api/auth/login", json={"username": "fuzz-officer", "password": "kopi-tubruk-panas-42"}
    )
    assert resp.status == 200
    session = resp.cookies["vc_session"].value
    headers = {
        "Authorization": f"Bearer {person.token}",
        "X-API-Key": "test-api-key",
        "Cookie": f"vc_session={session}",
    }
    return headers, {"record_id": person.record_id, "kind": "ktp"}


def fuzz_operation(
    operation: Any, mode: GenerationMode, base_url: str, headers: dict, known: dict[str, str]
) -> None:
    http = requests.Session()
    names = {p.name for p in operation.path_parameters}
    fixed = {k: v for k, v in known.items() if k in names}

    @hyp_settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode, path_parameters=fixed or None))
    def run(case: Any) -> None:
        case.call_and_validate(base_url=base_url, session=http, headers=headers, checks=CHECKS)

    try:
        run()
    finally:
        http.close()


def fuzz_all(
    spec: dict[str, Any], base_url: str, headers: dict[str, str], known: dict[str, str]
) -> list[str]:
    spec = copy.deepcopy(spec)
    for (method, path), media_type in KNOWN_MEDIA_TYPES.items():
        del spec["paths"][path][method]["requestBody"]["content"][media_type]
    for method, path in KNOWN_OPERATIONS:
        del spec["paths"][path][method]
    schema = schemathesis.openapi.from_dict(spec)
    operations = [result.ok() for result in schema.get_all_operations()]
    operations.sort(key=lambda op: op.path in LAST)
    failures = []
    for operation in operations:
        # Random ids (mostly 404s), then real ones so the handlers behind them run too.
        runs = [(GenerationMode.POSITIVE, {}), (GenerationMode.NEGATIVE, {})]
        if operation.path_parameters:
            runs.append((GenerationMode.POSITIVE, known))
        for mode, ids in runs:
            try:
                fuzz_operation(operation, mode, base_url, headers, ids)
            except Unsatisfiable:
                pass  # nothing to make invalid (no parameters, no body)
            except (Exception, BaseExceptionGroup) as exc:
                failures.append(f"{operation.label} [{mode.value}]: {exc}")
    return failures


async def test_api_conforms_to_its_schema(app_factory: AppFactory, clock: SettableClock) -> None:
    client = await app_factory(
        rate_limit_register="off", rate_limit_upload="off", rate_limit_login="off"
    )
    headers, known = await credentials(client, clock)
    spec = await (await client.get("/api/openapi.json")).json()
    base_url = str(client.make_url("")).rstrip("/")
    failures = await asyncio.to_thread(fuzz_all, spec, base_url, headers, known)
    assert not failures, "\n\n".join(failures)
    sent = client.app[METRICS].http_requests.collect()[0].samples
    per_route = {s.labels["route"] for s in sent if s.name.endswith("_total")}
    print(
        "FUZZ",
        len(per_route),
        len(spec["paths"]),
        sum(s.value for s in sent if s.name.endswith("_total")),
        sorted(
            {(s.labels["route"], s.labels["status"]) for s in sent if s.name.endswith("_total")}
        ),
    )
    assert len(per_route) >= len(spec["paths"])  # every operation was really called
    assert sum(s.value for s in sent if s.name.endswith("_total")) > 10 * len(spec["paths"])


async def test_malformed_multipart_headers_are_a_client_error(app_factory: AppFactory) -> None:
    """Found by the fuzzer (fixed since): a part header with a control character makes aiohttp
    raise InvalidHeader while reading the form."""
    client = await app_factory()
    person = Participant(client, make_nik())
    await person.register()
    body = b'--b\r\nContent-Disposition: form-data; name="\x01"\r\n\r\nx\r\n--b--\r\n'
    resp = await client.put(
        "/api/me/documents/ktp",
        data=body,
        headers={**person.auth, "Content-Type": "multipart/form-data; boundary=b"},
    )
    assert resp.status in (400, 422)


async def test_huge_delivery_id_is_not_found(app_factory: AppFactory, clock: SettableClock) -> None:
    """Found by the fuzzer (fixed since): ``int()`` accepts any length, the database does not."""
    client = await app_factory()
    headers, _ = await credentials(client, clock)
    resp = await client.post(f"/api/webhooks/{10**30}/redeliver", headers=headers)
    assert resp.status == 404


async def call_awaiting_decision(client: Client, clock: SettableClock) -> str:
    """A participant's call with another officer, media flowed and hung up: awaiting decision,
    with a snapshot and a recording segment listed and on disk."""
    app, now = client.app, clock.now()
    person = Participant(client, make_nik(female=True))
    await person.to_ready()
    officer = await app[keys.ACCOUNTS].create(
        username=f"fuzz-desk-{uuid.uuid4().hex[:8]}",
        password="kopi-susu-dingin-77",
        role=Role.OFFICER,
        display_name="Desk",
        now=now,
    )
    sessions = app[keys.SESSIONS]
    session = await sessions.start(
        record_id=person.record_id, officer_id=officer.id, officer_actor=officer.actor, now=now
    )
    # Hung up at once: an open SQL call the queue store does not know would be ended by the
    # reconciler on a slow run; the media is stored after the hang-up, as the media hub does.
    await sessions.mark_connected(session.id, now)
    assert await sessions.await_decision(session.id, reason="hangup", now=now)
    settings = app[keys.SETTINGS]
    for directory, name, data in (
        (settings.snapshots_dir, f"{session.id}-face.jpg", photo_bytes(seed=5)),
        (settings.recordings_dir, f"{session.id}-0.webm", b"\x1a\x45\xdf\xa3" + b"\0" * 64),
    ):
        directory.mkdir(parents=True, exist_ok=True)
        (directory / name).write_bytes(data)
    snapshot = {
        "kind": "face",
        "file": f"{session.id}-face.jpg",
        "bad": False,
        "taken_at": now.isoformat(),
    }
    segment = {"file": f"{session.id}-0.webm", "sha256": "0" * 64, "duration": 12.0}
    await sessions.update_media(session.id, snapshots=[snapshot], recording={"segments": [segment]})
    return session.id


async def parked_delivery(client: Client) -> None:
    """A webhook delivery parked as failed (what the worker leaves after WEBHOOK_MAX_AGE)."""
    database, now = client.app[keys.DATABASE], client.app[keys.CLOCK].now()
    async with database.begin() as conn:
        event = (await conn.execute(sa.select(db.outbox_events).limit(1))).first()
        assert event is not None
        await conn.execute(
            db.webhook_deliveries.insert().values(
                event_seq=event.seq,
                endpoint="http://127.0.0.1:9/hooks",
                record_id=event.record_id,
                status="failed",
                attempts=7,
                next_attempt_at=now,
                last_error="HTTP 503",
                created_at=now,
            )
        )


async def restore(client: Client, clock: SettableClock) -> None:
    """Between scenarios: the state the links start from (calls awaiting a decision, a parked
    webhook delivery), as the first scenario found it. A scenario that released every call or
    redelivered the parked delivery would otherwise leave the next one without those links,
    and Hypothesis sees its draws change under the same choices (FlakyStrategyDefinition)."""
    missing = UNDECIDED_CALLS - len(await client.app[keys.SESSIONS].undecided())
    for _ in range(missing):
        await call_awaiting_decision(client, clock)
    if not await client.app[WEBHOOKS].list_failed():
        await parked_delivery(client)


def fuzz_stateful(
    spec: dict[str, Any],
    base_url: str,
    headers: dict[str, str],
    reset: Callable[[], None],
) -> int:
    """Run the scenarios; how many ran. Against a live server, Hypothesis may stop early with
    FlakyStrategyDefinition: a scenario's answers (which ids the links carry) changed what a
    later one draws under the same choices. That says nothing about the server; what ran so far
    was checked, and the caller checks the server's own count of 5xx answers as well."""
    schema = schemathesis.openapi.from_dict(spec)
    scenarios = 0
    http = requests.Session()

    class Machine(schema.as_state_machine()):  # type: ignore[misc]
        def get_call_kwargs(self, case: Any) -> dict[str, Any]:
            return {"base_url": base_url, "session": http, "headers": headers}

        def validate_response(self, response: Any, case: Any, **kwargs: Any) -> None:
            case.validate_response(response, checks=CHECKS)

        def teardown(self) -> None:
            nonlocal scenarios
            scenarios += 1
            reset()

    try:
        Machine.run(
            settings=hyp_settings(
                max_examples=STATEFUL_EXAMPLES,
                stateful_step_count=STATEFUL_STEPS,
                deadline=None,
                database=None,
                derandomize=True,
                phases=[Phase.generate],
                suppress_health_check=list(HealthCheck),
            )
        )
    except FlakyStrategyDefinition as exc:
        print(f"STATEFUL stopped after {scenarios} scenarios: {str(exc).splitlines()[0]}")
    finally:
        http.close()
    return scenarios


async def test_stateful_run_follows_links_and_finds_no_server_error(
    app_factory: AppFactory, clock: SettableClock
) -> None:
    client = await app_factory(
        rate_limit_register="off", rate_limit_upload="off", rate_limit_login="off"
    )
    headers, _ = await credentials(client, clock)
    session_ids = [await call_awaiting_decision(client, clock) for _ in range(UNDECIDED_CALLS)]
    await parked_delivery(client)
    spec = await (await client.get("/api/openapi.json")).json()
    spec["paths"].pop("/api/auth/logout")  # would end the staff session the run uses
    base_url = str(client.make_url("")).rstrip("/")
    loop = asyncio.get_running_loop()

    def reset() -> None:  # from the fuzzing thread, on the server's loop
        asyncio.run_coroutine_threadsafe(restore(client, clock), loop).result(timeout=60)

    scenarios = await asyncio.to_thread(fuzz_stateful, spec, base_url, headers, reset)
    assert scenarios >= min(STATEFUL_EXAMPLES, 20), scenarios
    sent = client.app[METRICS].http_requests.collect()[0].samples
    reached = {(s.labels["route"], s.labels["status"]) for s in sent if s.name.endswith("_total")}
    print("STATEFUL", scenarios, sorted(reached))
    assert not [r for r in reached if r[1].startswith("5")], sorted(reached)
    # Links led the run to the real calls, not only to 404s (which ones varies with the spec;
    # that every link resolves is test_links_lead_to_real_ids below).
    by_id = {(route, status) for route, status in reached if "{session_id}" in route}
    assert any(status.startswith("2") for _, status in by_id), (by_id, session_ids)


def resolve(expression: str, request_path: dict[str, str], body: Any) -> str:
    """An OpenAPI link runtime expression, as far as our links use them."""
    if expression.startswith("$request.path."):
        return request_path[expression.removeprefix("$request.path.")]
    if expression.startswith("$response.body#"):
        value = body
        for part in expression.removeprefix("$response.body#/").split("/"):
            value = value[int(part)] if isinstance(value, list) else value[part]
        return str(value)
    return expression


async def follow(
    client: Client, spec: dict[str, Any], headers: dict[str, str], path: str, link: str, **kw: Any
) -> Any:
    """Call the operation ``link`` of GET ``path``'s answer names, with the ids it resolves."""
    answer = await client.get(path.format(**kw), headers=headers)
    assert answer.status == 200, path
    links = spec["paths"][path]["get"]["responses"]["200"]["links"]
    parameters = links[link]["parameters"]
    values = {
        name.removeprefix("path."): resolve(e, kw, await answer.json())
        for name, e in parameters.items()
    }
    for target_path, operations in spec["paths"].items():
        for method, op in operations.items():
            if op["operationId"] == links[link]["operationId"]:
                return await client.request(
                    method, target_path.format(**values), headers=headers
                ), values
    raise AssertionError(f"no operation {link}")


async def test_links_lead_to_real_ids(app_factory: AppFactory, clock: SettableClock) -> None:
    client = await app_factory()
    headers, _ = await credentials(client, clock)
    session_id = await call_awaiting_decision(client, clock)
    await parked_delivery(client)
    spec = await (await client.get("/api/openapi.json")).json()
    staff = {"Cookie": headers["Cookie"]}
    for link in ("get_session", "get_recording", "staff_get_record", "staff_get_document"):
        resp, values = await follow(client, spec, staff, "/api/sessions/undecided", link)
        assert resp.status == 200, (link, values, await resp.text())
    for link in ("get_snapshot", "get_recording"):
        path = "/api/sessions/{session_id}"
        resp, values = await follow(client, spec, staff, path, link, session_id=session_id)
        assert resp.status == 200, (link, values, await resp.text())
    resp, values = await follow(client, spec, staff, "/api/webhooks/failed", "post_redeliver")
    assert resp.status == 200, (values, await resp.text())
