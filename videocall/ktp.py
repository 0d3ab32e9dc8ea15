"""What an OCR pass read on a KTP photo, turned into fields and compared with the registration.

Pure: the OCR adapter (``adapters/ktp_ocr.py``) hands in the text lines it read and the digit-only
read of the NIK line; this module repairs the usual confusions, applies the NIK rules of
``videocall/nik.py`` to what was read and compares it with the registered data. It decides nothing:
an unreadable card is a result (``unreadable``) and the officer checks by eye.
"""

from __future__ import annotations

import difflib
import re
from collections import Counter
from dataclasses import asdict, dataclass
from datetime import date
from typing import Any, Literal

from videocall.errors import ValidationError
from videocall.nik import NikInfo, Sex, parse_nik

NikCheck = Literal["match", "mismatch", "unreadable"]
Likeness = Literal["same", "close", "different", "unreadable"]

# Letters OCR takes for digits on the NIK line (the KTP font makes b/6, O/0, l/1, S/5, B/8 alike).
DIGIT_CONFUSIONS = str.maketrans(
    {
        "O": "0",
        "o": "0",
        "D": "0",
        "Q": "0",
        "U": "0",
        "l": "1",
        "I": "1",
        "i": "1",
        "|": "1",
        "!": "1",
        "L": "1",
        "J": "1",
        "Z": "2",
        "z": "2",
        "S": "5",
        "s": "5",
        "b": "6",
        "G": "6",
        "T": "7",
        "B": "8",
        "g": "9",
        "q": "9",
        "A": "4",
    }
)
NIK_LENGTH = 16

# The labels printed on a KTP, in the order they appear; the key is our field name.
LABELS: dict[str, tuple[str, ...]] = {
    "nik": ("nik",),
    "name": ("nama",),
    "birth": ("tempattgllahir", "tempattanggallahir", "tempattgllahlr"),
    "sex": ("jeniskelamin",),
    "address": ("alamat",),
    "rt_rw": ("rtrw",),
    "village": ("keldesa", "kelurahandesa"),
    "district": ("kecamatan",),
    "religion": ("agama",),
    "marital_status": ("statusperkawinan",),
    "occupation": ("pekerjaan",),
    "nationality": ("kewarganegaraan",),
    "valid_until": ("berlakuhingga",),
}
_DATE_RE = re.compile(r"(\d{1,2})\D{1,2}(\d{1,2})\D{1,2}(\d{4})")


@dataclass(frozen=True, slots=True)
class KtpFields:
    """The fields read from the card; ``None`` where nothing usable was read."""

    nik: str | None = None
    nik_valid: bool = False  # the read NIK passes the NIK rules (province, date, serial)
    name: str | None = None
    birth_place: str | None = None
    birth_date: date | None = None
    sex: Sex | None = None
    address: str | None = None
    province: str | None = None
    regency: str | None = None
    extra: tuple[tuple[str, str], ...] = ()  # rt_rw, village, district, ... as read

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["birth_date"] = self.birth_date.isoformat() if self.birth_date else None
        out["sex"] = self.sex.value if self.sex else None
        out["extra"] = dict(self.extra)
        return out


def _letters(text: str) -> str:
    return re.sub(r"[^a-z]", "", text.lower())


_LETTER_FOLDS = str.maketrans({"l": "i", "1": "i", "|": "i", "!": "i", "0": "o", "5": "s"})


def _fold(text: str) -> str:
    """Letters with OCR's look-alikes made equal (rn/m, l/i, 0/o), for fuzzy label matching."""
    return _letters(text.lower().replace("rn", "m").translate(_LETTER_FOLDS))


def _edit_distance(a: str, b: str) -> int:
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]


def similarity(a: str, b: str) -> float:
    """1 - edit distance / length, after folding OCR look-alikes: 1.0 is the same text."""
    fa, fb = _fold(a), _fold(b)
    if not fa and not fb:
        return 1.0
    return 1.0 - _edit_distance(fa, fb) / max(len(fa), len(fb))


def _label_of(head: str) -> str | None:
    """Which KTP label ``head`` (the text before the colon) is, tolerating OCR noise."""
    squeezed = _fold(head)
    if not squeezed:
        return None
    best, best_ratio = None, 0.0
    for field, spellings in LABELS.items():
        for spelling in spellings:
            ratio = similarity(squeezed, spelling)
            if ratio > best_ratio:
                best, best_ratio = field, ratio
    # Short labels (NIK, Nama) need a closer match than long ones.
    return best if best_ratio >= (0.8 if len(squeezed) <= 4 else 0.7) else None


def _split_line(line: str) -> tuple[str | None, str]:
    if ":" in line:
        head, _, value = line.partition(":")
        return _label_of(head), value.strip(" :.-")
    words = line.split()
    for n in (3, 2, 1):  # the colon may be lost: try the first words as the label
        if len(words) > n and (field := _label_of(" ".join(words[:n]))) is not None:
            return field, " ".join(words[n:]).strip(" :.-")
    return None, line.strip()


def nik_digits(raw: str) -> str:
    """The digits of a NIK read, letters that look like digits repaired, separators dropped."""
    return re.sub(r"\D", "", raw.translate(DIGIT_CONFUSIONS))


def nik_candidates(raw: str, *, today: date) -> list[NikInfo]:
    """Every 16-digit window of ``raw`` (after repair) that passes the NIK rules."""
    digits = nik_digits(raw)
    found: list[NikInfo] = []
    for start in range(max(0, len(digits) - NIK_LENGTH) + 1):
        window = digits[start : start + NIK_LENGTH]
        if len(window) != NIK_LENGTH:
            break
        try:
            found.append(parse_nik(window, today=today))
        except ValidationError:
            continue
    return found


def choose_nik(reads: list[str], *, today: date) -> tuple[str | None, bool]:
    """The NIK most reads agree on, preferring valid ones; ``(None, False)`` when none has 16
    digits. ``reads`` come best first (the digit-whitelisted line read before the full text)."""
    valid = [c.nik for raw in reads for c in nik_candidates(raw, today=today)]
    if valid:
        counts = Counter(valid)
        top = max(counts.values())
        return next(n for n in valid if counts[n] == top), True
    for raw in reads:
        digits = nik_digits(raw)
        if len(digits) == NIK_LENGTH:
            return digits, False
    return None, False


def parse_date(raw: str) -> date | None:
    match = _DATE_RE.search(raw.translate(DIGIT_CONFUSIONS))
    if not match:
        return None
    day, month, year = (int(g) for g in match.groups())
    try:
        return date(year, month, day)
    except ValueError:
        return None


def parse_sex(raw: str) -> Sex | None:
    letters = _letters(raw)
    if not letters:
        return None
    scores = {
        Sex.MALE: similarity(letters[:8], "lakilaki"),
        Sex.FEMALE: similarity(letters[:9], "perempuan"),
    }
    sex, score = max(scores.items(), key=lambda item: item[1])
    return sex if score >= 0.6 else None


def _clean_value(value: str) -> str | None:
    value = re.sub(r"\s+", " ", value).strip(" :.-_|")
    return value or None


def parse_ktp_text(lines: list[str], nik_line_reads: list[str], *, today: date) -> KtpFields:
    """Fields from the OCR'd text lines of a KTP and the digit-only reads of its NIK line."""
    values: dict[str, str] = {}
    province = regency = None
    nik_text_reads: list[str] = []
    for line in lines:
        upper = line.strip().upper()
        if province is None and upper.startswith("PROVINSI"):
            province = _clean_value(upper.removeprefix("PROVINSI"))
            continue
        if regency is None and upper.startswith(("KABUPATEN", "KOTA")):
            regency = _clean_value(upper)
            continue
        field, value = _split_line(line)
        if field == "nik":
            nik_text_reads.append(value)
        elif field == "sex":
            # "LAKI-LAKI  Gol. Darah : O" — the blood group shares the line.
            values.setdefault(field, re.split(r"gol", value, flags=re.IGNORECASE)[0])
        elif field is not None and value:
            values.setdefault(field, value)
    nik, nik_valid = choose_nik([*nik_line_reads, *nik_text_reads], today=today)
    place = birth = None
    if "birth" in values:
        place_part, _, date_part = values["birth"].rpartition(",")
        birth = parse_date(date_part or values["birth"])
        place = _clean_value(place_part) if place_part else None
    extras = tuple(
        (k, v) for k in LABELS if k not in _MAIN_FIELDS and (v := _clean_value(values.get(k, "")))
    )
    return KtpFields(
        nik=nik,
        nik_valid=nik_valid,
        name=_clean_value(values.get("name", "")),
        birth_place=place,
        birth_date=birth,
        sex=parse_sex(values.get("sex", "")),
        address=_clean_value(values.get("address", "")),
        province=province,
        regency=regency,
        extra=extras,
    )


_MAIN_FIELDS = {"nik", "name", "birth", "sex", "address"}


@dataclass(frozen=True, slots=True)
class Registered:
    """What the participant registered, to compare the card with."""

    nik: str
    full_name: str | None
    birth_date: date | None
    sex: Sex | None


@dataclass(frozen=True, slots=True)
class KtpComparison:
    nik: NikCheck
    nik_differing_digits: int | None  # how many of the 16 digits differ, when both are known
    name: Likeness
    name_similarity: float | None
    birth_date: Likeness
    sex: Likeness
    # The read NIK's encoded birth date and sex against the card's printed ones (the card's own
    # consistency, whatever was registered): "same", "different" or "unreadable".
    card_consistent: Likeness

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _normal_name(name: str) -> str:
    return " ".join(re.sub(r"[^A-Z ]", " ", name.upper()).split())


def compare_names(read: str | None, registered: str | None) -> tuple[Likeness, float | None]:
    """Tolerant: OCR drops or swaps a letter, people write names with or without punctuation."""
    if not read or not registered:
        return "unreadable", None
    a, b = _normal_name(read), _normal_name(registered)
    if not a:
        return "unreadable", None
    ratio = difflib.SequenceMatcher(None, a, b).ratio()
    # The same words in another order (family name first) count as the same name.
    if sorted(a.split()) == sorted(b.split()):
        ratio = 1.0
    if ratio >= 0.92:
        return "same", round(ratio, 3)
    return ("close" if ratio >= 0.75 else "different"), round(ratio, 3)


def compare_dates(read: date | None, registered: date | None) -> Likeness:
    """One differing digit in DDMMYYYY is "close" (a misread or a typo), more is "different"."""
    if read is None or registered is None:
        return "unreadable"
    if read == registered:
        return "same"
    a, b = read.strftime("%d%m%Y"), registered.strftime("%d%m%Y")
    return "close" if sum(x != y for x, y in zip(a, b, strict=True)) == 1 else "different"


def _card_consistency(fields: KtpFields, today: date) -> Likeness:
    if not fields.nik_valid or fields.nik is None:
        return "unreadable"
    info = parse_nik(fields.nik, today=today)
    checks = [
        (fields.birth_date, info.birth_date),
        (fields.sex, info.sex),
    ]
    known = [(a, b) for a, b in checks if a is not None]
    if not known:
        return "unreadable"
    return "same" if all(a == b for a, b in known) else "different"


def compare(fields: KtpFields, registered: Registered, *, today: date) -> KtpComparison:
    """Compare what was read with the registration. Only a valid 16-digit NIK read is compared:
    anything less is "unreadable" and the officer reads the card."""
    if fields.nik is None or not fields.nik_valid:
        nik: NikCheck = "unreadable"
        differing = None
    else:
        differing = sum(a != b for a, b in zip(fields.nik, registered.nik, strict=True))
        nik = "match" if differing == 0 else "mismatch"
    name, similarity = compare_names(fields.name, registered.full_name)
    if fields.sex is None or registered.sex is None:
        sex: Likeness = "unreadable"
    else:
        sex = "same" if fields.sex == registered.sex else "different"
    return KtpComparison(
        nik=nik,
        nik_differing_digits=differing,
        name=name,
        name_similarity=similarity,
        birth_date=compare_dates(fields.birth_date, registered.birth_date),
        sex=sex,
        card_consistent=_card_consistency(fields, today),
    )
