"""Hand-off links: the insurer's app hands a person over to our pages without a long-lived secret
in a URL.

The upstream system asks for a link for a record it created; the link carries a one-time code
that is short-lived (``HANDOFF_TTL_SECONDS``, 10 minutes by default). Only the code's SHA-256 is
stored. The page exchanges the code (by POST) once for the participant's access token; a second
use, an expired code or an unknown one is refused with its own error code.

Pure rules: time, codes and records are passed in.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from typing import Any, Literal
from urllib.parse import urlsplit

from videocall.errors import NotAllowed, NotFound, ValidationError, VideoCallError
from videocall.records import Record, RecordState

DEFAULT_TTL_SECONDS = 600
# secrets.token_urlsafe(24) gives 32 characters; anything of another shape is not ours.
CODE_PATTERN = re.compile(r"^[A-Za-z0-9_-]{32,64}$")
Step = Literal["profile", "documents", "consent", "queue", "call", "result"]


class HandoffGone(VideoCallError):
    """The link was ours but can no longer be used (used, expired): 410, open it again."""

    code = "handoff_gone"
    status = 410


@dataclass(frozen=True, slots=True)
class Prefill:
    """Profile fields the app already knows; the page fills them in, the person confirms."""

    full_name: str | None = None
    birth_date: date | None = None
    sex: Literal["female", "male"] | None = None

    def as_dict(self) -> dict[str, str]:
        out: dict[str, str] = {}
        if self.full_name:
            out["full_name"] = self.full_name
        if self.birth_date:
            out["birth_date"] = self.birth_date.isoformat()
        if self.sex:
            out["sex"] = self.sex
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> Prefill:
        data = data or {}
        born = data.get("birth_date")
        sex = data.get("sex")
        return cls(
            full_name=data.get("full_name") or None,
            birth_date=date.fromisoformat(born) if born else None,
            sex=sex if sex in ("female", "male") else None,
        )


@dataclass(frozen=True, slots=True)
class Grant:
    """One hand-off link as stored: the code itself never is, only its hash."""

    code_hash: str
    record_id: str
    issued_by: str
    created_at: datetime
    expires_at: datetime
    used_at: datetime | None = None
    prefill: Prefill = Prefill()


def hash_code(code: str) -> str:
    return hashlib.sha256(code.encode()).hexdigest()


def well_formed(code: str) -> bool:
    return bool(CODE_PATTERN.match(code))


def created_by(record: Record) -> str | None:
    """The actor that created the record (its first history entry)."""
    return record.history[0].actor if record.history else None


def issue(
    record: Record, *, upstream: str, code: str, now: datetime, ttl_seconds: int, prefill: Prefill
) -> Grant:
    """A new link for ``record``, asked for by the upstream system ``upstream``."""
    if created_by(record) != f"upstream:{upstream}":
        raise NotAllowed(
            "a hand-off link is only issued for a record this system created",
            code="handoff_not_creator",
        )
    if ttl_seconds <= 0:
        raise ValidationError("the link lifetime must be positive", code="invalid_field")
    return Grant(
        code_hash=hash_code(code),
        record_id=record.id,
        issued_by=upstream,
        created_at=now,
        expires_at=now + timedelta(seconds=ttl_seconds),
        prefill=prefill,
    )


def check(grant: Grant | None, now: datetime) -> Grant:
    """The grant if it may be used now; otherwise the reason, as an error with a clear code."""
    if grant is None:
        raise NotFound("this link is not known", code="handoff_invalid")
    if grant.used_at is not None:
        raise HandoffGone("this link was already used", code="handoff_used")
    if now >= grant.expires_at:
        raise HandoffGone("this link has expired", code="handoff_expired")
    return grant


def redeem(grant: Grant | None, now: datetime) -> Grant:
    """The grant marked used (the caller stores it only if nobody else did first)."""
    return replace(check(grant, now), used_at=now)


def step_for(state: RecordState) -> Step:
    """The step of the participant's page a record in ``state`` opens at."""
    match state:
        case RecordState.REGISTERED:
            return "profile"
        case RecordState.PROFILE_COMPLETE | RecordState.RETRY_REQUIRED:
            return "documents"
        case RecordState.DOCUMENTS_UPLOADED:
            return "consent"
        case RecordState.READY_FOR_CALL:
            return "queue"
        case RecordState.IN_CALL:
            return "call"
        case _:
            return "result"


def valid_return_url(url: str) -> bool:
    """A custom scheme (``jkn://...``) or https; never script, data or file URLs.

    Plain http only for a local address (development)."""
    if not url:
        return True
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    scheme = parts.scheme.lower()
    if scheme in ("javascript", "data", "file", "blob", "vbscript", "about", "") or any(
        c in url for c in "\r\n\t <>\"'"
    ):
        return False
    if scheme == "http":
        return parts.hostname in ("localhost", "127.0.0.1")
    if scheme == "https":
        return bool(parts.hostname)
    return bool(re.fullmatch(r"[a-z][a-z0-9+.-]*", scheme))
