"""API-key actions: create, list, edit, disable, enable, delete, regenerate, expire — and
loading a key for the gate. Every rule lives here, so the CLI, the OKX endpoints and the
dashboard refuse the same things with the same codes."""

from __future__ import annotations

import contextlib
import re
import uuid
from dataclasses import dataclass, replace

from sqlalchemy import Connection
from sqlalchemy.exc import IntegrityError

from keyseal import errors
from keyseal.crypto import hash_secret, new_api_secret
from keyseal.domain.accounts import Account
from keyseal.domain.expiry import DAY_MS, ExpiryPolicy, ExpiryScope
from keyseal.domain.ipallow import IpAllowlist
from keyseal.domain.keys import (
    MAX_KEYS_PER_ACCOUNT,
    MAX_LABEL_LENGTH,
    ApiKey,
    Environment,
    KeyStatus,
    check_label,
    check_passphrase,
)
from keyseal.domain.permissions import Permission
from keyseal.services import audit
from keyseal.services.accounts import (
    account_by_email,
    account_by_id,
    check_second_factor,
    reseal_totp_seeds,
    sub_account,
)
from keyseal.services.audit import OPERATOR, SWEEPER, Actor
from keyseal.services.runtime import EXPIRY_POLICY, Runtime
from keyseal.store import accounts as account_rows
from keyseal.store import changes, meta
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


def _authorize_change(rt: Runtime, master: Account, actor: Actor, totp_code: str | None) -> None:
    """What any key creation or edit needs of the (master) account and the actor."""
    if master.restricted:
        raise errors.ACCOUNT_RESTRICTED()
    if actor.needs_2fa:
        check_second_factor(rt, master, totp_code)


def _master_of(rt: Runtime, account: Account) -> Account:
    return account if account.master_id is None else account_by_id(rt, account.master_id)


def create_key(rt: Runtime, email: str, *, label: str, passphrase: str, perm: str,
               ip: str | None = None, demo: bool = False, sub: str | None = None,
               sub_account_access: bool = False, actor: Actor = OPERATOR,
               totp_code: str | None = None) -> CreatedKey:
    """Create a key for the account (or for its sub-account ``sub``)."""
    master = account_by_email(rt, email)
    owner = master if sub is None else sub_account(rt, master, sub)
    return create_key_for(rt, owner, label=label, passphrase=passphrase, perm=perm, ip=ip,
                          demo=demo, sub_account_access=sub_account_access, actor=actor,
                          totp_code=totp_code)


def create_key_for(rt: Runtime, owner: Account, *, label: str, passphrase: str, perm: str,
                   ip: object = None, demo: bool = False, sub_account_access: bool = False,
                   actor: Actor = OPERATOR, totp_code: str | None = None) -> CreatedKey:
    master = _master_of(rt, owner)
    if master.kyc_level < rt.settings.min_kyc_for_keys:
        raise errors.KYC_REQUIRED(rt.settings.min_kyc_for_keys,
                                  detail=f"the account's level is {master.kyc_level}")
    _authorize_change(rt, master, actor, totp_code)
    check_label(label)
    check_passphrase(passphrase)
    permission = Permission.parse(perm)
    allowlist = IpAllowlist.parse(ip)
    if owner.is_sub and Permission.WITHDRAW in permission:
        raise errors.SUB_NO_WITHDRAW()
    if owner.is_sub and sub_account_access:
        raise errors.PARAM_ERROR("subAccountAccess",
                                 detail="only a master account's key can manage sub-accounts")
    environment = Environment.DEMO if demo else Environment.LIVE
    api_key = str(uuid.uuid4())
    secret = new_api_secret()
    now = rt.now_ms()
    key = ApiKey(api_key=api_key, account_id=owner.id, label=label, permission=permission,
                 allowlist=allowlist, environment=environment, status=KeyStatus.ENABLED,
                 created_ms=now, sub_account_access=sub_account_access,
                 expires_ms=rt.settings.expiry.expires_ms(permission, bool(allowlist),
                                                          environment, now))
    sealed = rt.keyring.seal(secret.encode(), api_key.encode())
    passphrase_hash = hash_secret(passphrase)
    try:
        with rt.db.write() as conn:
            _insert_new_key(rt, conn, key, sealed, passphrase_hash, actor)
    except IntegrityError:  # two creations raced for one label
        raise errors.LABEL_TAKEN() from None
    return CreatedKey(key, secret, passphrase)


def _insert_new_key(rt: Runtime, conn: Connection, key: ApiKey, sealed: bytes,
                    passphrase_hash: str, actor: Actor) -> None:
    owner_id, label = key.account_id, key.label
    account_rows.lock(conn, owner_id)  # the 50-key count and label check hold until commit
    if key_rows.count_for_account(conn, owner_id) >= MAX_KEYS_PER_ACCOUNT:
        raise errors.TOO_MANY_KEYS(MAX_KEYS_PER_ACCOUNT)
    if key_rows.label_taken(conn, owner_id, label):
        raise errors.LABEL_TAKEN()
    key_rows.insert_key(conn, key, secret_sealed=sealed, passphrase_hash=passphrase_hash)
    changes.record(conn, "created", key.created_ms, api_key=key.api_key, account_id=owner_id)
    audit.record(conn, rt, actor, "key_created", account_id=owner_id, api_key=key.api_key,
                 label=label, perm=key.permission.wire(), ip=key.allowlist.wire(),
                 environment=key.environment.value, sub_account_access=key.sub_account_access)


def list_keys(rt: Runtime, email: str, *, sub: str | None = None,
              stale_days: float | None = None) -> list[ApiKey]:
    """An account's keys; with ``stale_days``, only those unused for at least that long."""
    account = account_by_email(rt, email)
    if sub is not None:
        account = sub_account(rt, account, sub)
    return keys_of(rt, account, stale_days=stale_days)


def keys_of(rt: Runtime, account: Account, *, stale_days: float | None = None) -> list[ApiKey]:
    with rt.db.read() as conn:
        found = key_rows.for_account(conn, account.id)
    if stale_days is not None:
        cutoff = rt.now_ms() - int(stale_days * DAY_MS)
        found = [k for k in found if k.last_activity_ms <= cutoff]
    return found


def get_key(rt: Runtime, api_key: str) -> ApiKey:
    with rt.db.read() as conn:
        key = key_rows.get(conn, api_key)
    if key is None:
        raise errors.KEY_NOT_FOUND(detail=f"no key {api_key}")
    return key


def edit_key(rt: Runtime, api_key: str, *, label: object = None, ip: object = None,
             perm: str | None = None, passphrase: str | None = None,
             actor: Actor = OPERATOR, totp_code: str | None = None) -> ApiKey:
    """Change the label and/or the IP allow-list (``""`` unbinds every IP). Permissions and
    passphrase are immutable: a new key is the way to change them."""
    if perm is not None:
        raise errors.IMMUTABLE_FIELD("permissions")
    if passphrase is not None:
        raise errors.IMMUTABLE_FIELD("passphrase")
    key = get_key(rt, api_key)
    _authorize_change(rt, _master_of(rt, account_by_id(rt, key.account_id)), actor, totp_code)
    new_label = key.label if label is None else check_label(label)
    allowlist = key.allowlist if ip is None else IpAllowlist.parse(ip)
    expires = rt.settings.expiry.expires_ms(key.permission, bool(allowlist), key.environment,
                                            key.last_activity_ms)
    with rt.db.write() as conn:
        account_rows.lock(conn, key.account_id)
        if new_label != key.label and key_rows.label_taken(conn, key.account_id, new_label):
            raise errors.LABEL_TAKEN()
        if not key_rows.update_settings(conn, api_key, label=new_label, ips=allowlist.wire(),
                                        expires_ms=expires):
            raise errors.KEY_NOT_FOUND(detail=f"key {api_key} was deleted meanwhile")
        changes.record(conn, "edited", rt.now_ms(), api_key=api_key)
        changed = {}
        if new_label != key.label:
            changed["label"] = [key.label, new_label]
        if allowlist.wire() != key.allowlist.wire():
            changed["ip"] = [key.allowlist.wire(), allowlist.wire()]
        audit.record(conn, rt, actor, "key_edited", account_id=key.account_id, api_key=api_key,
                     **changed)
    return replace(key, label=new_label, allowlist=allowlist, expires_ms=expires)


def set_key_status(rt: Runtime, api_key: str, status: KeyStatus, *,
                   actor: Actor = OPERATOR) -> ApiKey:
    """Disable or enable: a disabled key keeps its settings and is refused with 50100."""
    key = get_key(rt, api_key)
    with rt.db.write() as conn:
        if not key_rows.set_status(conn, api_key, status):
            raise errors.KEY_NOT_FOUND(detail=f"no key {api_key}")
        changes.record(conn, status.value, rt.now_ms(), api_key=api_key)
        audit.record(conn, rt, actor, f"key_{status.value}", account_id=key.account_id,
                     api_key=api_key)
    return replace(key, status=status)


def delete_key(rt: Runtime, api_key: str, *, actor: Actor = OPERATOR,
               totp_code: str | None = None) -> ApiKey:
    """Delete permanently (callers show the last use and confirm first)."""
    key = get_key(rt, api_key)
    if actor.needs_2fa:
        check_second_factor(rt, _master_of(rt, account_by_id(rt, key.account_id)), totp_code)
    with rt.db.write() as conn:
        if not key_rows.remove(conn, api_key):
            raise errors.KEY_NOT_FOUND(detail=f"no key {api_key}")
        changes.record(conn, "deleted", rt.now_ms(), api_key=api_key, account_id=key.account_id)
        audit.record(conn, rt, actor, "key_deleted", account_id=key.account_id, api_key=api_key,
                     label=key.label, last_used_ms=key.last_used_ms,
                     last_used_ip=key.last_used_ip)
    return key


def used_recently(rt: Runtime, key: ApiKey, hours: float = 24) -> bool:
    return key.last_used_ms is not None and rt.now_ms() - key.last_used_ms < hours * 3_600_000


def regenerated_label(label: str, taken: set[str]) -> str:
    """``bot1`` → ``bot1v2`` → ``bot1v3``…, within 50 characters and unused in the account."""
    base = re.sub(r"v([2-9]|[1-9]\d+)$", "", label) or label  # our suffixes start at v2
    for n in range(2, 10_000):
        suffix = f"v{n}"
        candidate = base[:MAX_LABEL_LENGTH - len(suffix)] + suffix
        if candidate not in taken:
            return candidate
    raise errors.LABEL_TAKEN()


def regenerate_key(rt: Runtime, api_key: str, *, passphrase: str, disable_old: bool = False,
                   actor: Actor = OPERATOR, totp_code: str | None = None) -> CreatedKey:
    """A lost secret or passphrase cannot be recovered: make a new key with the same settings
    (a new label derived from the old one), and optionally disable the old one."""
    old = get_key(rt, api_key)
    owner = account_by_id(rt, old.account_id)
    taken = {k.label for k in keys_of(rt, owner)}
    created = create_key_for(
        rt, owner, label=regenerated_label(old.label, taken), passphrase=passphrase,
        perm=old.permission.wire(), ip=old.allowlist.wire(),
        demo=old.environment is Environment.DEMO, sub_account_access=old.sub_account_access,
        actor=actor, totp_code=totp_code)
    with rt.db.write() as conn:
        audit.record(conn, rt, actor, "key_regenerated", account_id=old.account_id,
                     api_key=api_key, new_api_key=created.key.api_key)
    if disable_old:  # deleted or swept meanwhile: it is gone, which is the aim
        with contextlib.suppress(errors.OkxError):
            set_key_status(rt, api_key, KeyStatus.DISABLED, actor=actor)
    return created


def sweep(rt: Runtime, *, as_of_ms: int | None = None, dry_run: bool = False,
          batch: int = 500) -> list[ApiKey]:
    """Delete keys idle past the inactivity rule. Reads only expired keys (an index range),
    so its cost grows with the keys it removes, not with all keys."""
    as_of = rt.now_ms() if as_of_ms is None else as_of_ms
    removed: list[ApiKey] = []
    while True:
        with rt.db.write() as conn:
            due = key_rows.expired(conn, as_of, limit=batch)
            if dry_run:
                return due
            for key in due:
                key_rows.remove(conn, key.api_key)
                changes.record(conn, "expired", rt.now_ms(), api_key=key.api_key,
                               account_id=key.account_id)
                audit.record(conn, rt, SWEEPER, "key_expired", account_id=key.account_id,
                             api_key=key.api_key, label=key.label,
                             last_activity_ms=key.last_activity_ms,
                             idle_days=rt.settings.expiry.idle_days)
        removed.extend(due)
        if len(due) < batch:
            return removed


def set_expiry_policy(rt: Runtime, policy: ExpiryPolicy, *, actor: Actor = OPERATOR) -> int:
    """Store the inactivity policy for every process and re-derive every key's expiry under
    it (one statement); returns how many keys were looked at."""
    with rt.db.write() as conn:
        meta.put(conn, EXPIRY_POLICY, policy.to_text())
        changes.record(conn, "policy", rt.now_ms())  # running servers reload it
        count = key_rows.recompute_expiry(conn, policy.idle_days * DAY_MS,
                                          policy.scope is ExpiryScope.TRADE_OR_WITHDRAW)
        audit.record(conn, rt, actor, "expiry_policy_set", idle_days=policy.idle_days,
                     scope=policy.scope.value)
    rt.settings.expiry = policy
    return count


def record_usage(rt: Runtime, usage: list[tuple[str, int, str]]) -> None:
    """Last-used time and IP of many keys in one statement (the gate batches them)."""
    with rt.db.write() as conn:
        key_rows.record_usage(conn, usage, rt.settings.expiry.idle_days * DAY_MS)


def load_credentials(rt: Runtime, api_key: str) -> tuple[key_rows.KeyCredentials, bytes] | None:
    """The key and its opened secret, for the gate's cache; None if there is no such key."""
    with rt.db.read() as conn:
        found = key_rows.credentials(conn, api_key)
    if found is None:
        return None
    return found, rt.open_sealed(found.secret_sealed, api_key.encode())


def reseal_all(rt: Runtime) -> int:
    """Re-seal every API secret and TOTP seed under the keyring's newest master key, in one
    transaction; returns how many changed. Older versions can be retired afterwards."""
    ring = rt.keyring
    changed = 0
    with rt.db.write() as conn:
        for api_key, sealed in key_rows.all_sealed_secrets(conn):
            if ring.version_of(sealed) != ring.current_version:
                context = api_key.encode()
                key_rows.replace_sealed_secret(conn, api_key,
                                               ring.seal(ring.open(sealed, context), context))
                changed += 1
        changed += reseal_totp_seeds(conn, ring)
    return changed
