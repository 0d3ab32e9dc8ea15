"""Which recordings are past their retention period. The decision is pure; listing is separate."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

RECORDING_SUFFIXES = (".webm", ".mkv", ".jpg")


@dataclass(frozen=True, slots=True)
class StoredFile:
    path: Path
    created_at: datetime  # timezone-aware


def past_retention(
    files: Iterable[StoredFile], now: datetime, retention: timedelta
) -> list[StoredFile]:
    """Files older than ``retention`` at ``now``, oldest first; one exactly at the limit stays."""
    cutoff = now - retention
    return sorted((f for f in files if f.created_at < cutoff), key=lambda f: f.created_at)


def list_stored(directory: Path) -> list[StoredFile]:
    """Recording and snapshot files under ``directory``, dated by modification time."""
    if not directory.exists():
        return []
    return [
        StoredFile(p, datetime.fromtimestamp(p.stat().st_mtime, UTC))
        for p in directory.rglob("*")
        if p.is_file() and p.suffix in RECORDING_SUFFIXES
    ]
