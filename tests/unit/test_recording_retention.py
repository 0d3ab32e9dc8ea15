"""Retention decision: pure, clock passed in."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from recording.retention import StoredFile, list_stored, past_retention

NOW = datetime(2025, 1, 31, 12, 0, tzinfo=UTC)


def test_past_retention_oldest_first_and_boundary_kept() -> None:
    files = [
        StoredFile(Path("b.webm"), NOW - timedelta(days=40)),
        StoredFile(Path("edge.webm"), NOW - timedelta(days=30)),
        StoredFile(Path("new.webm"), NOW - timedelta(days=1)),
        StoredFile(Path("a.webm"), NOW - timedelta(days=90)),
    ]
    old = past_retention(files, NOW, timedelta(days=30))
    assert [f.path.name for f in old] == ["a.webm", "b.webm"]


def test_list_stored_only_media_files(tmp_path: Path) -> None:
    (tmp_path / "s-000.webm").write_bytes(b"x")
    (tmp_path / "notes.txt").write_text("x")
    assert [f.path.name for f in list_stored(tmp_path)] == ["s-000.webm"]
    assert list_stored(tmp_path / "missing") == []
