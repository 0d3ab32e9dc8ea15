"""Officer assist through the real app: an upload answers at once, the KTP read and the faces
follow in the background (the app's CPU pool), the participant sees their own NIK check and the
officer the readings and face scores of the call, snapshots included."""

from __future__ import annotations

import asyncio
import io
import json
from datetime import date
from typing import Any

from aiohttp.test_utils import TestClient
from PIL import Image
from skimage import data

from tests.assist_support import Card, Variant, photograph, render_ktp
from tests.conftest import Participant
from tests.integration.outcomes_support import Staff, app_database, app_of, make_account
from tests.support import SettableClock
from videocall.accounts import Role
from web import keys
from web.keys import ASSIST

BIRTH = date(1990, 8, 17)
PHOTO = Variant(angle=3.0, width=1100, blur=0.3, quality=85, brightness=1.0, shadow=0.1)


def _jpeg(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.convert("RGB").save(out, format="JPEG", quality=88)
    return out.getvalue()


def _person() -> Image.Image:
    return Image.fromarray(data.astronaut())  # Eileen Collins, NASA, public domain


def _ktp(nik: str) -> bytes:
    card = Card(nik=nik, name="DEWI LESTARI", birth="BANDUNG, 17-08-1990", sex="PEREMPUAN")
    return photograph(render_ktp(card, face=_person().crop((120, 30, 330, 300))), PHOTO)


def _selfie_with_ktp(nik: str) -> bytes:
    """The person, and the card held beside the face (its photo is the second, smaller face)."""
    canvas = Image.new("RGB", (1200, 800), (200, 200, 200))
    canvas.paste(_person().resize((760, 760)), (0, 20))
    card = Image.open(io.BytesIO(_ktp(nik))).resize((440, 300))
    canvas.paste(card, (740, 440))
    return _jpeg(canvas)


def _other_nik(nik: str) -> str:
    """The same NIK with one serial digit changed: still valid, not the participant's."""
    last = nik[-1]
    return nik[:-1] + ("2" if last != "2" else "3")


async def _verdict(p: Participant, sha256: str) -> dict[str, Any]:
    async with asyncio.timeout(300):  # OCR in the pool; slow when the machine is busy
        while True:
            resp = await p.client.get("/api/me/assist", headers=p.auth)
            assert resp.status == 200, await resp.text()
            ktp = (await resp.json())["ktp"]
            if ktp["status"] == "done" and ktp["sha256"] == sha256:
                return dict(ktp)
            await asyncio.sleep(0.2)


async def _ready(p: Participant, nik_on_card: str) -> None:
    await p.register()
    resp = await p.profile(full_name="Dewi Lestari", birth_date=BIRTH.isoformat(), sex="female")
    assert resp.status == 200, await resp.text()
    for kind, photo in (
        ("ktp", _ktp(nik_on_card)),
        ("selfie_with_ktp", _selfie_with_ktp(nik_on_card)),
        ("face", _jpeg(_person())),
    ):
        resp = await p.upload(kind, photo)
        assert resp.status == 200, await resp.text()


async def test_ktp_with_another_nik_is_flagged_and_a_retake_clears_it(
    client: TestClient[Any, Any], participant_factory: Any
) -> None:
    p = participant_factory(female=True, birth=BIRTH)
    await p.register()
    resp = await p.profile(full_name="Dewi Lestari", birth_date=BIRTH.isoformat(), sex="female")
    assert resp.status == 200
    resp = await p.client.get("/api/me/assist", headers=p.auth)
    assert (await resp.json()) == {"ktp": {"status": "none", "sha256": None, "nik": None}}
    resp = await p.upload("ktp", _ktp(_other_nik(p.nik)))
    assert resp.status == 200, await resp.text()
    upload = await resp.json()
    assert "verdicts" in upload  # the quality verdict answers at once, as before
    assert (await _verdict(p, upload["sha256"]))["nik"] == "mismatch"

    resp = await p.upload("ktp", _ktp(p.nik))  # the retake
    assert (await _verdict(p, (await resp.json())["sha256"]))["nik"] == "match"


async def test_unreadable_ktp_is_a_result_and_the_journey_goes_on(
    client: TestClient[Any, Any], participant_factory: Any
) -> None:
    p = participant_factory(female=True, birth=BIRTH)
    await p.register()
    resp = await p.profile(full_name="Dewi Lestari", birth_date=BIRTH.isoformat(), sex="female")
    assert resp.status == 200
    blank = _jpeg(Image.new("RGB", (900, 600), (150, 140, 130)))
    resp = await p.upload("ktp", blank)
    assert resp.status == 200
    assert (await _verdict(p, (await resp.json())["sha256"]))["nik"] == "unreadable"
    for kind in ("selfie_with_ktp", "face"):
        assert (await p.upload(kind, blank)).status == 200
    resp = await p.client.post("/api/me/consent", headers=p.auth)
    assert resp.status == 200, await resp.text()  # never blocks the journey


async def test_officer_sees_readings_and_face_scores_of_the_call(
    client: TestClient[Any, Any], participant_factory: Any, clock: SettableClock
) -> None:
    p = participant_factory(female=True, birth=BIRTH)
    await _ready(p, p.nik)
    assert (await p.client.post("/api/me/consent", headers=p.auth)).status == 200
    app = app_of(client)
    database = app_database(client)
    officer = await make_account(database, Role.OFFICER, clock.now())
    staff = await Staff.open(client, database, officer, clock.now())
    session = await app[keys.SESSIONS].start(
        record_id=p.record_id, officer_id=officer.id, officer_actor=officer.actor, now=clock.now()
    )
    # Hung up at once, awaiting the decision (the record stays in the call): an open SQL call
    # that the queue store does not know would be ended by the reconciler on a slow run.
    await app[keys.SESSIONS].mark_connected(session.id, clock.now())
    assert await app[keys.SESSIONS].await_decision(session.id, reason="hangup", now=clock.now())
    snapshots = app[keys.SETTINGS].snapshots_dir
    snapshots.mkdir(parents=True, exist_ok=True)
    (snapshots / f"{session.id}-001-face.jpg").write_bytes(_jpeg(_person().crop((60, 0, 440, 380))))
    await app[keys.SESSIONS].update_media(
        session.id, snapshots=[{"kind": "face", "file": f"{session.id}-001-face.jpg"}]
    )

    async with asyncio.timeout(300):
        while True:
            status, body = await staff.get("/api/assist/current")
            assert status == 200, body
            call = body["call"]
            assert call is not None and call["session_id"] == session.id
            if all(f["status"] != "pending" for f in call["faces"]) and (
                call["ktp"]["status"] == "done"
            ):
                break
            await asyncio.sleep(0.3)
    assert call["notice"] == "assist_only"
    comparison = call["ktp"]["comparison"]
    assert comparison["nik"] == "match" and comparison["name"] == "same"
    assert comparison["birth_date"] == "same" and comparison["sex"] == "same"
    assert "*" in call["ktp"]["read"]["nik"]  # masked: the full NIK is revealed with an audit
    bands = {(f["pair"], f["label"]): f for f in call["faces"]}
    assert bands[("ktp_vs_face", None)]["band"] == "similar"
    assert bands[("selfie_person_vs_card", None)]["band"] == "similar"
    snap = bands[("snapshot_vs_ktp", f"{session.id}-001-face.jpg")]
    assert snap["band"] == "similar", snap

    # The same readings by record, for the review; the participant cannot see them.
    status, by_record = await staff.get(
        f"/api/records/{p.record_id}/assist?session_id={session.id}"
    )
    assert status == 200 and by_record["faces"] == call["faces"]
    resp = await p.client.get(f"/api/records/{p.record_id}/assist", headers=p.auth)
    assert resp.status == 401

    # What the decision's evidence, the review and the webhooks carry: bands, no embeddings,
    # no NIK.
    summary = await app[ASSIST].assist_summary(p.record_id, session.id)
    assert summary["ktp"]["comparison"]["nik"] == "match"
    assert summary["faces"] == call["faces"]
    assert p.nik not in json.dumps(summary) and "embedding" not in json.dumps(summary)
