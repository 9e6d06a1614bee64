"""Secrets at rest: AES-256-GCM sealing under versioned master keys, argon2id hashes.

The server must open an API secret to verify HMACs, so secrets are sealed, not hashed. The
master keys live outside the database (environment or a 0600 key file), so a copy of the
database alone yields no usable credential. The newest master key seals; every version opens,
so keys can be rotated without downtime (the same idea as itsdangerous' key lists).
"""

from __future__ import annotations

import base64
import hmac
import json
import os
import secrets
import struct
from dataclasses import dataclass, field
from hashlib import sha256
from pathlib import Path

import pyotp
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

MASTER_KEY_ENV = "KEYSEAL_MASTER_KEY"
_HEADER = struct.Struct(">H12s")  # master-key version, GCM nonce


class SealError(Exception):
    """A sealed value could not be opened: wrong master key, unknown version or tampering."""


@dataclass(frozen=True)
class MasterKeyring:
    """Master keys by version; the highest version seals."""

    keys: dict[int, bytes] = field(repr=False)

    def __post_init__(self) -> None:
        if not self.keys:
            raise ValueError("a keyring needs at least one master key")
        for version, key in self.keys.items():
            if len(key) != 32 or not 0 < version < 65536:
                raise ValueError(f"master key v{version} must be 32 bytes with version 1-65535")

    @property
    def current_version(self) -> int:
        return max(self.keys)

    def seal(self, plaintext: bytes, context: bytes) -> bytes:
        """Encrypt; ``context`` (e.g. the API key id) is bound as associated data."""
        version = self.current_version
        nonce = os.urandom(12)
        sealed = AESGCM(self.keys[version]).encrypt(nonce, plaintext, context)
        return _HEADER.pack(version, nonce) + sealed

    def open(self, blob: bytes, context: bytes) -> bytes:
        if len(blob) < _HEADER.size + 16:
            raise SealError("sealed value is truncated")
        version, nonce = _HEADER.unpack_from(blob)
        key = self.keys.get(version)
        if key is None:
            raise SealError(f"sealed under master key v{version}, which this keyring lacks")
        try:
            return AESGCM(key).decrypt(nonce, blob[_HEADER.size:], context)
        except InvalidTag:
            raise SealError("sealed value failed authentication") from None

    def version_of(self, blob: bytes) -> int:
        return int(_HEADER.unpack_from(blob)[0])

    def with_new_version(self) -> MasterKeyring:
        return MasterKeyring({**self.keys, self.current_version + 1: secrets.token_bytes(32)})

    # -- persistence -----------------------------------------------------------------
    def to_text(self) -> str:
        return ",".join(f"{v}:{base64.b64encode(k).decode()}" for v, k in sorted(self.keys.items()))

    @classmethod
    def from_text(cls, text: str) -> MasterKeyring:
        """``"1:<base64>,2:<base64>"``, the form of ``KEYSEAL_MASTER_KEY`` and the key file."""
        keys: dict[int, bytes] = {}
        try:
            for item in text.strip().split(","):
                version, _, encoded = item.strip().partition(":")
                keys[int(version)] = base64.b64decode(encoded, validate=True)
        except ValueError as exc:
            raise ValueError(
                "master keys must look like '1:<base64 of 32 bytes>[,2:...]'") from exc
        return cls(keys)


def load_keyring(home: Path, environ: dict[str, str] | None = None) -> MasterKeyring:
    """The keyring from ``KEYSEAL_MASTER_KEY`` or ``HOME/master.key`` (created 0600 if absent)."""
    env = os.environ if environ is None else environ
    if env.get(MASTER_KEY_ENV):
        return MasterKeyring.from_text(env[MASTER_KEY_ENV])
    path = home / "master.key"
    if path.exists():
        return MasterKeyring.from_text(json.loads(path.read_text())["keys"])
    keyring = MasterKeyring({1: secrets.token_bytes(32)})
    save_keyring(home, keyring)
    return keyring


def save_keyring(home: Path, keyring: MasterKeyring) -> Path:
    """Write the key file atomically with mode 0600."""
    home.mkdir(parents=True, exist_ok=True)
    path = home / "master.key"
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump({"keys": keyring.to_text()}, handle)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)
    os.chmod(path, 0o600)
    return path


# -- hashes ------------------------------------------------------------------------------
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
        return hmac.digest(self._pepper, value.encode("utf-8", "surrogatepass"), "sha256")

    @staticmethod
    def same(a: bytes, b: bytes) -> bool:
        return hmac.compare_digest(a, b)


def new_api_secret() -> str:
    """32 upper-case hex characters, as OKX secrets look."""
    return secrets.token_hex(16).upper()


# -- TOTP (RFC 6238, as Google Authenticator does it) -------------------------------------
TOTP_PERIOD_S = 30


def new_totp_secret() -> str:
    return pyotp.random_base32()


def totp_uri(secret: str, account_name: str, issuer: str = "Keyseal") -> str:
    """The ``otpauth://`` URI an authenticator app scans."""
    return pyotp.TOTP(secret).provisioning_uri(name=account_name, issuer_name=issuer)


def totp_qr_svg(uri: str) -> str:
    """The URI as a QR code, an SVG document (no imaging library needed)."""
    import qrcode
    import qrcode.image.svg

    image = qrcode.make(uri, image_factory=qrcode.image.svg.SvgPathImage)
    return image.to_string(encoding="unicode")  # type: ignore[no-any-return]


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
