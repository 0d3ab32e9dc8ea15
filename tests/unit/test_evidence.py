"""The evidence manifest: canonical bytes, parsing back, and which files differ from it."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime

import pytest

from videocall.errors import ValidationError
from videocall.evidence import (
    Manifest,
    ManifestEntry,
    build_manifest,
    canonical_bytes,
    check_contents,
    check_name,
    digest,
    entry_for,
    parse_manifest,
)

AT = datetime(2026, 11, 24, 3, 0, tzinfo=UTC)
FILES = {"summary.pdf": b"%PDF-1.4 ...", "recordings/s-000.webm": b"\x1a\x45\xdf\xa3" * 100}


def manifest() -> Manifest:
    return build_manifest("rec-1", "ses-1", AT, [entry_for(n, d) for n, d in FILES.items()])


def found(files: dict[str, bytes]) -> dict[str, tuple[str, int] | None]:
    return {n: (hashlib.sha256(d).hexdigest(), len(d)) for n, d in files.items()}


def test_entries_sorted_and_digests_real() -> None:
    m = manifest()
    assert [e.name for e in m.entries] == ["recordings/s-000.webm", "summary.pdf"]
    assert m.entries[1].sha256 == hashlib.sha256(FILES["summary.pdf"]).hexdigest()
    assert m.entries[0].size == 400


def test_canonical_bytes_round_trip_and_are_stable() -> None:
    data = canonical_bytes(manifest())
    assert data == canonical_bytes(manifest())
    assert b" " not in data.replace(b"%PDF", b"")  # no whitespace between tokens
    assert parse_manifest(data) == manifest()
    assert json.loads(data)["created_at"] == AT.isoformat()


def test_non_canonical_or_foreign_manifest_refused() -> None:
    data = canonical_bytes(manifest())
    pretty = json.dumps(json.loads(data), indent=2).encode()
    with pytest.raises(ValidationError):
        parse_manifest(pretty)
    for bad in (b"not json", b"{}", data.replace(b'"version":1', b'"version":9')):
        with pytest.raises(ValidationError) as err:
            parse_manifest(bad)
        assert err.value.code == "evidence_manifest_invalid"


def test_intact_bundle_verifies() -> None:
    result = check_contents(manifest(), found({**FILES, "manifest.json": b"{}"}))
    assert result.ok and result.changed == result.missing == result.extra == []


@pytest.mark.parametrize(
    ("files", "changed", "missing", "extra"),
    [
        ({**FILES, "summary.pdf": b"%PDF-1.4 ..!"}, ["summary.pdf"], [], []),
        ({"summary.pdf": FILES["summary.pdf"]}, [], ["recordings/s-000.webm"], []),
        ({**FILES, "photos/x.jpg": b"\xff\xd8"}, [], [], ["photos/x.jpg"]),
    ],
)
def test_each_difference_named(
    files: dict[str, bytes], changed: list[str], missing: list[str], extra: list[str]
) -> None:
    result = check_contents(manifest(), found(files))
    assert not result.ok
    assert (result.changed, result.missing, result.extra) == (changed, missing, extra)


def test_unreadable_member_counts_as_changed() -> None:
    listing: dict[str, tuple[str, int] | None] = dict(found(FILES))
    listing["summary.pdf"] = None
    assert check_contents(manifest(), listing).changed == ["summary.pdf"]


def test_same_size_other_bytes_is_a_change() -> None:
    tampered = dict(FILES)
    tampered["recordings/s-000.webm"] = b"\x1a\x45\xdf\xa4" + FILES["recordings/s-000.webm"][4:]
    assert check_contents(manifest(), found(tampered)).changed == ["recordings/s-000.webm"]


@pytest.mark.parametrize("name", ["", "/etc/passwd", "../x", "a//b", "a/./b", "a\\b", "x" * 300])
def test_bad_names_refused(name: str) -> None:
    with pytest.raises(ValidationError):
        check_name(name)


def test_duplicate_or_reserved_names_refused() -> None:
    e = ManifestEntry("a.pdf", "0" * 64, 1)
    with pytest.raises(ValidationError):
        build_manifest("r", "s", AT, [e, e])
    with pytest.raises(ValidationError):
        build_manifest("r", "s", AT, [ManifestEntry("manifest.json", "0" * 64, 1)])


def test_digest_of_chunks_equals_whole() -> None:
    assert digest([b"ab", b"", b"cd"]) == (hashlib.sha256(b"abcd").hexdigest(), 4)
