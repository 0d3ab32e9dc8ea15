"""NIK (Nomor Induk Kependudukan), the 16-digit Indonesian national ID number.

Layout: ``PP KK CC DDMMYY SSSS`` — province, regency, district, date of birth (40 added to the
day for women), and a serial number. The date of birth and sex it encodes must agree with the
participant's profile.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from videocall.errors import ValidationError

# Province codes in use (Dukcapil), all within 11-94.
PROVINCE_CODES = frozenset(
    {
        11,
        12,
        13,
        14,
        15,
        16,
        17,
        18,
        19,
        21,
        31,
        32,
        33,
        34,
        35,
        36,
        51,
        52,
        53,
        61,
        62,
        63,
        64,
        65,
        71,
        72,
        73,
        74,
        75,
        76,
        81,
        82,
        91,
        92,
        93,
        94,
    }
)
_NIK_RE = re.compile(r"^\d{16}$")


class Sex(StrEnum):
    MALE = "male"
    FEMALE = "female"


@dataclass(frozen=True, slots=True)
class NikInfo:
    nik: str
    province: int
    birth_date: date
    sex: Sex


def parse_nik(raw: object, *, today: date) -> NikInfo:
    """Validate a NIK and return what it encodes; ``today`` resolves the two-digit year."""
    if not isinstance(raw, str):
        raise ValidationError("NIK must be a string of 16 digits", code="nik_format", field="nik")
    nik = raw.strip().replace(" ", "")
    if not _NIK_RE.match(nik):
        raise ValidationError("NIK must be exactly 16 digits", code="nik_format", field="nik")
    province = int(nik[0:2])
    if province not in PROVINCE_CODES:
        raise ValidationError(
            f"NIK province code {nik[0:2]} does not exist", code="nik_province", field="nik"
        )
    day, month, yy = int(nik[6:8]), int(nik[8:10]), int(nik[10:12])
    sex = Sex.MALE
    if day > 40:
        sex, day = Sex.FEMALE, day - 40
    year = 2000 + yy if 2000 + yy <= today.year else 1900 + yy
    try:
        birth = date(year, month, day)
    except ValueError:
        raise ValidationError(
            "NIK does not encode a real date of birth", code="nik_birth_date", field="nik"
        ) from None
    if birth > today:
        raise ValidationError(
            "NIK encodes a date of birth in the future", code="nik_birth_date", field="nik"
        )
    if nik[12:16] == "0000":
        raise ValidationError("NIK serial number cannot be 0000", code="nik_serial", field="nik")
    return NikInfo(nik=nik, province=province, birth_date=birth, sex=sex)


def mask_nik(nik: str | None) -> str:
    """``3201********0001``: safe for logs and for the officers' waiting list."""
    if not nik:
        return ""
    if len(nik) < 8:
        return "*" * len(nik)
    return nik[:4] + "*" * (len(nik) - 8) + nik[-4:]
