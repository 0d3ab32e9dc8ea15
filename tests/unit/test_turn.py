import base64
import hashlib
import hmac
from datetime import UTC, datetime

from videocall.turn import ice_servers, turn_credentials

NOW = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)


def test_turn_rest_credentials_match_coturn_scheme() -> None:
    user, password = turn_credentials("s3cret", "session-1", NOW, 600)
    expiry, name = user.split(":")
    assert int(expiry) == int(NOW.timestamp()) + 600 and name == "session-1"
    expected = base64.b64encode(hmac.new(b"s3cret", user.encode(), hashlib.sha1).digest()).decode()
    assert password == expected


def test_ice_servers_include_stun_and_turn_only_when_configured() -> None:
    stun = '[{"urls": ["stun:stun.example.id:3478"]}]'
    only_stun = ice_servers(
        stun_json=stun, turn_urls=[], turn_secret="x", ttl_seconds=60, user="u", now=NOW
    )
    assert only_stun == [{"urls": ["stun:stun.example.id:3478"]}]
    both = ice_servers(
        stun_json=stun,
        turn_urls=["turn:turn.example.id:3478?transport=udp"],
        turn_secret="x",
        ttl_seconds=60,
        user="u",
        now=NOW,
    )
    assert both[1]["username"].endswith(":u") and both[1]["credential"]
    assert (
        ice_servers(stun_json="", turn_urls=[], turn_secret="", ttl_seconds=1, user="u", now=NOW)
        == []
    )
