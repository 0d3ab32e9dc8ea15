"""Evidence bundles over real HTTP on both databases: who may download, the audit entry, the
documented offline command verifying a bundle and naming a tampered file, and the PDF rendered."""

from __future__ import annotations

import asyncio
import io
import os
import shutil
import subprocess
import sys
import time
import zipfile
from pathlib import Path
from typing import Any

import pytest
from evidence_support import decided_call
from outcomes_support import app_of, start_call
from PIL import Image

from web import keys


def verify_cmd(bundle: Path, key: Path | None) -> subprocess.CompletedProcess[str]:
    args = [sys.executable, "-m", "videocall.adapters.evidence_cli", "verify", str(bundle)]
    if key is not None:
        args += ["--public-key", str(key)]
    return subprocess.run(args, capture_output=True, text=True, timeout=120, check=False)


def rewrite(src: Path, dst: Path, name: str, change: Any) -> None:
    """A copy of the ZIP with member ``name`` replaced by ``change(bytes)`` (a valid archive)."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for info in zin.infolist():
            data = zin.read(info.filename)
            zout.writestr(info, change(data) if info.filename == name else data)


def flip(data: bytes, at: int) -> bytes:
    return data[:at] + bytes([data[at] ^ 0x01]) + data[at + 1 :]


async def test_bundle_downloaded_verified_and_tampering_named(
    client: Any, participant_factory: Any, clock: Any, tmp_path: Path
) -> None:
    call = await decided_call(client, participant_factory, clock)
    url = f"/api/records/{call.record_id}/evidence.zip"
    assert (await client.get(url)).status == 401
    resp = await client.get(url, headers=call.officer.headers)
    assert resp.status == 403  # officers do not take evidence home
    resp = await client.get(url, headers={"X-API-Key": "wrong"})
    assert resp.status == 401

    resp = await client.get(url, headers=call.supervisor.headers)
    assert resp.status == 200, await resp.text()
    assert resp.headers["Content-Type"] == "application/zip"
    bundle = tmp_path / "bundle.zip"
    bundle.write_bytes(await resp.read())
    key_resp = await client.get("/api/evidence/public-key")
    assert key_resp.status == 200
    key = tmp_path / "server.pem"
    key.write_bytes(await key_resp.read())

    rec_name = f"recordings/{call.recording.name}"
    with zipfile.ZipFile(bundle) as zf:
        names = set(zf.namelist())
        assert zf.read(rec_name) == call.recording.read_bytes()
        pdf = zf.read("summary.pdf")
    assert {
        "summary.pdf",
        "record.json",
        "manifest.json",
        "manifest.sig",
        "public_key.pem",
        rec_name,
        *(f"snapshots/{s.name}" for s in call.snapshots),
        "photos/ktp.jpg",
        "photos/selfie_with_ktp.jpg",
        "photos/face.jpg",
    } <= names

    ok = await asyncio.to_thread(verify_cmd, bundle, key)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "OK:" in ok.stdout

    # One byte of the recording changed, the archive rewritten validly.
    changed = tmp_path / "changed.zip"
    rewrite(bundle, changed, rec_name, lambda d: flip(d, 1000))
    bad = await asyncio.to_thread(verify_cmd, changed, key)
    assert bad.returncode == 1 and f"CHANGED: {rec_name}" in bad.stdout, bad.stdout
    assert "CHANGED: summary.pdf" not in bad.stdout

    # One raw byte of the archive flipped inside the recording's data (its CRC no longer fits).
    raw = bundle.read_bytes()
    at = raw.index(call.recording.read_bytes()[100:132]) + 5
    flipped = tmp_path / "flipped.zip"
    flipped.write_bytes(flip(raw, at))
    bad = await asyncio.to_thread(verify_cmd, flipped, key)
    assert bad.returncode == 1 and f"CHANGED: {rec_name}" in bad.stdout, bad.stdout

    # A manifest edited to match a changed file: the signature no longer holds.
    forged = tmp_path / "forged.zip"
    rewrite(bundle, forged, "manifest.json", lambda d: d.replace(b'"size":', b'"size": ', 1))
    bad = await asyncio.to_thread(verify_cmd, forged, key)
    assert bad.returncode == 1 and "SIGNATURE INVALID" in bad.stdout

    # Signed by another key: the server's published key does not verify it.
    other = tmp_path / "other.pem"
    from videocall.adapters.evidence_signing import load_or_create_key, public_pem

    other.write_bytes(public_pem(load_or_create_key(tmp_path / "elsewhere")))
    bad = await asyncio.to_thread(verify_cmd, bundle, other)
    assert bad.returncode == 1 and "SIGNATURE INVALID" in bad.stdout

    await asyncio.to_thread(check_pdf, pdf, tmp_path)

    # The upstream system downloads one call's bundle by API key; both downloads audited.
    resp = await client.get(
        f"/api/sessions/{call.session_id}/evidence.zip", headers={"X-API-Key": "test-api-key"}
    )
    assert resp.status == 200
    history = (await app_of(client)[keys.RECORDS].get(call.record_id)).history
    downloads = [h for h in history if h.action == "evidence_bundle_downloaded"]
    assert [h.actor for h in downloads] == [call.supervisor.account.actor, "upstream:insurer"]
    assert downloads[0].detail and downloads[0].detail["session_id"] == call.session_id
    assert len(downloads[0].detail["manifest_sha256"]) == 64


def check_pdf(pdf: bytes, tmp_path: Path) -> None:
    """The PDF renders with poppler: a first page with text, a last one with the images."""
    assert pdf.startswith(b"%PDF-")
    if shutil.which("pdftoppm") is None:
        pytest.skip("pdftoppm (poppler-utils) is not installed: the PDF was not rendered")
    (tmp_path / "summary.pdf").write_bytes(pdf)
    out = tmp_path / "page"
    done = subprocess.run(
        ["pdftoppm", "-png", "-r", "40", str(tmp_path / "summary.pdf"), str(out)],
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    pages = sorted(tmp_path.glob("page*.png"))
    assert len(pages) >= 2  # record, history, quality plot, then the images
    with Image.open(io.BytesIO(pages[0].read_bytes())) as first:
        grey = first.convert("L")
        assert grey.size[0] > 200 and grey.size[1] > 300
        lo, hi = grey.getextrema()
        assert lo < 100 and hi > 200  # text on paper, not a blank page
    with Image.open(pages[-1]) as last:
        # The snapshots and photos are drawn: many distinct grey levels (text alone has few).
        assert sum(1 for n in last.convert("L").histogram() if n) > 50


async def test_only_decided_calls_have_a_bundle(
    client: Any, participant_factory: Any, clock: Any
) -> None:
    call = await decided_call(client, participant_factory, clock)
    app = app_of(client)
    p = participant_factory()
    await p.to_ready()
    sid = await start_call(app[keys.SESSIONS], p.record_id, call.officer.account, clock.now())
    resp = await client.get(f"/api/sessions/{sid}/evidence.zip", headers=call.supervisor.headers)
    assert resp.status == 409 and (await resp.json())["error"]["code"] == "evidence_not_decided"
    resp = await client.get(
        f"/api/records/{p.record_id}/evidence.zip", headers=call.supervisor.headers
    )
    assert resp.status == 404
    assert (await resp.json())["error"]["code"] == "evidence_no_decided_call"


async def test_start_up_deletes_old_temporary_bundles_only(
    app_factory: Any, settings_factory: Any
) -> None:
    bundles = settings_factory().data_dir / "bundles"
    bundles.mkdir(parents=True)
    old, fresh = bundles / "old.zip", bundles / "export-fresh.zip"
    old.write_bytes(b"PK personal data")
    fresh.write_bytes(b"PK another process is streaming this")
    os.utime(old, (time.time() - 7 * 3600, time.time() - 7 * 3600))
    await app_factory()
    assert not old.exists() and fresh.exists()
