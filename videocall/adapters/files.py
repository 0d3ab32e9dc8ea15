"""Content-addressed storage for uploads and snapshots (mode 0600, no personal data in names)."""

from __future__ import annotations

import asyncio
import os
import re
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
            return
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        tmp = path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
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
