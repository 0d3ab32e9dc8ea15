"""What the ``/media`` namespace takes: the media tickets a pairing message carries (signed
(session, side), verified by whichever process hosts the call's media) and the events' payloads."""

from __future__ import annotations

from typing import Literal

from itsdangerous import BadSignature, URLSafeTimedSerializer
from pydantic import BaseModel, ConfigDict, Field

from media.call import Side
from videocall.errors import Unauthenticated

NAMESPACE = "/media"
TICKET_TTL_SECONDS = 4 * 3600
MAX_SDP_CHARS = 64 * 1024


class OfferIn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    sdp: str = Field(min_length=1, max_length=MAX_SDP_CHARS)
    type: Literal["offer"]


class AnswerIn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    sdp: str = Field(min_length=1, max_length=MAX_SDP_CHARS)
    type: Literal["answer"]


class SnapshotIn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    kind: Literal["face", "ktp"]


class MediaTickets:
    """Signed (session, side) tickets, verified by whichever process hosts the media."""

    def __init__(self, keys_: list[str]) -> None:
        self._serializer = URLSafeTimedSerializer(keys_[::-1], salt="media-ticket")

    def issue(self, session_id: str, side: Side) -> str:
        return self._serializer.dumps({"sid": session_id, "side": side})

    def verify(self, token: object) -> tuple[str, Side]:
        if not isinstance(token, str):
            raise Unauthenticated("a media ticket is required", code="ticket_missing")
        try:
            data = self._serializer.loads(token, max_age=TICKET_TTL_SECONDS)
        except BadSignature:
            raise Unauthenticated("invalid media ticket", code="ticket_invalid") from None
        return str(data["sid"]), data["side"]
