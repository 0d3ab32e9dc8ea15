"""Webhook signing, payloads, endpoint configuration and the retry schedule (pure)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import json
from datetime import UTC, datetime, timedelta

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from videocall.errors import ValidationError
from videocall.records import DomainEvent
from videocall.webhooks import Backoff, headers, parse_endpoints, payload, signature

OLD = "whsec_" + base64.b64encode(b"old-secret-0123456789abcdef").decode()
NEW = "whsec_" + base64.b64encode(b"new-secret-0123456789abcdef").decode()
EVENT = DomainEvent(
    "7f1c0e7a-0000-4000-8000-000000000001",
    "record.under_review",
    "rec-1",
    datetime(2026, 11, 24, 3, 0, tzinfo=UTC),
    {"from": "in_call", "to": "under_review", "reason": "officer_approved"},
)


def test_payload_is_standard_shape_and_carries_the_event_id() -> None:
    body = json.loads(payload(EVENT))
    assert body == {
        "type": "record.under_review",
        "timestamp": "2026-11-24T03:00:00Z",
        "data": {
            "event_id": EVENT.id,
            "record_id": "rec-1",
            "from": "in_call",
            "to": "under_review",
            "reason": "officer_approved",
        },
    }
    assert payload(EVENT) == payload(EVENT)  # byte-stable across retries


def test_signature_is_hmac_of_id_timestamp_body() -> None:
    at = datetime.now(UTC)
    body = payload(EVENT)
    sig = signature([OLD], EVENT.id, at, body)
    key = base64.b64decode(OLD.removeprefix("whsec_"))
    signed = f"{EVENT.id}.{int(at.timestamp())}.".encode() + body
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    assert sig == f"v1,{expected}"


def test_rotation_signs_with_every_secret_and_each_verifies() -> None:
    at = datetime.now(UTC)
    body = payload(EVENT)
    sent = headers([OLD, NEW], EVENT.id, at, body)
    assert sent["webhook-id"] == EVENT.id
    assert sent["webhook-timestamp"] == str(int(at.timestamp()))
    assert len(sent["webhook-signature"].split(" ")) == 2
    for secret in (OLD, NEW):
        assert Webhook(secret).verify(body, sent)["data"]["event_id"] == EVENT.id
    other = "whsec_" + base64.b64encode(b"someone-else-entirely-000").decode()
    with pytest.raises(WebhookVerificationError):
        Webhook(other).verify(body, sent)
    with pytest.raises(WebhookVerificationError):
        Webhook(OLD).verify(body + b" ", sent)


def test_timestamp_in_another_timezone_is_the_same_instant() -> None:
    at = datetime.now(UTC)
    jakarta = at.astimezone(__import__("zoneinfo").ZoneInfo("Asia/Jakarta"))
    body = payload(EVENT)
    assert signature([OLD], "m", at, body) == signature([OLD], "m", jakarta, body)


@pytest.mark.parametrize(
    "raw",
    [
        "not json",
        '{"url": "http://x"}',
        '[{"url": "ftp://x", "secrets": ["' + OLD + '"]}]',
        '[{"url": "http://x", "secrets": []}]',
        '[{"url": "http://x", "secrets": ["whsec_"]}]',
    ],
)
def test_bad_endpoint_configuration_is_refused(raw: str) -> None:
    with pytest.raises(ValidationError):
        parse_endpoints(raw)


def test_endpoints_parse() -> None:
    raw = json.dumps([{"url": "https://insurer.example/hooks", "secrets": [NEW, OLD]}])
    [endpoint] = parse_endpoints(raw)
    assert endpoint.url == "https://insurer.example/hooks" and endpoint.secrets == (NEW, OLD)
    assert parse_endpoints("") == [] and parse_endpoints("[]") == []


def test_backoff_grows_exponentially_with_jitter_and_a_cap() -> None:
    policy = Backoff(base_seconds=5, factor=2, max_delay_seconds=600)
    lows = [policy.delay(n, 0.0) for n in range(1, 12)]
    highs = [policy.delay(n, 0.999999) for n in range(1, 12)]
    assert lows[:4] == [2.5, 5.0, 10.0, 20.0]
    assert all(b >= a for a, b in itertools.pairwise(lows))
    assert max(highs) <= 600 and lows[-1] == 300  # capped, jitter keeps half the cap at least
    assert all(low < high for low, high in zip(lows, highs, strict=True))


def test_retries_stop_at_max_age_with_a_last_try_at_the_deadline() -> None:
    policy = Backoff(base_seconds=60, max_delay_seconds=3600, max_age_seconds=3 * 24 * 3600)
    first = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)  # a Friday: calendar days, not working days
    deadline = policy.deadline(first)
    assert deadline == first + timedelta(days=3)
    now, attempts, tries = first, 1, []
    while (at := policy.next_attempt(attempts, deadline, now, 0.5)) is not None:
        assert now < at <= deadline
        tries.append(at)
        now, attempts = at, attempts + 1
    assert tries[-1] == deadline
    assert 70 < len(tries) < 110  # about one try per 45 min (3/4 of the cap) at the end
    assert policy.next_attempt(1, deadline, deadline + timedelta(seconds=1), 0.5) is None
