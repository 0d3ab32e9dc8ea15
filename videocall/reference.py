"""A record's short reference: what a person reads out to a call centre instead of a UUID.

Eight characters of Crockford base32 (digits and capitals without I, L, O, U): seven random
symbols (35 bits) and Crockford's check symbol (the value modulo 37). 37 is prime, so the check
catches every single wrong symbol and every swap of two neighbours. The random part is drawn
again when its check would be one of Crockford's five extra check symbols (``*~$=U``), so a
reference only ever holds the 32 symbols that are easy to say and to type. Shown as ``ABCD-EFGH``.

Pure: the randomness comes from ``secrets`` unless a source is passed in (tests).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable

from videocall.errors import ValidationError

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_CHECK_SYMBOLS = ALPHABET + "*~$=U"
_VALUE = {c: i for i, c in enumerate(ALPHABET)}
# What people type for what they read: Crockford's decoding aliases.
_ALIASES = str.maketrans({"I": "1", "L": "1", "O": "0"})
RANDOM_SYMBOLS = 7
LENGTH = RANDOM_SYMBOLS + 1


def _value(symbols: str) -> int:
    value = 0
    for c in symbols:
        value = value * 32 + _VALUE[c]
    return value


def check_symbol(symbols: str) -> str:
    """Crockford's check symbol of ``symbols`` (one of 37)."""
    return _CHECK_SYMBOLS[_value(symbols) % 37]


def new_reference(randbits: Callable[[int], int] = secrets.randbits) -> str:
    """A fresh reference; uniqueness is the store's job (it draws again on a collision)."""
    while True:
        number = randbits(5 * RANDOM_SYMBOLS)
        if number % 37 < 32:
            break
    body = "".join(ALPHABET[(number >> (5 * i)) & 31] for i in reversed(range(RANDOM_SYMBOLS)))
    return body + check_symbol(body)


def is_valid(reference: str) -> bool:
    return (
        len(reference) == LENGTH
        and all(c in _VALUE for c in reference)
        and check_symbol(reference[:-1]) == reference[-1]
    )


def parse_reference(raw: str) -> str:
    """A reference as a person typed or said it (any case, dashes, spaces, O for 0, I or L for 1)
    -> the stored form; ValidationError when it is not one (a typo the check symbol caught)."""
    text = "".join(raw.split()).replace("-", "").upper().translate(_ALIASES)
    if not is_valid(text):
        raise ValidationError(
            "not a valid reference (8 characters, e.g. 7K3M-9QX8)",
            code="reference_invalid",
            field="reference",
        )
    return text


def display(reference: str) -> str:
    """``ABCD-EFGH``: two groups of four are easier to read out and to compare."""
    return f"{reference[:4]}-{reference[4:]}" if len(reference) == LENGTH else reference
