"""Secrets at rest: AES-256-GCM sealing under versioned master keys, and the keyring file.

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
import stat
import struct
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

MASTER_KEY_ENV = "KEYSEAL_MASTER_KEY"
KEY_FILE = "master.key"
_HEADER = struct.Struct(">H12s")  # master-key version, GCM nonce
_FINGERPRINT_LABEL = b"keyseal-master-key-fingerprint"


class SealError(Exception):
    """A sealed value could not be opened: wrong master key, unknown version or tampering."""


class KeyFileExposed(Exception):
    """The key file can be read by the group or by others, so it is not used."""

    def __init__(self, path: Path) -> None:
        super().__init__(f"{path} is readable by other users")
        self.path = path


def fingerprint(key: bytes) -> str:
    """What the database records of a master key: an HMAC under it, never the key, so a
    process can tell whether it holds the keys a database was sealed with."""
    return hmac.new(key, _FINGERPRINT_LABEL, "sha256").hexdigest()


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

    def without(self, version: int) -> MasterKeyring:
        return MasterKeyring({v: k for v, k in self.keys.items() if v != version})

    def only(self, versions: set[int]) -> MasterKeyring:
        return MasterKeyring({v: k for v, k in self.keys.items() if v in versions})

    def fingerprints(self) -> dict[int, str]:
        return {version: fingerprint(key) for version, key in self.keys.items()}

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


def new_keyring() -> MasterKeyring:
    return MasterKeyring({1: secrets.token_bytes(32)})


def load_keyring(home: Path, environ: dict[str, str] | None = None) -> MasterKeyring | None:
    """The keyring from ``KEYSEAL_MASTER_KEY`` or ``HOME/master.key``; None when neither
    exists. A key file the group or others can read is refused (``KeyFileExposed``)."""
    env = os.environ if environ is None else environ
    if env.get(MASTER_KEY_ENV):
        return MasterKeyring.from_text(env[MASTER_KEY_ENV])
    path = home / KEY_FILE
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return None
    with os.fdopen(fd) as handle:
        if stat.S_IMODE(os.fstat(fd).st_mode) & 0o077:
            raise KeyFileExposed(path)
        try:
            return MasterKeyring.from_text(json.load(handle)["keys"])
        except (KeyError, TypeError, json.JSONDecodeError) as exc:
            raise ValueError(f"{path} is not a Keyseal key file") from exc


def create_key_file(home: Path, keyring: MasterKeyring) -> None:
    """Write a new key file, mode 0600; ``FileExistsError`` if there is one already, so a key
    file is never overwritten by a new keyring."""
    home.mkdir(parents=True, exist_ok=True, mode=0o700)
    _write_new(home / KEY_FILE, keyring)
    _fsync_dir(home)


def save_keyring(home: Path, keyring: MasterKeyring) -> Path:
    """Replace the key file atomically (a new 0600 file, fsynced, renamed over the old one,
    then the folder fsynced), so a crash leaves the old file or the new one, never half."""
    home.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = home / KEY_FILE
    tmp = home / f".{KEY_FILE}.{secrets.token_hex(6)}.tmp"
    try:
        _write_new(tmp, keyring)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    _fsync_dir(home)
    return path


def _write_new(path: Path, keyring: MasterKeyring) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump({"keys": keyring.to_text()}, handle)
        handle.flush()
        os.fsync(handle.fileno())


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
