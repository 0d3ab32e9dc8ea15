"""Verify an evidence bundle offline.

    python -m videocall.adapters.evidence_cli verify bundle.zip [--public-key server.pem]

Checks the Ed25519 signature over ``manifest.json`` (with ``--public-key``: the key the server
publishes at ``GET /api/evidence/public-key``; without it, only against the key inside the
bundle, which proves integrity but not origin) and every file's SHA-256 and size. Names each file
that changed, is missing or was added. Exit code 0: intact; 1: tampered; 2: not a bundle.
"""

from __future__ import annotations

import argparse
import sys
import zipfile
from collections.abc import Sequence
from pathlib import Path

from videocall.adapters.evidence_signing import verify
from videocall.errors import ValidationError
from videocall.evidence import (
    MANIFEST_NAME,
    PUBLIC_KEY_NAME,
    SIGNATURE_NAME,
    check_contents,
    digest,
    parse_manifest,
)

CHUNK = 1 << 20


def _member_digest(zf: zipfile.ZipFile, name: str) -> tuple[str, int] | None:
    """SHA-256 and size of a member, or None when it cannot be read (e.g. a CRC error)."""
    try:
        with zf.open(name) as fh:
            return digest(iter(lambda: fh.read(CHUNK), b""))
    except (zipfile.BadZipFile, OSError, EOFError):
        return None


def _read(zf: zipfile.ZipFile, name: str) -> bytes | None:
    try:
        return zf.read(name)
    except (KeyError, zipfile.BadZipFile, OSError):
        return None


def verify_bundle(path: Path, public_key: bytes | None) -> tuple[bool, list[str]]:
    """(intact, lines to print)."""
    lines: list[str] = []
    with zipfile.ZipFile(path) as zf:
        manifest_bytes = _read(zf, MANIFEST_NAME)
        signature = _read(zf, SIGNATURE_NAME)
        key = public_key if public_key is not None else _read(zf, PUBLIC_KEY_NAME)
        if manifest_bytes is None or signature is None or key is None:
            return False, [f"MISSING: {MANIFEST_NAME}, {SIGNATURE_NAME} or a public key"]
        signed = verify(key, manifest_bytes, signature)
        if not signed:
            lines.append(
                f"SIGNATURE INVALID: {MANIFEST_NAME} was changed or not signed by this key"
            )
        elif public_key is None:
            lines.append("note: checked against the key inside the bundle (use --public-key)")
        try:
            manifest = parse_manifest(manifest_bytes)
        except ValidationError as exc:
            return False, [*lines, f"CHANGED: {MANIFEST_NAME} ({exc.message})", "TAMPERED"]
        found = {info.filename: _member_digest(zf, info.filename) for info in zf.infolist()}
    result = check_contents(manifest, found)
    lines += [f"CHANGED: {n}" for n in result.changed]
    lines += [f"MISSING: {n}" for n in result.missing]
    lines += [f"ADDED: {n}" for n in result.extra]
    ok = signed and result.ok
    lines.append(
        f"OK: {len(manifest.entries)} files match the signed manifest (record {manifest.record_id},"
        f" call {manifest.session_id}, {manifest.created_at})"
        if ok
        else "TAMPERED: the bundle does not match its signed manifest"
    )
    return ok, lines


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m videocall.adapters.evidence_cli")
    sub = parser.add_subparsers(dest="command", required=True)
    check = sub.add_parser("verify", help="verify an evidence bundle (ZIP)")
    check.add_argument("bundle", type=Path)
    check.add_argument("--public-key", type=Path, help="the server's public key (PEM)")
    args = parser.parse_args(argv)
    try:
        key = args.public_key.read_bytes() if args.public_key else None
        ok, lines = verify_bundle(args.bundle, key)
    except (OSError, zipfile.BadZipFile, ValidationError) as exc:
        print(f"ERROR: not a readable evidence bundle: {exc}", file=sys.stderr)
        return 2
    for line in lines:
        print(line)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
