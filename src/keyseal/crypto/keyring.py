"""Secrets at rest: AES-256-GCM sealing under versioned master keys, and the keyring file.

The server must open an API secret to verify HMACs, so secrets are sealed, not hashed. The
master keys live outside the database (environment or a 0600 key file), so a copy of the
database alone yields no usable credential. The newest master key seals; every version opens,
so keys can be rotated without downtime (the same idea as itsdangerous' key lists).
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import struct
from dataclasses import dataclass, field
from pathlib import Path

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
