"""KTP text parsing, NIK repair against the NIK rules, tolerant comparison (pure)."""

from __future__ import annotations

from datetime import date

import pytest

from videocall.ktp import (
    KtpFields,
    Registered,
    choose_nik,
    compare,
    compare_dates,
    compare_names,
    nik_candidates,
    nik_digits,
    parse_ktp_text,
    parse_sex,
)
from videocall.nik import Sex

TODAY = date(2026, 11, 25)
NIK = "3204095708900003"  # Jawa Barat, born 17-08-1990, female (57 = 17 + 40)

CARD_LINES = [
    "PROVINSI JAWA BARAT",
    "KABUPATEN BANDUNG",
    f"NIK : {NIK}",
    "Nama : SITI NURHALIZA",
    "Tempat/Tgl Lahir : BANDUNG, 17-08-1990",
    "Jenis Kelamin : PEREMPUAN Gol. Darah : O",
    "Alamat : JL. MERDEKA NO. 10",
    "RT/RW : 001/002",
    "Kel/Desa : CIBIRU",
    "Kecamatan : CILEUNYI",
    "Agama : ISLAM",
]
REGISTERED = Registered(
    nik=NIK, full_name="Siti Nurhaliza", birth_date=date(1990, 8, 17), sex=Sex.FEMALE
)


@pytest.mark.parametrize(
    ("raw", "digits"),
    [
        ("32O4O957O89OOOO3", "3204095708900003"),  # O for 0
        ("32o4095708900003", "3204095708900003"),
        ("3204095708900003", "3204095708900003"),
        ("32040957O89OOOO3", "3204095708900003"),
        ("3204O9S7O89OOOO3", "3204095708900003"),  # S for 5
        ("3204095708900003".replace("8", "B"), "3204095708900003"),  # B for 8
        ("32I4095708900003", "3214095708900003"),  # I for 1
        ("3l04095708900003", "3104095708900003"),  # l for 1
        ("320409570b900003", "3204095706900003"),  # b for 6
        (": 3204 0957 0890 0003.", "3204095708900003"),  # spaces and punctuation dropped
    ],
)
def test_nik_confusions_are_repaired(raw: str, digits: str) -> None:
    assert nik_digits(raw) == digits


def test_candidates_must_pass_the_nik_rules() -> None:
    assert [c.nik for c in nik_candidates(NIK, today=TODAY)] == [NIK]
    assert nik_candidates("9904095708900003", today=TODAY) == []  # no province 99
    assert nik_candidates("3204093208900003", today=TODAY) == []  # day 32: no such date
    assert nik_candidates("3204095708900000", today=TODAY) == []  # serial 0000
    # A stray digit read before the NIK: the valid 16-digit window is found.
    assert [c.nik for c in nik_candidates("1" + NIK, today=TODAY)] == [NIK]


def test_choose_nik_prefers_valid_reads_and_agreement() -> None:
    other = "3204095708900013"
    assert choose_nik([NIK, other, NIK], today=TODAY) == (NIK, True)
    assert choose_nik(["99" + NIK[2:], NIK], today=TODAY) == (NIK, True)
    # Sixteen digits that break the rules: returned, marked invalid.
    assert choose_nik(["9904095708900003"], today=TODAY) == ("9904095708900003", False)
    assert choose_nik(["3204 0957", "NIK"], today=TODAY) == (None, False)


def test_parse_card_lines() -> None:
    fields = parse_ktp_text(CARD_LINES, [NIK], today=TODAY)
    assert fields.nik == NIK and fields.nik_valid
    assert fields.name == "SITI NURHALIZA"
    assert fields.birth_place == "BANDUNG"
    assert fields.birth_date == date(1990, 8, 17)
    assert fields.sex is Sex.FEMALE
    assert fields.address == "JL. MERDEKA NO. 10"
    assert fields.province == "JAWA BARAT"
    assert fields.regency == "KABUPATEN BANDUNG"
    assert dict(fields.extra)["district"] == "CILEUNYI"


def test_parse_tolerates_ocr_noise() -> None:
    noisy = [
        "PROVINSI JAWA BARAT",
        "NlK : 32O4O957O89OOOO3",  # no digit-whitelisted read: the text line's NIK is repaired
        "Narna : SITI NURHALIZA",
        "Tempat/Tgl Lahlr BANDUNG, 17-O8-199O",  # colon lost
        "Jenis Kelarnin : PEREMPUAM",
    ]
    fields = parse_ktp_text(noisy, [], today=TODAY)
    assert fields.nik == NIK and fields.nik_valid
    assert fields.name == "SITI NURHALIZA"
    assert fields.birth_date == date(1990, 8, 17)
    assert fields.sex is Sex.FEMALE


def test_nothing_readable_is_a_result() -> None:
    fields = parse_ktp_text(["~~ ..", ""], [""], today=TODAY)
    assert fields == KtpFields()
    result = compare(fields, REGISTERED, today=TODAY)
    assert result.nik == "unreadable"
    assert result.name == "unreadable" and result.birth_date == "unreadable"


@pytest.mark.parametrize(
    ("raw", "sex"),
    [("LAKI-LAKI", Sex.MALE), ("LAKl-LAKI", Sex.MALE), ("PEREMPUAN", Sex.FEMALE), ("", None)],
)
def test_parse_sex(raw: str, sex: Sex | None) -> None:
    assert parse_sex(raw) is sex


def test_one_digit_nik_mismatch_is_reported() -> None:
    fields = parse_ktp_text(CARD_LINES, ["3204095708900013"], today=TODAY)
    result = compare(fields, REGISTERED, today=TODAY)
    # The text line still says NIK; the whitelisted read differs: the most agreed valid wins,
    # and on a tie the whitelisted read (listed first).
    assert fields.nik == "3204095708900013"
    assert result.nik == "mismatch" and result.nik_differing_digits == 1


def test_matching_card() -> None:
    result = compare(parse_ktp_text(CARD_LINES, [NIK], today=TODAY), REGISTERED, today=TODAY)
    assert result.nik == "match" and result.nik_differing_digits == 0
    assert (result.name, result.birth_date, result.sex) == ("same", "same", "same")
    assert result.card_consistent == "same"


def test_invalid_nik_read_is_not_called_a_mismatch() -> None:
    fields = parse_ktp_text([], ["9904095708900003"], today=TODAY)
    assert compare(fields, REGISTERED, today=TODAY).nik == "unreadable"


@pytest.mark.parametrize(
    ("read", "registered", "likeness"),
    [
        ("SITI NURHALIZA", "Siti Nurhaliza", "same"),
        ("SITI NURHALlZA", "Siti Nurhaliza", "same"),  # one misread letter
        ("NURHALIZA SITI", "Siti Nurhaliza", "same"),  # order
        ("SITI NURHALIZA", "Siti Nur Haliza, S.Pd.", "close"),
        ("BUDI SANTOSO", "Siti Nurhaliza", "different"),
        (None, "Siti Nurhaliza", "unreadable"),
    ],
)
def test_names_compared_tolerantly(read: str | None, registered: str, likeness: str) -> None:
    assert compare_names(read, registered)[0] == likeness


def test_dates_compared_tolerantly() -> None:
    assert compare_dates(date(1990, 8, 17), date(1990, 8, 17)) == "same"
    assert compare_dates(date(1990, 8, 11), date(1990, 8, 17)) == "close"
    assert compare_dates(date(1991, 9, 17), date(1990, 8, 17)) == "different"
    assert compare_dates(None, date(1990, 8, 17)) == "unreadable"


def test_card_inconsistent_with_its_own_nik() -> None:
    lines = [*CARD_LINES[:4], "Tempat/Tgl Lahir : BANDUNG, 17-08-1991", CARD_LINES[5]]
    result = compare(parse_ktp_text(lines, [NIK], today=TODAY), REGISTERED, today=TODAY)
    assert result.card_consistent == "different"
    assert result.birth_date == "close"
