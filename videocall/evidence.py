"""The evidence bundle's manifest: which files a bundle holds, their SHA-256 digests and sizes.

The manifest is serialised canonically (sorted keys, no spaces, UTF-8) so that the bytes the
server signs are the bytes an auditor verifies. Checking a bundle compares what its files hash to
now with what the manifest says; the signature over the manifest (Ed25519) is the adapters' part.
Pure: no I/O, time passed in.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from videocall.errors import ValidationError

MANIFEST_VERSION = 1
MANIFEST_NAME = "manifest.json"
SIGNATURE_NAME = "manifest.sig"
PUBLIC_KEY_NAME = "public_key.pem"
# Files of the bundle that describe it and so are not listed in the manifest.
UNLISTED = frozenset({MANIFEST_NAME, SIGNATURE_NAME, PUBLIC_KEY_NAME})


@dataclass(frozen=True, slots=True)
class ManifestEntry:
    name: str
    sha256: str
    size: int


@dataclass(frozen=True, slots=True)
class Manifest:
    record_id: str
    session_id: str
    created_at: str  # ISO 8601, as signed
    entries: tuple[ManifestEntry, ...]

    def names(self) -> set[str]:
        return {e.name for e in self.entries}


@dataclass(frozen=True, slots=True)
class Verification:
    """What differs between a bundle's files and its manifest (empty lists: intact)."""

    changed: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    extra: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (self.changed or self.missing or self.extra)


def check_name(name: str) -> str:
    """A file name inside a bundle: relative, forward slashes, no way out of the archive."""
    parts = name.split("/")
    if (
        not name
        or name.startswith("/")
        or "\\" in name
        or any(p in ("", ".", "..") for p in parts)
        or len(name) > 255
    ):
        raise ValidationError(
            f"bad file name in bundle: {name!r}", code="evidence_manifest_invalid"
        )
    return name


def digest(chunks: Iterable[bytes]) -> tuple[str, int]:
    """SHA-256 (hex) and size of the bytes given in chunks."""
    h = hashlib.sha256()
    size = 0
    for chunk in chunks:
        h.update(chunk)
        size += len(chunk)
    return h.hexdigest(), size


def entry_for(name: str, data: bytes) -> ManifestEntry:
    sha, size = digest((data,))
    return ManifestEntry(check_name(name), sha, size)


def build_manifest(
    record_id: str, session_id: str, created_at: datetime, entries: Iterable[ManifestEntry]
) -> Manifest:
    """A manifest of ``entries`` (sorted by name; a name may appear once)."""
    ordered = sorted(entries, key=lambda e: e.name)
    names = [e.name for e in ordered]
    if len(set(names)) != len(names):
        raise ValidationError("a file name appears twice", code="evidence_manifest_invalid")
    for name in names:
        check_name(name)
        if name in UNLISTED:
            raise ValidationError(f"{name} cannot be listed", code="evidence_manifest_invalid")
    return Manifest(record_id, session_id, created_at.isoformat(), tuple(ordered))


def canonical_bytes(manifest: Manifest) -> bytes:
    """The exact bytes that are signed and stored as ``manifest.json``."""
    body: dict[str, Any] = {
        "version": MANIFEST_VERSION,
        "algorithm": "sha256",
        "record_id": manifest.record_id,
        "session_id": manifest.session_id,
        "created_at": manifest.created_at,
        "files": [{"name": e.name, "sha256": e.sha256, "size": e.size} for e in manifest.entries],
    }
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def parse_manifest(data: bytes) -> Manifest:
    """A manifest from its stored bytes; ValidationError when it is not one we wrote."""
    try:
        body = json.loads(data.decode("utf-8"))
        if body["version"] != MANIFEST_VERSION or body["algorithm"] != "sha256":
            raise ValueError("unknown manifest version")
        entries = tuple(
            ManifestEntry(check_name(str(f["name"])), str(f["sha256"]), int(f["size"]))
            for f in body["files"]
        )
        manifest = Manifest(
            str(body["record_id"]), str(body["session_id"]), str(body["created_at"]), entries
        )
    except ValidationError:
        raise
    except (ValueError, KeyError, TypeError, UnicodeDecodeError) as exc:
        raise ValidationError(
            f"not a valid manifest: {exc}", code="evidence_manifest_invalid"
        ) from None
    if canonical_bytes(manifest) != data:
        raise ValidationError(
            "the manifest is not in canonical form", code="evidence_manifest_invalid"
        )
    return manifest


def check_contents(manifest: Manifest, found: Mapping[str, tuple[str, int] | None]) -> Verification:
    """Compare ``found`` (name -> (sha256, size), or None when the file could not be read)
    with the manifest; files that describe the bundle (``UNLISTED``) are ignored."""
    listed = {e.name: e for e in manifest.entries}
    present = {n: v for n, v in found.items() if n not in UNLISTED}
    changed = sorted(
        name
        for name, value in present.items()
        if name in listed and (value is None or value != (listed[name].sha256, listed[name].size))
    )
    missing = sorted(set(listed) - set(present))
    extra = sorted(set(present) - set(listed))
    return Verification(changed, missing, extra)
