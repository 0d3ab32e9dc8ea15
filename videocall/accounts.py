"""Officer and supervisor accounts: roles, password policy, argon2 hashes, log-in lock-out.

Command line (creates an account in the configured database), in ``adapters/accounts_cli.py``::

    python -m videocall.adapters.accounts_cli create --username budi --role officer --name "Budi"
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from videocall.errors import ValidationError

_hasher = PasswordHasher()
# A dummy hash to verify against when the user does not exist, so timing does not reveal it.
_DUMMY_HASH = _hasher.hash("not-a-real-password-0000")

MIN_PASSWORD_LENGTH = 10
COMMON_PASSWORDS = frozenset(
    {
        "password",
        "password1",
        "password123",
        "1234567890",
        "12345678910",
        "qwertyuiop",
        "123456789",
        "1q2w3e4r5t",
        "iloveyou123",
        "admin12345",
        "administrator",
        "passw0rd123",
        "qwerty12345",
        "abcdefghij",
        "abc1234567",
        "indonesia1",
        "indonesia123",
        "jakarta123",
        "bismillah123",
        "sayangkamu",
        "rahasia123",
        "bpjs123456",
        "bpjskesehatan",
        "1111111111",
        "0000000000",
        "1234512345",
        "qwerty123456",
        "welcome123",
        "letmein123",
        "superman123",
        "football123",
        "monkey12345",
        "dragon12345",
        "sunshine123",
        "princess123",
        "p@ssw0rd123",
    }
)


class Role(StrEnum):
    OFFICER = "officer"
    SUPERVISOR = "supervisor"


@dataclass(frozen=True, slots=True)
class Account:
    id: str
    username: str
    display_name: str
    role: Role
    password_hash: str
    disabled: bool
    failed_logins: int
    locked_until: datetime | None

    @property
    def actor(self) -> str:
        return f"{self.role.value}:{self.username}"

    def public(self) -> dict[str, str]:
        return {
            "id": self.id,
            "username": self.username,
            "display_name": self.display_name,
            "role": self.role.value,
        }


@dataclass(frozen=True, slots=True)
class LockoutPolicy:
    max_failures: int = 5
    lock_seconds: float = 15 * 60

    def locked(self, account: Account, now: datetime) -> bool:
        return account.locked_until is not None and account.locked_until > now

    def after_failure(self, failures: int, now: datetime) -> datetime | None:
        """When the account unlocks, if this failure locks it."""
        if failures >= self.max_failures:
            return now + timedelta(seconds=self.lock_seconds)
        return None


def check_password_policy(password: str, username: str = "") -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValidationError(
            f"the password must have at least {MIN_PASSWORD_LENGTH} characters",
            code="password_too_short",
            field="password",
        )
    lowered = password.lower()
    if lowered in COMMON_PASSWORDS or (username and username.lower() in lowered):
        raise ValidationError(
            "this password is too common or contains the user name",
            code="password_common",
            field="password",
        )


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False
