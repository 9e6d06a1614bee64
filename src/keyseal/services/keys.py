"""API-key actions: create, list, disable, enable, delete — and loading a key for the gate."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from keyseal import errors
from keyseal.crypto import hash_secret, new_api_secret
from keyseal.domain.ipallow import IpAllowlist
from keyseal.domain.keys import (
    MAX_KEYS_PER_ACCOUNT,
    ApiKey,
    Environment,
    KeyStatus,
    check_label,
    check_passphrase,
)
from keyseal.domain.permissions import Permission
from keyseal.services.accounts import account_by_email
from keyseal.services.runtime import Runtime
from keyseal.store import changes
from keyseal.store import keys as key_rows


@dataclass(frozen=True)
class CreatedKey:
    """The one moment the secret and passphrase exist outside the holder's hands."""

    key: ApiKey
    secret_key: str
    passphrase: str

    def to_okx(self) -> dict[str, str]:
        """The fields OKX returns on creation, with its names."""
        return {
            "apiKey": self.key.api_key, "secretKey": self.secret_key,
            "passphrase": self.passphrase, "label": self.key.label,
            "perm": self.key.permission.wire(), "ip": self.key.allowlist.wire(),
            "ts": str(self.key.created_ms),
        }

    def __repr__(self) -> str:
        return f"CreatedKey(api_key={self.key.api_key!r}, secret_key='***', passphrase='***')"


def create_key(rt: Runtime, email: str, *, label: str, passphrase: str, perm: str,
               ip: str | None = None, demo: bool = False) -> CreatedKey:
    """Create a key for the account; the secret is generated, sealed and returned once."""
    account = account_by_email(rt, email)
    check_label(label)
    check_passphrase(passphrase)
    permission = Permission.parse(perm)
    allowlist = IpAllowlist.parse(ip)
    api_key = str(uuid.uuid4())
    secret = new_api_secret()
    sealed = rt.keyring.seal(secret.encode(), api_key.encode())
    passphrase_hash = hash_secret(passphrase)
    now = rt.now_ms()
    key = ApiKey(api_key=api_key, account_id=account.id, label=label, permission=permission,
                 allowlist=allowlist,
                 environment=Environment.DEMO if demo else Environment.LIVE,
                 status=KeyStatus.ENABLED, created_ms=now)
    with rt.db.write() as conn:
        if key_rows.count_for_account(conn, account.id) >= MAX_KEYS_PER_ACCOUNT:
            raise errors.TOO_MANY_KEYS(MAX_KEYS_PER_ACCOUNT)
        if key_rows.label_taken(conn, account.id, label):
            raise errors.LABEL_TAKEN()
        key_rows.insert_key(conn, key, secret_sealed=sealed, passphrase_hash=passphrase_hash)
        changes.record(conn, "created", now, api_key=api_key, account_id=account.id)
    return CreatedKey(key, secret, passphrase)


def list_keys(rt: Runtime, email: str) -> list[ApiKey]:
    account = account_by_email(rt, email)
    with rt.db.read() as conn:
        return key_rows.for_account(conn, account.id)


def get_key(rt: Runtime, api_key: str) -> ApiKey:
    with rt.db.read() as conn:
        key = key_rows.get(conn, api_key)
    if key is None:
        raise errors.KEY_NOT_FOUND(detail=f"no key {api_key}")
    return key


def set_key_status(rt: Runtime, api_key: str, status: KeyStatus) -> ApiKey:
    """Disable or enable: a disabled key keeps its settings and is refused with 50100."""
    with rt.db.write() as conn:
        if not key_rows.set_status(conn, api_key, status):
            raise errors.KEY_NOT_FOUND(detail=f"no key {api_key}")
        changes.record(conn, status.value, rt.now_ms(), api_key=api_key)
        key = key_rows.get(conn, api_key)
    assert key is not None
    return key


def delete_key(rt: Runtime, api_key: str) -> ApiKey:
    with rt.db.write() as conn:
        key = key_rows.get(conn, api_key)
        if key is None or not key_rows.remove(conn, api_key):
            raise errors.KEY_NOT_FOUND(detail=f"no key {api_key}")
        changes.record(conn, "deleted", rt.now_ms(), api_key=api_key, account_id=key.account_id)
    return key


def load_credentials(rt: Runtime, api_key: str) -> tuple[key_rows.KeyCredentials, bytes] | None:
    """The key and its opened secret, for the gate's cache; None if there is no such key."""
    with rt.db.read() as conn:
        found = key_rows.credentials(conn, api_key)
    if found is None:
        return None
    return found, rt.keyring.open(found.secret_sealed, api_key.encode())


def reseal_all(rt: Runtime) -> int:
    """Re-seal every secret under the keyring's newest master key; returns how many changed."""
    current = rt.keyring.current_version
    changed = 0
    with rt.db.write() as conn:
        for api_key, sealed in key_rows.all_sealed_secrets(conn):
            if rt.keyring.version_of(sealed) == current:
                continue
            secret = rt.keyring.open(sealed, api_key.encode())
            key_rows.replace_sealed_secret(conn, api_key, rt.keyring.seal(secret, api_key.encode()))
            changed += 1
    return changed
