"""Two-factor codes: TOTP (RFC 6238, as Google Authenticator does it) and recovery codes."""

from __future__ import annotations

import hmac
import secrets
from hashlib import sha256

import pyotp

TOTP_PERIOD_S = 30


def new_totp_secret() -> str:
    return pyotp.random_base32()


def totp_uri(secret: str, account_name: str, issuer: str = "Keyseal") -> str:
    """The ``otpauth://`` URI an authenticator app scans."""
    return pyotp.TOTP(secret).provisioning_uri(name=account_name, issuer_name=issuer)


def totp_step(secret: str, code: str, now_s: float, last_step: int | None,
              window: int = 1) -> int | None:
    """The time step ``code`` belongs to (within ±``window`` steps of now), provided it is
    later than ``last_step``, so that no code is accepted twice. None otherwise."""
    code = code.strip().replace(" ", "")
    if len(code) != 6 or not code.isdigit():
        return None
    totp = pyotp.TOTP(secret)
    current = int(now_s // TOTP_PERIOD_S)
    for step in range(current - window, current + window + 1):
        if last_step is not None and step <= last_step:
            continue
        if hmac.compare_digest(totp.at(step * TOTP_PERIOD_S), code):
            return step
    return None


def new_recovery_codes(count: int = 10) -> list[str]:
    """High-entropy one-time codes (60 bits each), so a plain SHA-256 suffices to store them."""
    alphabet = "abcdefghjkmnpqrstuvwxyz23456789"
    return ["-".join("".join(secrets.choice(alphabet) for _ in range(4)) for _ in range(3))
            for _ in range(count)]


def recovery_code_hash(code: str) -> str:
    return sha256(code.strip().lower().encode()).hexdigest()
