"""Accounts: a master account, or a sub-account that belongs to one."""

from __future__ import annotations

import re
from dataclasses import dataclass

from keyseal import errors

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


def check_email(email: str) -> str:
    email = email.strip()
    if not _EMAIL.fullmatch(email):
        raise errors.PARAM_ERROR("email", detail=f"not an email address: {email!r}")
    return email.lower()


def check_kyc_level(level: int) -> int:
    if level not in (0, 1, 2, 3):
        raise errors.PARAM_ERROR("kycLv", detail="KYC level is 0, 1, 2 or 3")
    return level
