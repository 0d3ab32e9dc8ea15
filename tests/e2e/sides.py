"""What happens beside the page under test: a participant set up over the API, and changes an
officer's or a supervisor's action makes, written with the server's own domain code and SQL
adapters into the e2e server's database (the pages must notice them by themselves)."""

from __future__ import annotations

import asyncio
import json
import threading
import urllib.request
from collections.abc import Callable, Coroutine
from datetime import date
from typing import Any

from tests.e2e.conftest import Server, photo_jpeg
from tests.support import make_nik
from videocall.adapters.sql_records import Database, SqlRecordRepository
from videocall.records import Record

# Uploads are analysed on the server (lighting, OCR...): on a busy 2-core machine that takes time.
TIMEOUT_S = 90


def api(server: Server, method: str, path: str, body: Any = None, token: str = "") -> Any:
    data, headers = None, {}
    if isinstance(body, bytes):
        data, headers["Content-Type"] = body, "image/jpeg"
    elif body is not None:
        data, headers["Content-Type"] = json.dumps(body).encode(), "application/json"
    if token:
        headers["Authorization"] = f"Bearer {token}"
    req = urllib.request.Request(server.url + path, data=data, method=method, headers=headers)
    with urllib.request.urlopen(req, timeout=TIMEOUT_S) as response:
        return json.loads(response.read() or b"null")


def ready(server: Server, birth: date) -> tuple[str, dict[str, Any]]:
    """A participant ready for the call (profile, three photos, consent): token and record."""
    nik = make_nik(birth)
    out = api(
        server,
        "POST",
        "/api/participants",
        {"nik": nik, "mobile": "081234567890", "email": f"{nik}@example.id"},
    )
    token = out["token"]
    profile = {"full_name": "Peserta Uji", "birth_date": birth.isoformat(), "sex": "male"}
    api(server, "PUT", "/api/me/profile", profile, token)
    for i, kind in enumerate(("ktp", "selfie_with_ktp", "face")):
        api(server, "PUT", f"/api/me/documents/{kind}", photo_jpeg(seed=10 + i), token)
    api(server, "POST", "/api/me/consent", None, token)
    return token, api(server, "GET", "/api/me", token=token)


def run_async(make: Callable[[], Coroutine[Any, Any, Any]]) -> Any:
    """Playwright's sync API owns this thread's event loop: run our asyncio code beside it."""
    out: list[Any] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            out.append(asyncio.run(make()))
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(TIMEOUT_S)
    if errors:
        raise errors[0]
    return out[0] if out else None


def database(server: Server) -> Database:
    return Database.from_url(f"sqlite+aiosqlite:///{server.data_dir / 'videocall.db'}")


def change_record(server: Server, record_id: str, change: Callable[[Record], None]) -> None:
    """Apply `change` to the record in the server's database, in one transaction."""

    async def main() -> None:
        db = database(server)
        try:
            async with SqlRecordRepository(db).edit(record_id) as record:
                change(record)
        finally:
            await db.close()

    run_async(main)
