"""The interfaces the domain needs from the outside world, as small Protocols.

Adapters implement them: ``adapters/sql_records.py`` (SQLite/PostgreSQL), ``adapters/files.py``.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol, TypeVar

from videocall.records import DocumentKind, HistoryEntry, Record


@dataclass(frozen=True, slots=True)
class StoredDocument:
    record_id: str
    kind: DocumentKind
    sha256: str
    content_type: str
    width: int
    height: int
    size_bytes: int
    metrics: dict[str, float]
    verdicts: list[str]
    uploaded_at: datetime

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind.value,
            "sha256": self.sha256,
            "content_type": self.content_type,
            "width": self.width,
            "height": self.height,
            "size_bytes": self.size_bytes,
            "metrics": self.metrics,
            "verdicts": self.verdicts,
            "uploaded_at": self.uploaded_at.isoformat(),
        }


class RecordRepository(Protocol):
    async def add(self, record: Record) -> None:
        """Store a new record; Conflict(code='nik_registered') when its NIK is live already."""

    async def get(self, record_id: str) -> Record:
        """NotFound when absent."""

    def edit(self, record_id: str) -> AbstractAsyncContextManager[Record]:
        """Load, let the caller change, then save with history and outbox events atomically.

        An exception inside the block leaves the stored record unchanged."""

    async def append_note(
        self,
        record_id: str,
        action: str,
        *,
        actor: str,
        now: datetime,
        reason: str | None = None,
        detail: dict[str, Any] | None = None,
    ) -> None:
        """Append an audit entry without touching the record (no version bump)."""

    async def history(self, record_id: str) -> list[HistoryEntry]: ...

    async def documents(self, record_id: str) -> list[StoredDocument]: ...

    async def put_document(
        self, record_id: str, doc: StoredDocument, mutate: Callable[[Record], None]
    ) -> str | None:
        """Store the document metadata and ``mutate(record)`` together; returns the sha256 of
        the file it replaced, if any (so the caller can delete an unreferenced file)."""

    async def document_in_use(self, sha256: str) -> bool: ...


T = TypeVar("T")


class CpuPool(Protocol):
    """A bounded pool for CPU-heavy work: image decode and scoring, OCR, face models, encoding,
    hashing of big files. Nothing of that kind runs on the event loop."""

    async def run(self, fn: Callable[..., T], /, *args: Any) -> T:
        """Run ``fn(*args)`` off the event loop; waits for a free worker (bounded queue)."""


class BlobStore(Protocol):
    async def put(self, sha256: str, data: bytes) -> None: ...

    async def get(self, sha256: str) -> bytes: ...

    async def delete(self, sha256: str) -> None: ...
