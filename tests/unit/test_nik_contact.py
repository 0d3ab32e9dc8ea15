from datetime import date

import pytest

from videocall.contact import normalise_email, normalise_mobile
from videocall.errors import ValidationError
from videocall.nik import Sex, mask_nik, parse_nik

TODAY = date(2026, 11, 25)


@pytest.mark.parametrize(
    ("nik", "birth", "sex"),
    [
        ("3201010101900001", date(1990, 1, 1), Sex.MALE),
        ("3201014101900001", date(1990, 1, 1), Sex.FEMALE),
        ("1101017112050123", date(2005, 12, 31), Sex.FEMALE),
        ("9401012902000001", date(2000, 2, 29), Sex.MALE),  # leap day
        ("3174053105260001", date(2026, 5, 31), Sex.MALE),  # born this year
        ("3174050101270001", date(1927, 1, 1), Sex.MALE),  # 27 is in the future: 1927
    ],
)
def test_valid_nik_encodes_birth_date_and_sex(nik: str, birth: date, sex: Sex) -> None:
    info = parse_nik(nik, today=TODAY)
    assert (info.birth_date, info.sex) == (birth, sex)


@pytest.mark.parametrize(
    ("nik", "code"),
    [
        ("320101010190000", "nik_format"),  # 15 digits
        ("32010101019000011", "nik_format"),  # 17 digits
        ("32010101019O0001", "nik_format"),  # letter O
        ("1001010101900001", "nik_province"),  # below 11
        ("9501010101900001", "nik_province"),  # above 94
        ("2001010101900001", "nik_province"),  # not a province
        ("3201013202900001", "nik_birth_date"),  # 32 Feb
        ("3201017202900001", "nik_birth_date"),  # women: 72-40 = 32
        ("3201013002990001", "nik_birth_date"),  # 30 Feb 1999
        ("3201010113900001", "nik_birth_date"),  # month 13
        ("3201012902010001", "nik_birth_date"),  # 29 Feb 2001, not a leap year
        ("3201010101900000", "nik_serial"),
    ],
)
def test_invalid_nik_is_refused_with_a_code(nik: str, code: str) -> None:
    with pytest.raises(ValidationError) as exc:
        parse_nik(nik, today=TODAY)
    assert exc.value.code == code
    assert exc.value.field == "nik"


def test_nik_of_wrong_type_is_a_validation_error() -> None:
    with pytest.raises(ValidationError):
        parse_nik(3201010101900001, today=TODAY)


def test_mask_nik() -> None:
    assert mask_nik("3201010101900001") == "3201********0001"


@pytest.mark.parametrize(
    ("raw", "e164"),
    [
        ("081234567890", "+6281234567890"),
        ("0812-3456-7890", "+6281234567890"),
        ("+62 812 3456 7890", "+6281234567890"),
        ("6281234567890", "+6281234567890"),
        ("0856 1234 567", "+628561234567"),
    ],
)
def test_mobile_is_normalised_to_e164(raw: str, e164: str) -> None:
    assert normalise_mobile(raw) == e164


@pytest.mark.parametrize("raw", ["0212345678", "12345", "+1 415 555 0100", "0812", "", 812])
def test_non_indonesian_mobile_refused(raw: object) -> None:
    with pytest.raises(ValidationError) as exc:
        normalise_mobile(raw)
    assert exc.value.field == "mobile"


def test_email() -> None:
    assert normalise_email("Siti@Example.co.id") == "Siti@example.co.id"
    for bad in ("siti", "siti@", "@x.id", "a b@x.id", None):
        with pytest.raises(ValidationError):
            normalise_email(bad)
