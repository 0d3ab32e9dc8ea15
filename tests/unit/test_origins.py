"""Origins and the cross-origin rule, as pure functions; and which client event packets the
Socket.IO edge refuses before dispatch."""

from __future__ import annotations

import pytest

from signaling.edge import event_refusal
from videocall.origins import default_origins, origin_of
from videocall.settings import Settings
from web.origin import refusal


@pytest.mark.parametrize(
    ("url", "origin"),
    [
        ("https://Verify.Example.id/", "https://verify.example.id"),
        ("https://verify.example.id:443/node/8081", "https://verify.example.id"),
        ("http://127.0.0.1:80", "http://127.0.0.1"),
        ("http://127.0.0.1:8080", "http://127.0.0.1:8080"),
        ("https://verify.example.id:8443", "https://verify.example.id:8443"),
        ("http://[::1]:8080/x?y", "http://[::1]:8080"),
    ],
)
def test_origin_of(url: str, origin: str) -> None:
    assert origin_of(url) == origin


@pytest.mark.parametrize("url", ["verify.example.id", "ftp://x", "https://", "null", ""])
def test_not_an_origin(url: str) -> None:
    with pytest.raises(ValueError):
        origin_of(url)


def test_default_origins() -> None:
    assert default_origins("https://verify.example.id/node/1", "0.0.0.0", 8081) == [
        "https://verify.example.id"
    ]
    local = ["http://127.0.0.1:8080", "http://localhost:8080", "http://[::1]:8080"]
    assert default_origins("", "127.0.0.1", 8080) == local
    assert default_origins("", "0.0.0.0", 8080) == local
    assert default_origins("", "10.1.2.3", 9000) == ["http://10.1.2.3:9000"]
    assert default_origins("", "2001:db8::5", 9000) == ["http://[2001:db8::5]:9000"]


def test_public_origins_setting_wins_and_is_checked() -> None:
    settings = Settings(
        public_url="https://a.example", public_origins="https://B.example, http://c:81"
    )
    assert settings.allowed_origins == ["https://b.example", "http://c:81"]
    with pytest.raises(ValueError):
        _ = Settings(public_origins="b.example").allowed_origins


OURS = frozenset({"https://verify.example.id"})


@pytest.mark.parametrize(
    ("method", "origin", "site", "refused"),
    [
        ("POST", "https://verify.example.id", None, False),
        ("POST", "HTTPS://VERIFY.EXAMPLE.ID", None, False),
        ("POST", "https://evil.example", None, True),
        ("POST", "https://verify.example.id:8443", None, True),
        ("PUT", "http://verify.example.id", None, True),
        ("DELETE", "null", None, True),
        ("POST", "https://evil.example", "same-origin", True),  # Origin decides when present
        ("POST", None, "same-origin", False),
        ("POST", None, "none", False),
        ("POST", None, "same-site", True),
        ("POST", None, "cross-site", True),
        ("POST", None, None, False),  # no browser
        ("GET", "https://evil.example", "cross-site", False),
        ("HEAD", "https://evil.example", None, False),
        ("OPTIONS", "https://evil.example", None, False),
    ],
)
def test_refusal(method: str, origin: str | None, site: str | None, refused: bool) -> None:
    assert bool(refusal(method, origin, site, OURS)) is refused


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (["join_queue", {}], None),
        (["join_queue"], None),
        (["disconnect", "x"], "event_reserved"),
        (["connect", {}], "event_reserved"),
        (["connect_error"], "event_reserved"),
        (["disconnecting"], "event_reserved"),
        (["newListener", {}], "event_reserved"),
        (["join_queue", {}, "extra"], "invalid_payload"),
        ([5, {}], "invalid_event"),
        ([None], "invalid_event"),
        ([""], "invalid_event"),
        (["x" * 65], "invalid_event"),
        ([], "invalid_event"),
        ({"0": "join_queue"}, "invalid_event"),
    ],
)
def test_event_refusal(data: object, code: str | None) -> None:
    refused = event_refusal(data)
    assert (refused["code"] if refused else None) == code
