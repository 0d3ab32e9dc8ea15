"""Logging configuration, done once by ``server.py``: readable text by default, JSON lines when
``LOG_JSON=true``. A filter masks anything that looks like a NIK or a bearer token, as a second
line of defence behind code that never logs them."""

from __future__ import annotations

import json
import logging
import re
from datetime import UTC, datetime

from videocall.nik import mask_nik

_NIK = re.compile(r"(?<!\d)\d{16}(?!\d)")
_SECRETS = re.compile(r"(?i)(bearer\s+|token[\"'=:\s]+|password[\"'=:\s]+|a=ice-pwd:)([^\s\"',;]+)")


def redact(text: str) -> str:
    text = _NIK.sub(lambda m: mask_nik(m.group(0)), text)
    return _SECRETS.sub(lambda m: m.group(1) + "[redacted]", text)


class RedactingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key in ("request_id", "call_id", "session_id"):
            if hasattr(record, key):
                entry[key] = getattr(record, key)
        if record.exc_info:
            entry["exc"] = redact(self.formatException(record.exc_info))
        return json.dumps(entry, ensure_ascii=False)


def configure_logging(level: str = "INFO", json_lines: bool = False) -> None:
    handler = logging.StreamHandler()
    handler.addFilter(RedactingFilter())
    if json_lines:
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # aiortc/aioice debug output includes SDP with credentials: keep them at WARNING.
    # aiosqlite logs every SQL parameter (names, phone numbers) at DEBUG.
    for noisy in ("aioice", "aiortc", "aiohttp.access", "engineio", "socketio", "aiosqlite"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
