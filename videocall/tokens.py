"""Participant access tokens: signed, expiring, bound to one record; keys rotate safely."""

from __future__ import annotations

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from videocall.errors import Unauthenticated

_SALT = "participant-access"


class ParticipantTokens:
    def __init__(self, keys: list[str], ttl_seconds: int) -> None:
        # The first key signs; all of them verify (old keys stay valid until their tokens expire).
        self._serializer = URLSafeTimedSerializer(keys[::-1], salt=_SALT)
        self.ttl_seconds = ttl_seconds

    def issue(self, record_id: str) -> str:
        return self._serializer.dumps({"rid": record_id})

    def verify(self, token: str) -> str:
        """The record id the token grants access to, or Unauthenticated."""
        try:
            payload = self._serializer.loads(token, max_age=self.ttl_seconds)
        except SignatureExpired:
            raise Unauthenticated("the access token has expired", code="token_expired") from None
        except BadSignature:
            raise Unauthenticated("invalid access token", code="token_invalid") from None
        if not isinstance(payload, dict) or not isinstance(payload.get("rid"), str):
            raise Unauthenticated("invalid access token", code="token_invalid")
        return str(payload["rid"])
