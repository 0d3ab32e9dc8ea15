"""Webhooks to the insurer's backend: endpoints, payloads, Standard Webhooks signatures, retries.

Pure: the delivery worker (``adapters/webhook_worker.py``) does the I/O and passes time and
randomness in. See docs/webhooks.md for what a receiver sees.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from standardwebhooks.webhooks import Webhook

from videocall.errors import ValidationError
from videocall.records import DomainEvent


@dataclass(frozen=True, slots=True)
class Endpoint:
    url: str
    secrets: tuple[str, ...]


def parse_endpoints(raw: str) -> list[Endpoint]:
    """``[{"url": ..., "secrets": ["whsec_...", ...]}]``; every secret must be usable."""
    try:
        items = json.loads(raw or "[]")
    except json.JSONDecodeError as exc:
        raise ValidationError(f"WEBHOOK_ENDPOINTS is not JSON: {exc}", code="bad_config") from None
    if not isinstance(items, list):
        raise ValidationError("WEBHOOK_ENDPOINTS must be a JSON list", code="bad_config")
    return [_endpoint(item) for item in items]


def _endpoint(item: Any) -> Endpoint:
    if not isinstance(item, dict) or not str(item.get("url", "")).startswith(
        ("http://", "https://")
    ):
        raise ValidationError("each webhook endpoint needs an http(s) url", code="bad_config")
    secrets = item.get("secrets")
    if not isinstance(secrets, list) or not secrets:
        raise ValidationError(
            f"endpoint {item['url']} needs at least one secret", code="bad_config"
        )
    for secret in secrets:
        try:
            Webhook(secret)
        except Exception:
            raise ValidationError(
                f"endpoint {item['url']}: a secret is not whsec_<base64>", code="bad_config"
            ) from None
    return Endpoint(str(item["url"]), tuple(str(s) for s in secrets))


# -- payload and signature ---------------------------------------------------------------------


def payload(event: DomainEvent) -> bytes:
    """The body: ``{"type", "timestamp", "data"}`` as Standard Webhooks recommends.

    ``data.event_id`` equals the ``webhook-id`` header: a receiver deduplicates on it."""
    body = {
        "type": event.type,
        "timestamp": event.occurred_at.astimezone(UTC).isoformat().replace("+00:00", "Z"),
        "data": {"event_id": event.id, "record_id": event.record_id, **event.data},
    }
    return json.dumps(body, separators=(",", ":"), sort_keys=True).encode()


def signature(secrets: Sequence[str], msg_id: str, at: datetime, body: bytes) -> str:
    """``v1,<base64>`` per secret, space-separated: receivers holding any one of them verify."""
    utc = at.astimezone(UTC)
    text = body.decode()
    return " ".join(Webhook(s).sign(msg_id, utc, text) for s in secrets)


def headers(secrets: Sequence[str], msg_id: str, at: datetime, body: bytes) -> dict[str, str]:
    return {
        "content-type": "application/json",
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": signature(secrets, msg_id, at, body),
    }


# -- retries -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Backoff:
    """Exponential backoff with jitter, up to ``max_age`` after the first attempt."""

    base_seconds: float = 5.0
    factor: float = 2.0
    max_delay_seconds: float = 3600.0
    max_age_seconds: float = 3 * 24 * 3600.0

    def delay(self, attempts: int, rand: float) -> float:
        """Seconds to wait after the ``attempts``-th failure; ``rand`` in [0, 1) spreads retries
        of many deliveries over [delay/2, delay) so a recovering receiver is not stampeded."""
        exponent = min(max(attempts - 1, 0), 64)
        raw = min(self.max_delay_seconds, self.base_seconds * self.factor**exponent)
        return raw * (0.5 + rand / 2)

    def deadline(self, first_attempt_at: datetime) -> datetime:
        return first_attempt_at + timedelta(seconds=self.max_age_seconds)

    def next_attempt(
        self, attempts: int, deadline: datetime, now: datetime, rand: float
    ) -> datetime | None:
        """When to try again, or None: give up (the delivery is parked as ``failed``).

        The last try happens at the deadline itself, so the full max age is always covered."""
        if now >= deadline:
            return None
        return min(now + timedelta(seconds=self.delay(attempts, rand)), deadline)
