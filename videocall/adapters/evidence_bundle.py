"""The evidence bundle of one decided call: a ZIP with a PDF summary, ``record.json``, the recording
segments, the snapshots and the photos, and ``manifest.json`` (SHA-256 of every other file) signed
with the server's Ed25519 key (``manifest.sig``; ``public_key.pem`` for convenience: an auditor
checks against the key the server publishes, ``GET /api/evidence/public-key``).

``gather`` reads the database (on the event loop, it is I/O); ``write_bundle`` hashes, renders and
zips in a CPU-pool worker: each file's bytes are hashed as they are copied into the archive, so
the digest is of exactly what the bundle holds.
"""

from __future__ import annotations

import hashlib
import json
import zipfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from videocall.adapters import db
from videocall.adapters.evidence_pdf import render_summary
from videocall.adapters.evidence_signing import public_pem, sign
from videocall.adapters.files import FileBlobStore
from videocall.adapters.sql_assist import assist_readings
from videocall.adapters.sql_records import Database, SqlRecordRepository
from videocall.evidence import (
    MANIFEST_NAME,
    PUBLIC_KEY_NAME,
    SIGNATURE_NAME,
    ManifestEntry,
    build_manifest,
    canonical_bytes,
    entry_for,
)
from videocall.nik import mask_nik
from videocall.ports import StoredDocument
from videocall.records import Record

CHUNK = 1 << 20
PHOTO_EXT = {"image/jpeg": "jpg", "image/png": "png"}


@dataclass(frozen=True, slots=True)
class BundleSpec:
    """Everything the worker needs, picklable: plain data and file paths."""

    record_id: str
    session_id: str
    created_at: datetime
    summary: dict[str, Any]
    files: list[tuple[str, str]]  # (name in the bundle, path on disk)
    images: list[tuple[str, str]]  # (title, name in the bundle) shown in the PDF
    private_pem: bytes
    out_path: str


@dataclass(frozen=True, slots=True)
class BundleResult:
    path: str
    size: int
    manifest_sha256: str
    absent: list[str]


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


async def _accounts(conn: Any, ids: set[str]) -> dict[str, str]:
    A = db.accounts
    rows = await conn.execute(
        sa.select(A.c.id, A.c.username, A.c.display_name).where(A.c.id.in_(ids))
    )
    return {r.id: f"{r.display_name} ({r.username}, {r.id})" for r in rows}


@dataclass(frozen=True, slots=True)
class _Rows:
    session: Any
    decision: Any
    reviews: list[Any]
    readings: list[Any]
    names: dict[str, str]  # account id -> "Display (username, id)"


async def _rows(database: Database, session_id: str) -> _Rows:
    async with database.connect() as conn:

        async def select(query: Any) -> list[Any]:
            return list((await conn.execute(query)).all())

        S, D, R = db.call_sessions, db.decisions, db.reviews
        session = (await select(sa.select(S).where(S.c.id == session_id)))[0]
        decisions = await select(sa.select(D).where(D.c.session_id == session_id))
        reviews = await select(sa.select(R).where(R.c.session_id == session_id).order_by(R.c.id))
        readings = await select(
            sa.select(assist_readings)
            .where(assist_readings.c.record_id == session.record_id)
            .order_by(assist_readings.c.subject)
        )
        names = await _accounts(conn, {session.officer_id, *(r.supervisor_id for r in reviews)})
    return _Rows(session, decisions[0] if decisions else None, reviews, readings, names)


def _record_part(record: Record) -> dict[str, Any]:
    return {
        "id": record.id,
        "reference": record.reference,
        "nik_masked": mask_nik(record.nik),
        "full_name": record.full_name,
        "birth_date": record.birth_date.isoformat() if record.birth_date else None,
        "sex": record.sex.value if record.sex else None,
        "state": record.state.value,
        "consent_at": _iso(record.consent_at),
        "created_at": _iso(record.created_at),
    }


def _decision_part(rows: _Rows) -> dict[str, Any] | None:
    d = rows.decision
    if d is None:
        return None
    return {
        "result": d.result,
        "reasons": d.reasons,
        "checklist": d.checklist,
        "notes": d.notes,
        "evidence": d.evidence,
        "officer": rows.names.get(d.officer_id, d.officer_id),
        "decided_at": _iso(d.decided_at),
    }


def _summary(record: Record, docs: list[StoredDocument], rows: _Rows) -> dict[str, Any]:
    s = rows.session
    return {
        "record": _record_part(record),
        "history": [h.as_dict() for h in record.history],
        "session": {
            "id": s.id,
            "state": s.state,
            "officer": rows.names.get(s.officer_id, s.officer_id),
            "connected_at": _iso(s.connected_at),
            "ended_at": _iso(s.ended_at),
            "end_reason": s.end_reason,
            "random_code": s.random_code,
        },
        "decision": _decision_part(rows),
        "reviews": [
            {
                "supervisor": rows.names.get(r.supervisor_id, r.supervisor_id),
                "action": r.action,
                "result": r.result,
                "reason": r.reason,
                "at": _iso(r.reviewed_at),
            }
            for r in rows.reviews
        ],
        "quality_summary": s.quality_summary,
        "quality_series": s.quality_series,
        "assist": [
            {"subject": r.subject, "status": r.status, "result": r.result} for r in rows.readings
        ],
        "photos": [d.as_dict() for d in docs],
    }


def photo_name(doc: StoredDocument) -> str:
    """A photo's name in a bundle or an export: ``photos/ktp.jpg``."""
    return f"photos/{doc.kind.value}.{PHOTO_EXT.get(doc.content_type, 'bin')}"


def _files(
    session: Any, docs: list[StoredDocument], dirs: tuple[Path, Path], blobs: FileBlobStore
) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """(name in the bundle, path) of every file, and (title, name) of the images for the PDF."""
    recordings_dir, snapshots_dir = dirs
    files: list[tuple[str, str]] = []
    images: list[tuple[str, str]] = []
    for seg in (session.recording or {}).get("segments") or []:
        name = Path(str(seg.get("file") or seg.get("path") or "")).name
        if name:
            files.append((f"recordings/{name}", str(recordings_dir / name)))
    for snap in session.snapshots or []:
        name = Path(str(snap.get("file") or snap.get("path") or "")).name
        if name:
            files.append((f"snapshots/{name}", str(snapshots_dir / name)))
            images.append((f"snapshot: {snap.get('kind')}", f"snapshots/{name}"))
    for doc in docs:
        files.append((photo_name(doc), str(blobs.path_for(doc.sha256))))
        images.append((f"photo: {doc.kind.value}", photo_name(doc)))
    return files, images


async def gather(
    database: Database,
    records: SqlRecordRepository,
    session_id: str,
    dirs: tuple[Path, Path],  # recordings, snapshots
    blobs: FileBlobStore,
) -> tuple[dict[str, Any], list[tuple[str, str]], list[tuple[str, str]]]:
    """The summary (plain data), the files to include and the images for the PDF."""
    rows = await _rows(database, session_id)
    record = await records.get(rows.session.record_id)
    docs = await records.documents(record.id)
    files, images = _files(rows.session, docs, dirs, blobs)
    return _summary(record, docs, rows), files, images


def _copy_hashed(zf: zipfile.ZipFile, name: str, path: str) -> ManifestEntry | None:
    """Copy a file into the archive (stored: media is compressed already), hashing its bytes."""
    h = hashlib.sha256()
    size = 0
    try:
        src = open(path, "rb")
    except FileNotFoundError:
        return None
    with src, zf.open(zipfile.ZipInfo(name, date_time=(2000, 1, 1, 0, 0, 0)), "w") as dst:
        while chunk := src.read(CHUNK):
            h.update(chunk)
            size += len(chunk)
            dst.write(chunk)
    return ManifestEntry(name, h.hexdigest(), size)


def write_bundle(spec: BundleSpec) -> BundleResult:
    """Build the ZIP at ``spec.out_path`` (CPU-heavy: run it in the CPU pool)."""
    entries: list[ManifestEntry] = []
    absent: list[str] = []
    with zipfile.ZipFile(spec.out_path, "w", zipfile.ZIP_STORED, allowZip64=True) as zf:
        for name, path in spec.files:
            entry = _copy_hashed(zf, name, path)
            if entry is None:
                absent.append(name)
            else:
                entries.append(entry)
        summary = dict(spec.summary)
        summary["files"] = [(e.name, e.sha256, e.size) for e in entries]
        summary["absent"] = absent
        in_bundle = dict(spec.files)
        images = [(t, in_bundle[n]) for t, n in spec.images if n not in absent]
        extra = {
            "summary.pdf": render_summary(summary, images),
            "record.json": json.dumps(summary, ensure_ascii=False, indent=1, default=str).encode(),
        }
        for name, data in extra.items():
            zf.writestr(name, data, compress_type=zipfile.ZIP_DEFLATED)
            entries.append(entry_for(name, data))
        manifest = canonical_bytes(
            build_manifest(spec.record_id, spec.session_id, spec.created_at, entries)
        )
        zf.writestr(MANIFEST_NAME, manifest)
        zf.writestr(SIGNATURE_NAME, sign(spec.private_pem, manifest))
        zf.writestr(PUBLIC_KEY_NAME, public_pem(spec.private_pem))
    return BundleResult(
        spec.out_path,
        Path(spec.out_path).stat().st_size,
        hashlib.sha256(manifest).hexdigest(),
        absent,
    )


def write_export(
    out_path: str, members: list[tuple[str, bytes]], files: list[tuple[str, str]]
) -> int:
    """A participant's data export: JSON members and the files that still exist (CPU pool)."""
    with zipfile.ZipFile(out_path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members:
            zf.writestr(name, data)
        for name, path in files:
            if Path(path).is_file():
                zf.write(path, name, compress_type=zipfile.ZIP_STORED)
    return Path(out_path).stat().st_size
