"""Content-addressed storage for uploads and snapshots (mode 0600, no personal data in names).

A file's modification time is when it was last written or asked to be written: the orphan
sweep (``retention_job``) only deletes unreferenced files older than its grace period, so a file
an upload is about to reference is never taken away from under it.
"""

from __future__ import annotations

import asyncio
import os
import re
import secrets
from datetime import UTC, datetime
from pathlib import Path

from videocall.errors import NotFound

_HEX = re.compile(r"^[0-9a-f]{64}$")


class FileBlobStore:
    def __init__(self, root: Path) -> None:
        self.root = root

    def path_for(self, sha256: str) -> Path:
        if not _HEX.match(sha256):
            raise NotFound("no such file", code="file_not_found")
        return self.root / sha256[:2] / sha256

    def _write(self, sha256: str, data: bytes) -> None:
        path = self.path_for(sha256)
        if path.exists():
            try:
                os.utime(path)  # written again as far as the orphan sweep is concerned
                return
            except FileNotFoundError:
                pass  # swept meanwhile: write it anew
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        # A name of its own: two uploads of the same bytes at once must not share a temp file.
        tmp = path.with_name(f"{path.name}.{secrets.token_hex(8)}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)

    async def put(self, sha256: str, data: bytes) -> None:
        await asyncio.to_thread(self._write, sha256, data)

    async def get(self, sha256: str) -> bytes:
        path = self.path_for(sha256)
        try:
            return await asyncio.to_thread(path.read_bytes)
        except FileNotFoundError:
            raise NotFound("no such file", code="file_not_found") from None

    async def delete(self, sha256: str) -> None:
        path = self.path_for(sha256)
        await asyncio.to_thread(path.unlink, True)

    def _listing(self) -> list[tuple[str, datetime]]:
        if not self.root.is_dir():
            return []
        found = []
        for path in self.root.glob("??/*"):
            if not _HEX.match(path.name) or path.parent.name != path.name[:2]:
                continue  # temporary files and anything else are not ours to judge
            try:
                mtime = path.stat().st_mtime
            except FileNotFoundError:
                continue
            found.append((path.name, datetime.fromtimestamp(mtime, UTC)))
        return found

    async def listing(self) -> list[tuple[str, datetime]]:
        """Every stored file as (sha256, last written)."""
        return await asyncio.to_thread(self._listing)

    def _delete_if_older(self, sha256: str, cutoff: datetime) -> bool:
        path = self.path_for(sha256)
        try:
            if datetime.fromtimestamp(path.stat().st_mtime, UTC) >= cutoff:
                return False  # written again since it was listed
            path.unlink()
        except FileNotFoundError:
            return False
        return True

    async def delete_if_older(self, sha256: str, cutoff: datetime) -> bool:
        """Delete the file unless it was (re)written at or after ``cutoff``."""
        return await asyncio.to_thread(self._delete_if_older, sha256, cutoff)
