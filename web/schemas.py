"""Request and response bodies of the JSON API (pydantic), validated once at the edge."""

from __future__ import annotations

from datetime import date
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class RegisterIn(Strict):
    nik: str = Field(description="16-digit NIK", max_length=32)
    mobile: str = Field(description="Indonesian mobile number, e.g. 0812 3456 7890", max_length=32)
    email: str = Field(max_length=254)


class ProfileIn(Strict):
    full_name: str = Field(min_length=2, max_length=200)
    birth_date: date = Field(description="ISO date, must match the NIK")
    sex: Literal["male", "female"]

    model_config = ConfigDict(extra="forbid", strict=False)  # dates arrive as strings in JSON


class LoginIn(Strict):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=200)


class ErrorBody(BaseModel):
    code: str
    message: str
    field: str | None = None


class ErrorOut(BaseModel):
    error: ErrorBody


class HistoryOut(BaseModel):
    at: str
    actor: str
    action: str
    from_: str | None = Field(default=None, alias="from")
    to: str | None = None
    reason: str | None = None
    detail: dict[str, Any] = {}


class DocumentOut(BaseModel):
    kind: str
    sha256: str
    content_type: str
    width: int
    height: int
    size_bytes: int
    metrics: dict[str, float]
    verdicts: list[str]
    uploaded_at: str


class RecordOut(BaseModel):
    id: str
    reference: str = Field(description="short reference to read out: 8 Crockford base32 characters")
    nik_masked: str
    nik_birth_date: str = Field(description="date of birth the NIK encodes (to prefill)")
    nik_sex: str = Field(description="sex the NIK encodes (to prefill)")
    mobile: str
    email: str
    state: str
    full_name: str | None
    birth_date: str | None
    sex: str | None
    documents: list[DocumentOut]
    consent_at: str | None
    due_at: str | None
    created_at: str
    updated_at: str
    history: list[HistoryOut]


class MeOut(RecordOut):
    call_status: Literal["none", "live", "awaiting_decision"] = Field(
        description="live: in a call now; awaiting_decision: the call is over and the officer "
        "is recording the decision"
    )


class RegisterOut(BaseModel):
    record: RecordOut
    token: str
    token_type: Literal["Bearer"] = "Bearer"
    expires_in: int


class AccountOut(BaseModel):
    id: str
    username: str
    display_name: str
    role: str


class OkOut(BaseModel):
    ok: bool = True


class NikOut(BaseModel):
    nik: str


class EventOut(BaseModel):
    id: str
    type: str
    record_id: str
    occurred_at: str
    data: dict[str, Any]


class RecordEventsOut(BaseModel):
    record_id: str
    reference: str
    state: str
    due_at: str | None
    events: list[EventOut]
