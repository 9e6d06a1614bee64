"""An encrypted file of API keys: one AES-256-GCM blob under an argon2id-derived key.

File layout (JSON, so a person can see what it is)::

    {"format": "keyseal-vault", "version": 1,
     "kdf": {"name": "argon2id", "salt": b64, "time_cost": 3, "memory_cost": 65536,
             "parallelism": 1},
     "check": b64, "nonce": b64, "ciphertext": b64}

The header (everything but nonce and ciphertext) is the GCM associated data, so it cannot be
edited either. ``check`` is a hash of a second derived key: it tells a wrong password from a
damaged file, which GCM alone cannot. Writes go to a temporary file that is fsynced and then
renamed over the vault, after the previous version was copied to ``<vault>.bak``; a failed
write leaves the old vault untouched.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import os
import re
import secrets
import tempfile
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from argon2.low_level import Type, hash_secret_raw
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from keyseal.client.credentials import Credentials
from keyseal.client.masking import mask

FORMAT = "keyseal-vault"
VERSION = 1
ENV_VAULT = "KEYSEAL_VAULT"
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")
Environment = Literal["live", "demo"]


def default_vault_path() -> Path:
    """``$KEYSEAL_VAULT``, else ``~/.config/keyseal/vault`` (``$XDG_CONFIG_HOME`` honoured)."""
    if os.environ.get(ENV_VAULT):
        return Path(os.environ[ENV_VAULT]).expanduser()
    config = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(config) / "keyseal" / "vault"


def backup_path(path: Path) -> Path:
    return path.with_name(path.name + ".bak")


class VaultError(Exception):
    """A vault problem, worded as what happened and what to do about it."""


class WrongVaultPassword(VaultError):
    pass


class VaultDamaged(VaultError):
    pass


class VaultChanged(VaultError):
    pass


class EntryNotFound(VaultError, KeyError):
    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class EntryExists(VaultError):
    pass


@dataclass(frozen=True, slots=True)
class KdfParams:
    """argon2id cost; the defaults follow RFC 9106's second recommendation (64 MiB, t=3)."""

    time_cost: int = 3
    memory_cost: int = 65536  # KiB
    parallelism: int = 1

    def derive(self, password: str, salt: bytes) -> tuple[bytes, bytes]:
        """(encryption key, check value) from one 64-byte argon2id output."""
        raw = hash_secret_raw(password.encode("utf-8"), salt, time_cost=self.time_cost,
                              memory_cost=self.memory_cost, parallelism=self.parallelism,
                              hash_len=64, type=Type.ID)
        return raw[:32], hashlib.sha256(b"keyseal-vault-check" + raw[32:]).digest()


@dataclass(frozen=True, slots=True)
class VaultEntry:
    """One stored key. ``repr`` masks the API key and hides the secret and passphrase."""

    name: str
    api_key: str
    secret_key: str = field(repr=False)
    passphrase: str = field(repr=False)
    base_url: str = "https://www.okx.com"
    environment: Environment = "live"
    purpose: str = ""
    created: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))

    def __repr__(self) -> str:
        return (f"VaultEntry(name={self.name!r}, api_key={mask(self.api_key, 8, 4)!r}, "
                f"base_url={self.base_url!r}, environment={self.environment!r})")

    @property
    def demo(self) -> bool:
        return self.environment == "demo"

    @property
    def credentials(self) -> Credentials:
        return Credentials(self.api_key, self.secret_key, self.passphrase)

    def to_json(self) -> dict[str, str]:
        data = asdict(self)
        return {"name": data["name"], "apiKey": data["api_key"],
                "secretKey": data["secret_key"], "passphrase": data["passphrase"],
                "base_url": data["base_url"], "environment": data["environment"],
                "purpose": data["purpose"], "created": data["created"]}

    def to_masked_json(self) -> dict[str, str]:
        data = self.to_json()
        data.update(apiKey=mask(self.api_key, 8, 4), secretKey=mask(self.secret_key),
                    passphrase="****")
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> VaultEntry:
        environment: Environment = "demo" if data.get("environment") == "demo" else "live"
        return cls(name=str(data["name"]), api_key=str(data["apiKey"]),
                   secret_key=str(data["secretKey"]), passphrase=str(data["passphrase"]),
                   base_url=str(data.get("base_url") or "https://www.okx.com"),
                   environment=environment, purpose=str(data.get("purpose", "")),
                   created=str(data.get("created", "")))


def check_name(name: str) -> str:
    if not NAME_PATTERN.match(name):
        raise VaultError(f"{name!r} is not a usable entry name: use 1-64 letters, digits, "
                         "'.', '_', '-' or '@', starting with a letter or digit.")
    return name


class Vault:
    """The entries of one vault file, opened with its password; ``save()`` writes them back."""

    def __init__(self, path: Path, entries: dict[str, VaultEntry], *, kdf: KdfParams,
                 salt: bytes, key: bytes, check: bytes, loaded: bytes | None) -> None:
        self.path = path
        self._entries = entries
        self._kdf, self._salt, self._key, self._check = kdf, salt, key, check
        self._loaded = loaded

    def __repr__(self) -> str:
        return f"Vault(path={str(self.path)!r}, entries={len(self._entries)})"

    @classmethod
    def open(cls, path: Path, password: str, *, kdf: KdfParams | None = None) -> Vault:
        """Open ``path``, or start an empty vault there if the file does not exist yet.

        ``kdf`` sets the cost of a new vault; an existing one keeps the cost in its header.
        """
        path = Path(path)
        if not path.exists():
            params = kdf or KdfParams()
            salt = secrets.token_bytes(16)
            key, check = params.derive(password, salt)
            return cls(path, {}, kdf=params, salt=salt, key=key, check=check, loaded=None)
        blob = path.read_bytes()
        header, nonce, ciphertext = _parse(path, blob)
        params, salt = _kdf_of(path, header)
        key, check = params.derive(password, salt)
        if not hmac.compare_digest(check, _b64(path, header.get("check"))):
            raise WrongVaultPassword(
                f"Wrong password for the vault {path}. Nothing was changed. Try again, or "
                f"check KEYSEAL_VAULT_PASSWORD / the OS keyring entry if you use them.")
        try:
            plaintext = AESGCM(key).decrypt(nonce, ciphertext, _aad(header))
        except InvalidTag:
            raise VaultDamaged(_damaged(path, "its contents were modified (authentication "
                                              "failed although the password is right)")) from None
        try:
            entries = {e["name"]: VaultEntry.from_json(e) for e in json.loads(plaintext)["entries"]}
        except (ValueError, KeyError, TypeError):
            raise VaultDamaged(_damaged(path, "its decrypted contents are not vault entries")) \
                from None
        return cls(path, entries, kdf=params, salt=salt, key=key, check=check, loaded=blob)

    # -- entries ----------------------------------------------------------------------------

    def __iter__(self) -> Iterator[VaultEntry]:
        return iter(sorted(self._entries.values(), key=lambda e: e.name))

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def get(self, name: str) -> VaultEntry:
        try:
            return self._entries[name]
        except KeyError:
            raise EntryNotFound(f"No entry named {name!r} in {self.path}; "
                                "`keyseal vault list` shows the names.") from None

    def add(self, entry: VaultEntry) -> None:
        check_name(entry.name)
        if entry.name in self._entries:
            raise EntryExists(f"An entry named {entry.name!r} already exists; remove or rename "
                              "it first.")
        self._entries[entry.name] = entry

    def remove(self, name: str) -> VaultEntry:
        entry = self.get(name)
        del self._entries[name]
        return entry

    def rename(self, old: str, new: str) -> None:
        entry = self.get(old)
        check_name(new)
        if new in self._entries:
            raise EntryExists(f"An entry named {new!r} already exists.")
        del self._entries[old]
        self._entries[new] = VaultEntry(**{**_fields(entry), "name": new})

    # -- writing ----------------------------------------------------------------------------

    def save(self) -> None:
        """Encrypt and write atomically, keeping the previous file as ``<vault>.bak``.

        Refuses if the file changed since it was opened, so two writers cannot silently drop
        each other's entries.
        """
        current = self.path.read_bytes() if self.path.exists() else None
        if current != self._loaded:
            raise VaultChanged(f"The vault {self.path} changed since it was opened (another "
                               "keyseal process?). Nothing was written; run the command again.")
        header = {"format": FORMAT, "version": VERSION,
                  "kdf": {"name": "argon2id", "salt": _enc(self._salt),
                          "time_cost": self._kdf.time_cost,
                          "memory_cost": self._kdf.memory_cost,
                          "parallelism": self._kdf.parallelism},
                  "check": _enc(self._check)}
        plaintext = json.dumps({"entries": [e.to_json() for e in self]}).encode("utf-8")
        nonce = secrets.token_bytes(12)
        ciphertext = AESGCM(self._key).encrypt(nonce, plaintext, _aad(header))
        blob = json.dumps({**header, "nonce": _enc(nonce), "ciphertext": _enc(ciphertext)},
                          indent=1).encode("utf-8")
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        if current is not None:
            write_atomically(backup_path(self.path), current)
        write_atomically(self.path, blob)
        self._loaded = blob


def write_atomically(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` (mode 0600) so a crash leaves the old or the new file."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


def _fields(entry: VaultEntry) -> dict[str, Any]:
    return {name: getattr(entry, name) for name in VaultEntry.__dataclass_fields__}


def _damaged(path: Path, what: str) -> str:
    backup = backup_path(path)
    advice = (f"The previous version is at {backup}: check it with `keyseal vault list --vault "
              f"{backup}`, then copy it over {path}." if backup.exists()
              else "No previous version exists; restore the file from your backups.")
    return f"The vault {path} is damaged: {what}. Nothing was changed. {advice}"


def _parse(path: Path, blob: bytes) -> tuple[dict[str, Any], bytes, bytes]:
    try:
        document = json.loads(blob)
    except ValueError:
        document = None
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        what = ("it is truncated or not a keyseal vault" if blob
                else "it is empty (a write was cut short?)")
        raise VaultDamaged(_damaged(path, what))
    if document.get("version") != VERSION:
        raise VaultError(f"The vault {path} has format version {document.get('version')!r}; "
                         f"this keyseal reads version {VERSION}. Upgrade keyseal.")
    header = {k: document[k] for k in ("format", "version", "kdf", "check") if k in document}
    return header, _b64(path, document.get("nonce")), _b64(path, document.get("ciphertext"))


def _kdf_of(path: Path, header: dict[str, Any]) -> tuple[KdfParams, bytes]:
    kdf = header.get("kdf")
    if not isinstance(kdf, dict) or kdf.get("name") != "argon2id":
        raise VaultDamaged(_damaged(path, "its key-derivation header is unreadable"))
    try:
        params = KdfParams(int(kdf["time_cost"]), int(kdf["memory_cost"]),
                           int(kdf["parallelism"]))
    except (KeyError, TypeError, ValueError):
        raise VaultDamaged(_damaged(path, "its key-derivation header is unreadable")) from None
    return params, _b64(path, kdf.get("salt"))


def _aad(header: dict[str, Any]) -> bytes:
    return json.dumps(header, sort_keys=True, separators=(",", ":")).encode("utf-8")


def _enc(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def _b64(path: Path, value: Any) -> bytes:
    if not isinstance(value, str):
        raise VaultDamaged(_damaged(path, "a field is missing"))
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise VaultDamaged(_damaged(path, "a field is not valid base64")) from None
