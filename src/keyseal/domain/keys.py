"""API keys: what one is, and the rules a new or edited key must satisfy."""

from __future__ import annotations

import enum
import re
import uuid
from dataclasses import dataclass

from keyseal import errors
from keyseal.domain.ipallow import IpAllowlist
from keyseal.domain.permissions import Permission

MAX_KEYS_PER_ACCOUNT = 50
MAX_LABEL_LENGTH = 50


class Environment(enum.StrEnum):
    LIVE = "live"
    DEMO = "demo"

    @staticmethod
    def from_header(value: str | None) -> Environment:
        """``x-simulated-trading: 1`` selects demo; absent, ``0`` or anything else is live."""
        return _DEMO if value is not None and value.strip() == "1" else _LIVE


_DEMO, _LIVE = Environment.DEMO, Environment.LIVE


class KeyStatus(enum.StrEnum):
    ENABLED = "enabled"
    DISABLED = "disabled"


@dataclass(frozen=True, slots=True)
class ApiKey:
    """A key as services and the gate see it; the secret stays sealed here."""

    api_key: str
    account_id: int
    label: str
    permission: Permission
    allowlist: IpAllowlist
    environment: Environment
    status: KeyStatus
    created_ms: int
    last_used_ms: int | None = None
    last_used_ip: str | None = None
    expires_ms: int | None = None
    sub_account_access: bool = False
    #: a 50113 says what the server hashed (demo keys always do; live keys when switched on)
    explain_signatures: bool = False

    @property
    def last_activity_ms(self) -> int:
        """What the inactivity rule counts from: the last use, or creation if never used."""
        return self.last_used_ms if self.last_used_ms is not None else self.created_ms


@dataclass(frozen=True)
class CreatedKey:
    """The one moment the secret and passphrase exist outside the holder's hands."""

    key: ApiKey
    secret_key: str
    passphrase: str

    def __repr__(self) -> str:
        return f"CreatedKey(api_key={self.key.api_key!r}, secret_key='***', passphrase='***')"


_LABEL = re.compile(rf"[A-Za-z0-9]{{1,{MAX_LABEL_LENGTH}}}")
_SPECIAL = re.compile(r"[^A-Za-z0-9]")


def check_label(label: object) -> str:
    """Up to 50 letters or digits (OKX's key note rule)."""
    if not isinstance(label, str) or not _LABEL.fullmatch(label):
        raise errors.LABEL_FORMAT(detail=f"got {str(label)[:60]!r}")
    return label


def check_passphrase(passphrase: object) -> str:
    """8–32 characters with a digit, an upper-case, a lower-case and a special character."""
    ok = (
        isinstance(passphrase, str)
        and 8 <= len(passphrase) <= 32
        and passphrase.isascii() and passphrase.isprintable()
        and any(c.isdigit() for c in passphrase)
        and any(c.isupper() for c in passphrase)
        and any(c.islower() for c in passphrase)
        and _SPECIAL.search(passphrase) is not None
        and passphrase == passphrase.strip()
    )
    if not ok:
        raise errors.PASSPHRASE_FORMAT(
            detail="8-32 characters with a digit, an upper-case letter, a lower-case letter "
                   "and a special character")
    assert isinstance(passphrase, str)
    return passphrase


def looks_like_api_key(value: str) -> bool:
    """OKX API keys are UUIDs; anything else cannot be a key and need not reach the store."""
    if len(value) != 36:
        return False
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True
