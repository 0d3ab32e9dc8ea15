"""The participant's journey and the records API over real HTTP, on SQLite and PostgreSQL."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from PIL import Image

from tests.support import make_nik, photo_bytes


async def error_of(resp: Any) -> dict[str, Any]:
    body = await resp.json()
    assert set(body) == {"error"}, body
    return body["error"]


async def test_whole_journey_to_ready_for_call(participant_factory, client) -> None:
    p = participant_factory()
    body = await p.register()
    assert body["record"]["state"] == "registered"
    assert (
        body["record"]["nik_masked"].startswith(p.nik[:4]) and "*" in body["record"]["nik_masked"]
    )
    assert body["record"]["mobile"] == "+6281234567890"
    resp = await p.profile()
    assert resp.status == 200 and (await resp.json())["state"] == "profile_complete"
    for kind in ("ktp", "selfie_with_ktp", "face"):
        resp = await p.upload(kind)
        assert resp.status == 200, await resp.text()
    me = await (await client.get("/api/me", headers=p.auth)).json()
    assert me["state"] == "documents_uploaded"
    assert {d["kind"] for d in me["documents"]} == {"ktp", "selfie_with_ktp", "face"}
    resp = await client.post("/api/me/consent", headers=p.auth)
    me = await resp.json()
    assert me["state"] == "ready_for_call" and me["consent_at"]
    actions = [
        (h["from"], h["to"])
        for h in me["history"]
        if h["action"] in ("registered", "state_changed")
    ]
    assert actions == [
        (None, "registered"),
        ("registered", "profile_complete"),
        ("profile_complete", "documents_uploaded"),
        ("documents_uploaded", "ready_for_call"),
    ]
    assert all(h["actor"] and h["at"] for h in me["history"])


async def test_registering_a_live_nik_twice_is_a_conflict(participant_factory, client) -> None:
    p = participant_factory()
    await p.register()
    resp = await client.post(
        "/api/participants", json={"nik": p.nik, "mobile": "081298765432", "email": "x@y.id"}
    )
    assert resp.status == 409
    assert (await error_of(resp))["code"] == "nik_registered"


@pytest.mark.parametrize(
    ("body", "status", "code", "field"),
    [
        ({"nik": "123", "mobile": "081234567890", "email": "a@b.id"}, 422, "nik_format", "nik"),
        (
            {"nik": "9901010101900001", "mobile": "081234567890", "email": "a@b.id"},
            422,
            "nik_province",
            "nik",
        ),
        (
            {"nik": "3201013202900001", "mobile": "081234567890", "email": "a@b.id"},
            422,
            "nik_birth_date",
            "nik",
        ),
        (
            {"nik": "3201010101900001", "mobile": "021555", "email": "a@b.id"},
            422,
            "mobile_format",
            "mobile",
        ),
        (
            {"nik": "3201010101900001", "mobile": "081234567890", "email": "nope"},
            422,
            "email_format",
            "email",
        ),
        (
            {"nik": 3201010101900001, "mobile": "081234567890", "email": "a@b.id"},
            422,
            "invalid_field",
            "nik",
        ),
        ({"nik": "3201010101900001", "mobile": "081234567890"}, 422, "missing_field", "email"),
        (
            {"nik": "3201010101900001", "mobile": "081234567890", "email": "a@b.id", "x": 1},
            422,
            "unknown_field",
            "x",
        ),
    ],
)
async def test_registration_validation(client, body, status, code, field) -> None:
    resp = await client.post("/api/participants", json=body)
    assert resp.status == status
    err = await error_of(resp)
    assert (err["code"], err.get("field")) == (code, field)


@pytest.mark.parametrize(
    ("raw", "code", "status"),
    [
        (b"{not json", "malformed_json", 422),
        (b"[1, 2]", "malformed_json", 422),
        (b'"string"', "malformed_json", 422),
        (b"\xff\xfe", "malformed_json", 422),
        (b"{}" + b" " * 70_000, "body_too_large", 413),
    ],
)
async def test_malformed_and_oversized_bodies(client, raw, code, status) -> None:
    resp = await client.post(
        "/api/participants", data=raw, headers={"Content-Type": "application/json"}
    )
    assert resp.status == status
    assert (await error_of(resp))["code"] == code


async def test_profile_mismatch_names_the_field(participant_factory, client) -> None:
    p = participant_factory(female=True)
    await p.register()
    resp = await p.profile(birth_date="1991-01-01")
    assert resp.status == 422
    assert (await error_of(resp))["field"] == "birth_date"
    resp = await p.profile(sex="male")
    assert (await error_of(resp))["field"] == "sex"
    resp = await p.profile(birth_date="not-a-date")
    assert (await error_of(resp))["field"] == "birth_date"
    me = await (await client.get("/api/me", headers=p.auth)).json()
    assert me["state"] == "registered" and me["full_name"] is None


async def test_upload_checks(participant_factory, client) -> None:
    p = participant_factory()
    await p.register()
    assert (await p.profile()).status == 200
    # A PDF named and labelled as JPEG is refused by decoding, not trusted by its label.
    resp = await p.upload("ktp", b"%PDF-1.7 fake", **{"Content-Type": "image/jpeg"})
    assert resp.status == 422 and (await error_of(resp))["code"] == "image_unreadable"
    resp = await client.put("/api/me/documents/passport", data=photo_bytes(), headers=p.auth)
    assert (await error_of(resp))["code"] == "document_kind"
    dark = await p.upload("face", photo_bytes(brightness=20))
    assert dark.status == 200 and "too_dark" in (await dark.json())["verdicts"]
    blurry = await p.upload("face", photo_bytes(blur=True))
    assert "blurry" in (await blurry.json())["verdicts"]


async def test_oversized_upload_is_413_and_nothing_stored(participant_factory, app_factory) -> None:
    client = await app_factory(max_upload_bytes=50_000)
    from tests.conftest import Participant

    p = Participant(client, make_nik(female=True))
    await p.register()
    await p.profile()
    resp = await p.upload("ktp", photo_bytes(width=1600, height=1200))
    assert resp.status == 413
    assert (await error_of(resp))["code"] == "upload_too_large"
    me = await (await client.get("/api/me", headers=p.auth)).json()
    assert me["documents"] == []


async def test_multipart_upload_and_exif_removed(participant_factory, client) -> None:
    p = participant_factory()
    await p.register()
    await p.profile()
    exif = Image.Exif()
    exif[0x8825] = {1: "S", 2: (6.0, 12.0, 30.0)}
    from aiohttp import FormData

    form = FormData()
    form.add_field(
        "file", photo_bytes(exif=exif.tobytes()), filename="ktp.png", content_type="image/png"
    )
    resp = await client.put("/api/me/documents/ktp", data=form, headers=p.auth)
    assert resp.status == 200, await resp.text()
    doc = await resp.json()
    assert doc["content_type"] == "image/jpeg"  # by decoding, not by the file name
    stored = await (await client.get("/api/me/documents/ktp", headers=p.auth)).read()
    assert len(Image.open(io.BytesIO(stored)).getexif()) == 0


async def test_reupload_replaces(participant_factory, client) -> None:
    p = participant_factory()
    await p.register()
    await p.profile()
    first = await (await p.upload("ktp", photo_bytes(seed=1))).json()
    second = await (await p.upload("ktp", photo_bytes(seed=2))).json()
    assert first["sha256"] != second["sha256"]
    me = await (await client.get("/api/me", headers=p.auth)).json()
    assert [d["sha256"] for d in me["documents"]] == [second["sha256"]]
    assert any(h["action"] == "document_replaced" for h in me["history"])


async def test_tokens_and_ownership(participant_factory, client) -> None:
    a, b = participant_factory(), participant_factory()
    await a.register()
    await b.register()
    me = await (await client.get("/api/me", headers=a.auth)).json()
    assert me["id"] == a.record_id
    for headers, code in [
        ({}, "token_missing"),
        ({"Authorization": "Bearer garbage"}, "token_invalid"),
        ({"Authorization": f"Bearer {a.token[:-2]}xx"}, "token_invalid"),
    ]:
        resp = await client.get("/api/me", headers=headers)
        assert resp.status == 401 and (await error_of(resp))["code"] == code
    # A participant token does not open the staff or upstream routes, nor B's record.
    resp = await client.get(f"/api/records/{b.record_id}", headers=a.auth)
    assert resp.status == 401
    resp = await client.get(f"/api/upstream/records/{b.record_id}", headers=a.auth)
    assert resp.status == 401


async def test_expired_token(participant_factory, app_factory) -> None:
    client = await app_factory(participant_token_ttl_seconds=1)
    from tests.conftest import Participant

    p = Participant(client, make_nik())
    await p.register()
    import asyncio

    await asyncio.sleep(2.1)
    resp = await client.get("/api/me", headers=p.auth)
    assert resp.status == 401 and (await error_of(resp))["code"] == "token_expired"


async def test_out_of_order_steps_refused_and_record_unchanged(participant_factory, client) -> None:
    p = participant_factory()
    await p.register()
    before = await (await client.get("/api/me", headers=p.auth)).json()
    resp = await p.upload("ktp")
    assert resp.status == 409 and (await error_of(resp))["code"] == "documents_locked"
    resp = await client.post("/api/me/consent", headers=p.auth)
    assert resp.status == 409 and (await error_of(resp))["code"] == "not_ready_for_consent"
    after = await (await client.get("/api/me", headers=p.auth)).json()
    assert after == before


async def test_upstream_api_key(client) -> None:
    nik = make_nik()
    body = {"nik": nik, "mobile": "081234567890", "email": "u@x.id"}
    resp = await client.post("/api/upstream/records", json=body)
    assert resp.status == 401
    resp = await client.post("/api/upstream/records", json=body, headers={"X-API-Key": "wrong"})
    assert resp.status == 401 and (await error_of(resp))["code"] == "api_key_invalid"
    resp = await client.post(
        "/api/upstream/records", json=body, headers={"X-API-Key": "test-api-key"}
    )
    assert resp.status == 201
    created = await resp.json()
    rid = created["record"]["id"]
    assert created["record"]["history"][0]["actor"] == "upstream:insurer"
    got = await client.get(f"/api/upstream/records/{rid}", headers={"X-API-Key": "test-api-key"})
    assert (await got.json())["state"] == "registered"
    events = await client.get(
        f"/api/upstream/records/{rid}/events", headers={"X-API-Key": "test-api-key"}
    )
    assert [e["type"] for e in (await events.json())["events"]] == ["record.registered"]
    missing = await client.get("/api/upstream/records/nope", headers={"X-API-Key": "test-api-key"})
    assert missing.status == 404


async def test_health_and_openapi(client) -> None:
    assert (await client.get("/healthz")).status == 200
    assert (await (await client.get("/readyz")).json()) == {"status": "ready"}
    spec = await (await client.get("/api/openapi.json")).json()
    assert spec["openapi"].startswith("3.")
    assert "/api/participants" in spec["paths"]
    json.dumps(spec)
