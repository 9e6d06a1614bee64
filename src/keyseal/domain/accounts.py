"""Accounts: a master account, or a sub-account that belongs to one."""

from __future__ import annotations

import re
from dataclasses import dataclass

from keyseal import errors


class AccountExists(Exception):
    """An account with this email exists already."""


_EMAIL = re.compile(r"[^@\s]{1,64}@[^@\s]{1,189}\.[A-Za-z0-9-]{2,63}")


@dataclass(frozen=True, slots=True)
class Account:
    id: int
    uid: str
    email: str | None
    kyc_level: int
    restricted: bool
    master_id: int | None
    sub_name: str | None
    created_ms: int

    @property
    def is_sub(self) -> bool:
        return self.master_id is not None


@dataclass(frozen=True, slots=True)
class LoginPolicy:
    """Failed logins slow down, then lock: after ``free_failures`` each further try must
    wait ``base_delay_s`` doubling; at ``lock_after`` failures the email is locked."""

    free_failures: int = 3
    base_delay_s: float = 2.0
    lock_after: int = 10
    lock_s: float = 900.0

    def wait_after(self, failures: int) -> float:
        """Seconds that must pass after the last failure before the next try."""
        if failures >= self.lock_after:
            return self.lock_s
        if failures < self.free_failures:
            return 0.0
        return float(self.base_delay_s * 2 ** (failures - self.free_failures))


def check_email(email: str) -> str:
    email = email.strip()
    if not _EMAIL.fullmatch(email):
        raise errors.PARAM_ERROR("email", detail=f"not an email address: {email!r}")
    return email.lower()


_SUB_NAME = re.compile(r"[A-Za-z0-9]{6,20}")


def check_sub_name(name: str) -> str:
    """6–20 letters and digits, case sensitive, no spaces (OKX's sub-account names)."""
    if not _SUB_NAME.fullmatch(name or ""):
        raise errors.PARAM_ERROR(
            "subAcct", detail="a sub-account name is 6 to 20 letters and digits")
    return name


def check_kyc_level(level: int) -> int:
    if level not in (0, 1, 2, 3):
        raise errors.PARAM_ERROR("kycLv", detail="KYC level is 0, 1, 2 or 3")
    return level
