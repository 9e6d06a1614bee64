"""An encrypted file of API keys: one AES-256-GCM blob under an argon2id-derived key.

File layout (JSON, so a person can see what it is)::

    {"format": "keyseal-vault", "version": 1,
     "kdf": {"name": "argon2id", "salt": b64, "time_cost": 3, "memory_cost": 65536,
             "parallelism": 1},
     "check": b64, "nonce": b64, "ciphertext": b64}

The header (everything but nonce and ciphertext) is the GCM associated data, so it cannot be
edited either. ``check`` is a hash of a second derived key: it tells a wrong password from a
damaged file, which GCM alone cannot. The KDF costs in the header are checked against fixed
bounds before anything is derived, so a damaged or hostile file cannot ask for 64 GiB.

Writes go to a temporary file that is fsynced and then renamed over the vault (and the
directory fsynced), after the previous version was copied to ``<vault>.bak``; a failed write
leaves the old vault untouched. A save holds the vault's write lock (``vault_lock``) while it
re-reads the file, replays this vault's changes onto what another writer saved meanwhile, and
replaces it, so concurrent writers take turns and none loses the other's entries.
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
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any, Literal

from argon2.low_level import Type, hash_secret_raw
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from keyseal.client import vault_lock
from keyseal.client.credentials import Credentials
from keyseal.client.errors import (
    EntryExists,
    EntryNotFound,
    VaultChanged,
    VaultDamaged,
    VaultError,
    VaultHeaderRefused,
    WrongVaultPassword,
)
from keyseal.client.masking import mask, mask_secret

__all__ = [
    "ENV_VAULT", "EntryExists", "EntryNotFound", "Environment", "KdfParams", "Vault",
    "VaultChanged", "VaultDamaged", "VaultEntry", "VaultError", "VaultHeaderRefused",
    "WrongVaultPassword", "backup_path", "check_name", "default_vault_path", "write_atomically",
]

FORMAT = "keyseal-vault"
VERSION = 1
ENV_VAULT = "KEYSEAL_VAULT"
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")
Environment = Literal["live", "demo"]
SALT_BYTES = 16
#: What a header may ask for. 2 GiB is RFC 9106's first recommendation, the most legitimate.
MAX_MEMORY_KIB = 2 * 1024 * 1024
MAX_TIME_COST = 10
MAX_PARALLELISM = 16
SALT_BYTES_ALLOWED = range(16, 65)


def default_vault_path() -> Path:
    """``$KEYSEAL_VAULT``, else ``~/.config/keyseal/vault`` (``$XDG_CONFIG_HOME`` honoured)."""
    if os.environ.get(ENV_VAULT):
        return Path(os.environ[ENV_VAULT]).expanduser()
    config = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(config) / "keyseal" / "vault"


def backup_path(path: Path) -> Path:
    return path.with_name(path.name + ".bak")


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

    def out_of_bounds(self, salt_bytes: int) -> str | None:
        """What is outside the costs keyseal accepts, or None; argon2 is never asked for more."""
        min_memory = 8 * max(self.parallelism, 1)  # argon2's own floor: 8 KiB per lane
        if not 1 <= self.time_cost <= MAX_TIME_COST:
            return f"time cost of {self.time_cost} (allowed: 1 to {MAX_TIME_COST})"
        if not 1 <= self.parallelism <= MAX_PARALLELISM:
            return f"parallelism of {self.parallelism} (allowed: 1 to {MAX_PARALLELISM})"
        if not min_memory <= self.memory_cost <= MAX_MEMORY_KIB:
            return (f"memory cost of {_kib(self.memory_cost)} (allowed: {_kib(min_memory)} to "
                    f"{_kib(MAX_MEMORY_KIB)})")
        if salt_bytes not in SALT_BYTES_ALLOWED:
            return (f"salt of {salt_bytes} bytes (allowed: {SALT_BYTES_ALLOWED.start} to "
                    f"{SALT_BYTES_ALLOWED.stop - 1})")
        return None


def _kib(amount: int) -> str:
    for unit, size in (("GiB", 1024 * 1024), ("MiB", 1024)):
        if amount >= size and amount % size == 0:
            return f"{amount // size} {unit}"
    return f"{amount} KiB"


@dataclass(frozen=True, slots=True)
class _Keys:
    """A vault's KDF header and what the password derives from it."""

    kdf: KdfParams
    salt: bytes
    key: bytes = field(repr=False)
    check: bytes

    @classmethod
    def derive(cls, password: str, kdf: KdfParams, salt: bytes) -> _Keys:
        key, check = kdf.derive(password, salt)
        return cls(kdf, salt, key, check)


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
        data.update(apiKey=mask(self.api_key, 8, 4), secretKey=mask_secret(self.secret_key),
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


Change = Callable[[dict[str, VaultEntry]], object]


class Vault:
    """The entries of one vault file, opened with its password; ``save()`` writes them back.

    Each change is applied at once and also remembered, so ``save()`` can replay the changes
    onto whatever another writer saved since this vault was opened.
    """

    def __init__(self, path: Path, entries: dict[str, VaultEntry], *, password: str,
                 keys: _Keys, loaded: bytes | None) -> None:
        self.path = path
        self._entries = entries
        self._password, self._keys = password, keys
        self._loaded = loaded
        self._changes: list[Change] = []

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
            problem = params.out_of_bounds(SALT_BYTES)
            if problem:
                raise VaultError(f"Refusing to create the vault {path} with a {problem}.")
            keys = _Keys.derive(password, params, secrets.token_bytes(SALT_BYTES))
            return cls(path, {}, password=password, keys=keys, loaded=None)
        blob = path.read_bytes()
        keys, entries = _decrypt(path, blob, password, known=None)
        return cls(path, entries, password=password, keys=keys, loaded=blob)

    # -- entries ----------------------------------------------------------------------------

    def __iter__(self) -> Iterator[VaultEntry]:
        return iter(sorted(self._entries.values(), key=lambda e: e.name))

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def get(self, name: str) -> VaultEntry:
        return _get(self.path, self._entries, name)

    def add(self, entry: VaultEntry) -> None:
        self._change(partial(_add, entry=entry))

    def remove(self, name: str) -> VaultEntry:
        entry = self.get(name)
        self._change(partial(_remove, self.path, name=name))
        return entry

    def rename(self, old: str, new: str) -> None:
        self._change(partial(_rename, self.path, old=old, new=new))

    def _change(self, change: Change) -> None:
        change(self._entries)
        self._changes.append(change)

    # -- writing ----------------------------------------------------------------------------

    def save(self) -> None:
        """Encrypt and write atomically, keeping the previous file as ``<vault>.bak``.

        Under the write lock, a file another writer saved meanwhile is read again and this
        vault's changes are replayed onto it; a change that no longer applies (an entry it
        removes is gone, a name it adds was taken) raises VaultChanged and writes nothing.
        """
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        with vault_lock.locked(self.path):
            current = self.path.read_bytes() if self.path.exists() else None
            if current != self._loaded:
                self._catch_up(current)
            blob = self._encrypt()
            if current is not None:
                write_atomically(backup_path(self.path), current)
            write_atomically(self.path, blob)
        self._loaded = blob
        self._changes.clear()

    def _catch_up(self, current: bytes | None) -> None:
        if current is None:
            raise VaultChanged(f"The vault {self.path} was removed since it was opened (by "
                               "another keyseal process?). Nothing was written.")
        keys, entries = _decrypt(self.path, current, self._password, known=self._keys)
        for change in self._changes:
            try:
                change(entries)
            except (EntryExists, EntryNotFound) as exc:
                raise VaultChanged(
                    f"The vault {self.path} was changed by another keyseal process since it "
                    f"was opened, and this change no longer fits: {exc} Nothing was written; "
                    "run the command again.") from None
        self._keys, self._entries = keys, entries

    def _encrypt(self) -> bytes:
        keys = self._keys
        header = {"format": FORMAT, "version": VERSION,
                  "kdf": {"name": "argon2id", "salt": _enc(keys.salt),
                          "time_cost": keys.kdf.time_cost,
                          "memory_cost": keys.kdf.memory_cost,
                          "parallelism": keys.kdf.parallelism},
                  "check": _enc(keys.check)}
        plaintext = json.dumps({"entries": [e.to_json() for e in self]}).encode("utf-8")
        nonce = secrets.token_bytes(12)
        ciphertext = AESGCM(keys.key).encrypt(nonce, plaintext, _aad(header))
        return json.dumps({**header, "nonce": _enc(nonce), "ciphertext": _enc(ciphertext)},
                          indent=1).encode("utf-8")


def _get(path: Path, entries: dict[str, VaultEntry], name: str) -> VaultEntry:
    try:
        return entries[name]
    except KeyError:
        raise EntryNotFound(f"No entry named {name!r} in {path}; "
                            "`keyseal vault list` shows the names.") from None


def _add(entries: dict[str, VaultEntry], *, entry: VaultEntry) -> None:
    check_name(entry.name)
    if entry.name in entries:
        raise EntryExists(f"An entry named {entry.name!r} already exists; remove or rename "
                          "it first.")
    entries[entry.name] = entry


def _remove(path: Path, entries: dict[str, VaultEntry], *, name: str) -> None:
    _get(path, entries, name)
    del entries[name]


def _rename(path: Path, entries: dict[str, VaultEntry], *, old: str, new: str) -> None:
    entry = _get(path, entries, old)
    check_name(new)
    if new in entries:
        raise EntryExists(f"An entry named {new!r} already exists.")
    del entries[old]
    entries[new] = VaultEntry(**{**_fields(entry), "name": new})


def _decrypt(path: Path, blob: bytes, password: str, *,
             known: _Keys | None) -> tuple[_Keys, dict[str, VaultEntry]]:
    """The keys and entries of a vault file; ``known`` keys are reused if the header matches."""
    header, nonce, ciphertext = _parse(path, blob)
    params, salt = _kdf_of(path, header)
    if known is not None and (known.kdf, known.salt) == (params, salt):
        keys = known
    else:
        keys = _Keys.derive(password, params, salt)
    if not hmac.compare_digest(keys.check, _b64(path, header.get("check"))):
        raise WrongVaultPassword(
            f"Wrong password for the vault {path}. Nothing was changed. Try again, or "
            f"check KEYSEAL_VAULT_PASSWORD / the OS keyring entry if you use them.")
    try:
        plaintext = AESGCM(keys.key).decrypt(nonce, ciphertext, _aad(header))
    except InvalidTag:
        raise VaultDamaged(_damaged(path, "its contents were modified (authentication "
                                          "failed although the password is right)")) from None
    try:
        entries = {e["name"]: VaultEntry.from_json(e) for e in json.loads(plaintext)["entries"]}
    except (ValueError, KeyError, TypeError):
        raise VaultDamaged(_damaged(path, "its decrypted contents are not vault entries")) \
            from None
    return keys, entries


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
    time_cost, memory_cost, parallelism = (
        kdf.get(name) for name in ("time_cost", "memory_cost", "parallelism"))
    if not (type(time_cost) is type(memory_cost) is type(parallelism) is int):  # no bool/str
        raise VaultDamaged(_damaged(path, "its key-derivation header is unreadable"))
    params, salt = KdfParams(time_cost, memory_cost, parallelism), _b64(path, kdf.get("salt"))
    problem = params.out_of_bounds(len(salt))
    if problem:
        raise VaultHeaderRefused(_damaged(
            path, f"its header asks for an argon2id {problem}, which keyseal never writes; "
                  "the file looks damaged or hostile, so no key was derived from it"))
    return params, salt


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
