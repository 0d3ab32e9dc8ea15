"""Contact details: Indonesian mobile numbers (normalised to E.164) and e-mail addresses."""

from __future__ import annotations

import re

from email_validator import EmailNotValidError, validate_email

from videocall.errors import ValidationError

# Indonesian mobile numbers: 08xx / +628xx / 628xx, 9-12 digits after the leading 8.
_MOBILE_RE = re.compile(r"^8[1-9]\d{7,10}$")


def normalise_mobile(raw: object) -> str:
    """``0812-3456-7890`` -> ``+6281234567890``."""
    if not isinstance(raw, str):
        raise ValidationError(
            "mobile number must be a string", code="mobile_format", field="mobile"
        )
    digits = re.sub(r"[\s\-().]", "", raw)
    if digits.startswith("+62"):
        rest = digits[3:]
    elif digits.startswith("62"):
        rest = digits[2:]
    elif digits.startswith("0"):
        rest = digits[1:]
    else:
        rest = digits
    if not _MOBILE_RE.match(rest):
        raise ValidationError(
            "not an Indonesian mobile number (e.g. 0812 3456 7890)",
            code="mobile_format",
            field="mobile",
        )
    return "+62" + rest


def normalise_email(raw: object) -> str:
    if not isinstance(raw, str) or len(raw) > 254:
        raise ValidationError("invalid e-mail address", code="email_format", field="email")
    try:
        info = validate_email(raw.strip(), check_deliverability=False)
    except EmailNotValidError as exc:
        raise ValidationError(
            f"invalid e-mail address: {exc}", code="email_format", field="email"
        ) from None
    return info.normalized
