"""A small route registry that serves both aiohttp and the OpenAPI 3.1 document at
``/api/openapi.json``: a route is declared once, with its request and response models."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from aiohttp import web
from pydantic import BaseModel
from pydantic import ValidationError as PydanticError

from videocall.errors import TooLarge, ValidationError
from web import keys
from web.errors import UnsupportedMediaType
from web.schemas import ErrorOut

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass
class ApiRoute:
    method: str
    path: str
    handler: Handler
    summary: str
    tag: str
    body: type[BaseModel] | None = None
    response: type[BaseModel] | None = None
    status: int = 200
    security: str | None = None  # participant | staff | api_key
    raw_body: dict[str, Any] | None = None  # non-JSON request body (uploads)
    raw_response: str | None = None  # content type of a non-JSON response
    errors: tuple[int, ...] = (400, 401, 403, 404, 409, 413, 422)
    params: list[dict[str, Any]] = field(default_factory=list)


class ApiRegistry:
    def __init__(self, title: str, version: str) -> None:
        self.title = title
        self.version = version
        self.routes: list[ApiRoute] = []

    def route(self, method: str, path: str, **kw: Any) -> Callable[[Handler], Handler]:
        def register(handler: Handler) -> Handler:
            self.routes.append(ApiRoute(method, path, handler, **kw))
            return handler

        return register

    def install(self, app: web.Application) -> None:
        for r in self.routes:
            app.router.add_route(r.method, r.path, r.handler)
        # Built at the first request: plugins installed after this call add routes too.
        cache: list[dict[str, Any]] = []

        async def openapi(_request: web.Request) -> web.Response:
            if not cache:
                cache.append(self.spec())
            return web.json_response(cache[0])

        app.router.add_get("/api/openapi.json", openapi)

    def spec(self) -> dict[str, Any]:
        schemas: dict[str, Any] = {}

        def ref(model: type[BaseModel]) -> dict[str, str]:
            schema = model.model_json_schema(
                by_alias=True, ref_template="#/components/schemas/{model}", mode="serialization"
            )
            schemas.update(schema.pop("$defs", {}))
            schemas[model.__name__] = schema
            return {"$ref": f"#/components/schemas/{model.__name__}"}

        def ref_in(model: type[BaseModel]) -> dict[str, str]:
            schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
            schemas.update(schema.pop("$defs", {}))
            schemas[model.__name__] = schema
            return {"$ref": f"#/components/schemas/{model.__name__}"}

        paths: dict[str, Any] = {}
        error_ref = ref(ErrorOut)
        for r in self.routes:
            op: dict[str, Any] = {
                "summary": r.summary,
                "tags": [r.tag],
                "operationId": r.handler.__name__,
                "responses": {},
            }
            params = [
                {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
                for name in _path_params(r.path)
            ]
            if params or r.params:
                op["parameters"] = params + r.params
            if r.security:
                op["security"] = [{r.security: []}]
            if r.body is not None:
                op["requestBody"] = {
                    "required": True,
                    "content": {"application/json": {"schema": ref_in(r.body)}},
                }
            elif r.raw_body is not None:
                op["requestBody"] = {"required": True, "content": r.raw_body}
            ok: dict[str, Any] = {"description": "OK"}
            if r.response is not None:
                ok["content"] = {"application/json": {"schema": ref(r.response)}}
            elif r.raw_response is not None:
                ok["content"] = {r.raw_response: {"schema": {"type": "string", "format": "binary"}}}
            op["responses"][str(r.status)] = ok
            links = _links(r, self.routes)
            if links:
                ok["links"] = links
            for status in _error_statuses(r):
                op["responses"][str(status)] = {
                    "description": "error",
                    "content": {"application/json": {"schema": error_ref}},
                }
            paths.setdefault(r.path, {})[r.method.lower()] = op
        return {
            "openapi": "3.1.0",
            "info": {"title": self.title, "version": self.version},
            "paths": paths,
            "components": {
                "schemas": schemas,
                "securitySchemes": {
                    "participant": {"type": "http", "scheme": "bearer"},
                    "staff": {"type": "apiKey", "in": "cookie", "name": "vc_session"},
                    "api_key": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
                },
            },
        }


# OpenAPI links, so that stateful clients (and our stateful fuzz run) follow real ids: where an
# operation's answer carries an id that other operations take in their path. A value is a JSON
# pointer into the response body, or a runtime expression as written.
LINK_SOURCES: dict[tuple[str, str], dict[str, str]] = {
    ("POST", "/api/participants"): {"record_id": "/record/id"},
    ("POST", "/api/upstream/records"): {"record_id": "/record/id"},
    ("GET", "/api/me"): {"record_id": "/id"},
    ("GET", "/api/sessions/undecided"): {
        "session_id": "/items/0/session_id",
        "record_id": "/items/0/record_id",
    },
    ("GET", "/api/reviews"): {
        "session_id": "/items/0/session_id",
        "record_id": "/items/0/record_id",
    },
    ("GET", "/api/webhooks/failed"): {
        "delivery_id": "/items/0/id",
        "record_id": "/items/0/record_id",
    },
    ("POST", "/api/sessions/{session_id}/decision"): {
        "session_id": "/session_id",
        "record_id": "/record_id",
    },
    ("GET", "/api/sessions/{session_id}"): {
        "session_id": "$request.path.session_id",
        "name": "/snapshots/0/file",
    },
}
# Path parameters no answer carries, with a value that exists whenever the linked id does.
LINK_CONSTANTS = {"kind": "ktp", "index": "0"}


def _links(producer: ApiRoute, routes: list[ApiRoute]) -> dict[str, Any]:
    sources = LINK_SOURCES.get((producer.method.upper(), producer.path), {})
    links: dict[str, Any] = {}
    for consumer in routes:
        names = _path_params(consumer.path)
        if not any(n in sources for n in names):
            continue
        if not all(n in sources or n in LINK_CONSTANTS for n in names):
            continue
        links[consumer.handler.__name__] = {
            "operationId": consumer.handler.__name__,
            "parameters": {f"path.{n}": _link_value(n, sources) for n in names},
        }
    return links


def _link_value(name: str, sources: dict[str, str]) -> str:
    if name not in sources:
        return LINK_CONSTANTS[name]
    source = sources[name]
    return source if source.startswith("$") else f"$response.body#{source}"


def _error_statuses(r: ApiRoute) -> list[int]:
    """The route's own errors, plus 403 on every change (``web.origin``) and 415 on every JSON
    body (``read_json``), whatever the route declared."""
    statuses = set(r.errors)
    if r.method.upper() not in ("GET", "HEAD", "OPTIONS"):
        statuses.add(403)
    if r.body is not None:
        statuses.add(415)
    return sorted(statuses)


def _path_params(path: str) -> list[str]:
    """Names of ``{name}`` / ``{name:regex}`` parts, also with a suffix (``{id}.ics``)."""
    return [
        part[1:].split("}")[0].split(":")[0] for part in path.split("/") if part.startswith("{")
    ]


M = TypeVar("M", bound=BaseModel)


async def read_limited(request: web.Request, limit: int) -> bytes | None:
    """The whole body, or None as soon as it passes ``limit`` bytes (without reading it all)."""
    data = bytearray()
    async for chunk in request.content.iter_any():
        data += chunk
        if len(data) > limit:
            return None
    return bytes(data)


JSON_TYPES = frozenset({"application/json"})
MAX_INT_DIGITS = 64  # no field takes a longer number; int() of 5 000 digits raises ValueError


def _int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_INT_DIGITS:
        raise ValidationError(
            f"numbers longer than {MAX_INT_DIGITS} digits are refused", code="malformed_json"
        )
    return int(text)


def _constant(text: str) -> None:
    raise ValidationError(f"{text} is not JSON", code="malformed_json")


def parse_json(raw: bytes) -> Any:
    """Strict JSON: refuses NaN/Infinity, over-long integers and nesting deeper than the
    parser's recursion limit, each as a 422 ``malformed_json`` (never a 500)."""
    try:
        return json.loads(raw, parse_int=_int, parse_constant=_constant)
    except RecursionError:
        raise ValidationError("the JSON is nested too deeply", code="malformed_json") from None
    except (ValueError, UnicodeDecodeError):  # JSONDecodeError is a ValueError
        raise ValidationError("the body is not valid JSON", code="malformed_json") from None


async def read_json(request: web.Request, model: type[M]) -> M:
    """Parse and validate a JSON body: media type, size, syntax, types and unknown fields, each
    a clear 4xx."""
    if request.content_type not in JSON_TYPES:
        # A form or text/plain post is what a forged cross-site request can send.
        raise UnsupportedMediaType("the body must be sent as application/json")
    limit = request.app[keys.SETTINGS].max_json_bytes
    if request.content_length is not None and request.content_length > limit:
        raise TooLarge("the request body is too large", code="body_too_large")
    raw = await read_limited(request, limit)
    if raw is None:
        raise TooLarge("the request body is too large", code="body_too_large")
    data = parse_json(raw)
    if not isinstance(data, dict):
        raise ValidationError("the body must be a JSON object", code="malformed_json")
    try:
        return model.model_validate(data)
    except PydanticError as exc:
        first = exc.errors()[0]
        loc = ".".join(str(p) for p in first["loc"]) or None
        kind = first["type"]
        code = {
            "extra_forbidden": "unknown_field",
            "missing": "missing_field",
        }.get(kind, "invalid_field")
        raise ValidationError(f"{loc}: {first['msg']}", code=code, field=loc) from None
