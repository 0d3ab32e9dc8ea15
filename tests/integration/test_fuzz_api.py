"""Schemathesis against our own /api/openapi.json, over real HTTP, on SQLite and PostgreSQL.

Every operation gets a bounded number of generated requests, valid and invalid, sent with a real
participant token, a real staff session and an API key (so handlers run, not just auth checks).
Checks: never a 5xx, every status documented, every body matching its schema.
"""

from __future__ import annotations

import asyncio
import copy
import os
from collections.abc import Awaitable, Callable
from typing import Any

import requests
import schemathesis
from aiohttp import web
from aiohttp.test_utils import TestClient
from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as hyp_settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.conftest import Participant
from tests.support import SettableClock, make_nik
from videocall.accounts import Role
from web import keys
from web.metrics import METRICS

Client = TestClient[web.Request, web.Application]
AppFactory = Callable[..., Awaitable[Client]]
MAX_EXAMPLES = int(os.environ.get("FUZZ_MAX_EXAMPLES", "10"))  # per operation and mode
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
