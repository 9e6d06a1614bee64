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
class Rotation:
    """The last rotation of a key's secret (docs/decisions/0007): when, and what became of
    the previous secret, which verifies beside the new one until it has been silent for the
    silence setting (counted from the rotation when never used since) or until
    ``grace_until_ms``, whichever comes first."""

    rotated_ms: int
    #: the grace deadline while the previous secret is live; None once it has ended
    grace_until_ms: int | None
    old_last_used_ms: int | None = None
    old_last_used_ip: str | None = None
    #: when the previous secret stopped verifying (finished, silent or past its grace)
    ended_ms: int | None = None
    #: a new passphrase came with the new secret (the old secret keeps the old one)
    new_passphrase: bool = False

    @property
    def old_live(self) -> bool:
        """Whether the store still holds a previous secret (it may be due to retire)."""
        return self.grace_until_ms is not None

    def old_ends_ms(self, silence_ms: int) -> int | None:
        """When the previous secret stops verifying if it is not used again; None if ended."""
        if self.grace_until_ms is None:
            return None
        return old_secret_ends_ms(self.grace_until_ms, self.rotated_ms, self.old_last_used_ms,
                                  silence_ms)


def old_secret_ends_ms(grace_until_ms: int, rotated_ms: int, last_used_ms: int | None,
                       silence_ms: int) -> int:
    """The first of: ``silence_ms`` after the previous secret's last use (or the rotation,
    if unused since), and the grace deadline."""
    quiet_since = rotated_ms if last_used_ms is None else max(rotated_ms, last_used_ms)
    return min(grace_until_ms, quiet_since + silence_ms)


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
    #: the last rotation of its secret, if any
    rotation: Rotation | None = None

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


@dataclass(frozen=True)
class RotatedKey:
    """The one moment a rotated key's new secret (and new passphrase, if one was given)
    exists outside the holder's hands."""

    key: ApiKey
    secret_key: str
    passphrase: str | None
    #: when the previous secret stops verifying at the latest (None: it stopped now)
    old_until_ms: int | None

    def __repr__(self) -> str:
        return (f"RotatedKey(api_key={self.key.api_key!r}, secret_key='***', "
                f"passphrase={'***' if self.passphrase else None!r})")


#: the longest overlap a rotation may ask for: a previous secret is a second credential
MAX_ROTATION_GRACE_MS = 90 * 24 * 3_600_000
_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*([smhd]?)")
_UNIT_MS = {"s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000, "": 86_400_000}


def parse_grace(text: str) -> int:
    """A rotation's grace as milliseconds: ``7d``, ``36h``, ``90m``, ``600s`` or a number of
    days; ``0`` ends the previous secret at once. At most 90 days."""
    found = _DURATION.fullmatch(text.strip().lower())
    if found is None:
        raise errors.PARAM_ERROR("grace", detail=f"{text[:20]!r} is not a duration like 7d")
    ms = int(float(found.group(1)) * _UNIT_MS[found.group(2)])
    if ms > MAX_ROTATION_GRACE_MS:
        raise errors.PARAM_ERROR("grace", detail="at most 90 days")
    return ms


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
