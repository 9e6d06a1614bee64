"""What key holders and operators present: argon2id hashes of passphrases and passwords, a
fast per-process re-check of a passphrase argon2 already accepted, and new API secrets."""

from __future__ import annotations

import hashlib
import hmac
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()


def hash_secret(value: str) -> str:
    """argon2id hash (salted, PHC string) of a passphrase or password."""
    return _hasher.hash(value)


def verify_hash(stored: str, candidate: str) -> bool:
    """Slow on purpose; call off the event loop."""
    try:
        return _hasher.verify(stored, candidate)
    except (VerificationError, InvalidHashError):
        return False


class FastVerifier:
    """Remembers, per process, a keyed digest of a passphrase that argon2 already accepted,
    so the slow hash runs once per key and process, not once per request."""

    def __init__(self) -> None:
        self._pepper = secrets.token_bytes(32)

    def digest(self, value: str) -> bytes:
        # keyed BLAKE2b (a MAC by design, RFC 7693): one C call, a third of an HMAC-SHA256's
        # cost, and this runs on every signed request
        return hashlib.blake2b(value.encode("utf-8", "surrogatepass"), key=self._pepper,
                               digest_size=32).digest()

    @staticmethod
    def same(a: bytes, b: bytes) -> bool:
        return hmac.compare_digest(a, b)


def new_api_secret() -> str:
    """32 upper-case hex characters, as OKX secrets look."""
    return secrets.token_hex(16).upper()


