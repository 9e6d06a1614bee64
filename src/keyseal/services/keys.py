"""API-key use cases: create, list, edit, disable, enable, delete, regenerate, rotate, expire — and
loading a key for the gate. Every rule lives here, so the CLI, the OKX endpoints and the
dashboard refuse the same things with the same codes. Each use case is one transaction."""

from __future__ import annotations

import contextlib
import re
import uuid
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import NoReturn

from sqlalchemy.exc import IntegrityError

from keyseal import errors
from keyseal.crypto.passwords import hash_secret, new_api_secret, verify_hash
from keyseal.domain.accounts import Account
from keyseal.domain.actors import SWEEPER, Actor
from keyseal.domain.commands import (
    CreateKey,
    CreateSubKey,
    DeleteKey,
    DeleteSubKey,
    EditKey,
    EditSubKey,
    FinishRotation,
    ListSubKeys,
    RegenerateKey,
    RetireOldSecrets,
    RotateKey,
    SetExpiryPolicy,
    SetKeyStatus,
    SweepIdleKeys,
)
from keyseal.domain.expiry import DAY_MS, ExpiryScope
from keyseal.domain.ipallow import IpAllowlist
from keyseal.domain.keys import (
    MAX_KEYS_PER_ACCOUNT,
    MAX_LABEL_LENGTH,
    MAX_ROTATION_GRACE_MS,
    ApiKey,
    CreatedKey,
    Environment,
    KeyStatus,
    RotatedKey,
    check_label,
    check_passphrase,
    old_secret_ends_ms,
)
from keyseal.domain.permissions import Permission
from keyseal.gate.entry import KeyEntry, PreviousSecret
from keyseal.services import accounts as account_service
from keyseal.services.accounts import check_second_factor, second_factor_attempt
from keyseal.services.runtime import EXPIRY_POLICY, Runtime
from keyseal.services.unit_of_work import Work, unit_of_work
from keyseal.store import accounts as account_rows
from keyseal.store import keys as key_rows
from keyseal.store import meta


# -- who may change keys -------------------------------------------------------------------
def _owner_in_scope(work: Work, actor: Actor, account_id: int) -> tuple[Account, Account]:
    """The key owner's account and its master, provided ``actor`` may act for them (a
    dashboard user or an API key only for their own account and its sub-accounts). Keys
    out of scope answer as if they did not exist."""
    owner = account_service.by_id(work.conn, account_id)
    if not actor.may_act_for(owner.id, owner.master_id):
        raise errors.KEY_NOT_FOUND(detail=f"{actor} may not act for account {owner.id}")
    return owner, account_service.master_of(work.conn, owner)


def _account_in_scope(work: Work, actor: Actor, email: str) -> Account:
    """The account with this email, provided ``actor`` may act for it; to a scoped actor an
    unknown email and someone else's answer alike, so neither tells which emails exist."""
    try:
        account = account_service.by_email(work.conn, email)
    except errors.OkxError:
        if actor.account_id is None:
            raise
        account = None
    if account is None or not actor.may_act_for(account.id, account.master_id):
        raise errors.KEY_NOT_FOUND(detail=f"{actor} may not act for {email}")
    return account


def _key_in_scope(work: Work, actor: Actor, api_key: str) -> tuple[ApiKey, Account, Account]:
    """The key, its owner and the owner's master, as ``actor`` may see them: an API actor
    sees only keys of its own environment (a demo key cannot touch live keys)."""
    key = key_rows.get(work.conn, api_key)
    if key is None or (actor.environment is not None and key.environment is not actor.environment):
        raise errors.KEY_NOT_FOUND(detail=f"no key {api_key} for {actor}")
    owner, master = _owner_in_scope(work, actor, key.account_id)
    return key, owner, master


def _authorize_change(work: Work, master: Account, actor: Actor, totp_code: str | None) -> None:
    """What any key creation or edit needs of the (master) account and the actor."""
    if master.restricted:
        raise errors.ACCOUNT_RESTRICTED()
    if actor.needs_2fa:
        check_second_factor(work, master, totp_code)


def _second_factor_counted(rt: Runtime, actor: Actor, account_id: int | None
                           ) -> contextlib.AbstractContextManager[None]:
    """Second-factor attempts of a dashboard actor are throttled like passwords."""
    if not actor.needs_2fa or account_id is None:
        return contextlib.nullcontext()
    return second_factor_attempt(rt, account_service.account_by_id(rt, account_id))


# -- create --------------------------------------------------------------------------------
@dataclass(frozen=True)
class _NewKey:
    """A key about to be inserted, with its secret material prepared outside the transaction
    (argon2 is slow; a transaction should not wait for it)."""

    permission: Permission
    allowlist: IpAllowlist
    environment: Environment
    sub_account_access: bool
    secret: str = field(repr=False)
    passphrase: str = field(repr=False)
    passphrase_hash: str = field(repr=False)


def _allowlist(rt: Runtime, ip: object) -> IpAllowlist:
    return IpAllowlist.parse(ip, rt.settings.allowlist_rules)


def _prepare(rt: Runtime, *, passphrase: str, perm: str, ip: object, environment: Environment,
             sub_account_access: bool) -> _NewKey:
    check_passphrase(passphrase)
    return _NewKey(Permission.parse(perm), _allowlist(rt, ip), environment,
                   sub_account_access, new_api_secret(), passphrase, hash_secret(passphrase))


def create_key(rt: Runtime, cmd: CreateKey) -> CreatedKey:
    """Create a key for the account (or for its sub-account ``cmd.sub``)."""
    label = check_label(cmd.label)
    new = _prepare(rt, passphrase=cmd.passphrase, perm=cmd.perm, ip=cmd.ip,
                   environment=Environment.DEMO if cmd.demo else Environment.LIVE,
                   sub_account_access=cmd.sub_account_access)
    if cmd.actor.environment not in (None, new.environment):
        raise errors.KEY_NOT_FOUND(detail=f"{cmd.actor} may not create {new.environment} keys")
    with _second_factor_counted(rt, cmd.actor, cmd.actor.account_id), unit_of_work(rt) as work:
        master = _account_in_scope(work, cmd.actor, cmd.account)
        owner = master if cmd.sub is None else account_service.sub_of(work.conn, master, cmd.sub)
        _owner_in_scope(work, cmd.actor, owner.id)
        return _insert(work, owner, account_service.master_of(work.conn, owner), label, new,
                       cmd.actor, cmd.totp_code)


def _insert(work: Work, owner: Account, master: Account, label: str, new: _NewKey,
            actor: Actor, totp_code: str | None) -> CreatedKey:
    rt = work.rt
    if master.kyc_level < rt.settings.min_kyc_for_keys:
        raise errors.KYC_REQUIRED(rt.settings.min_kyc_for_keys,
                                  detail=f"the account's level is {master.kyc_level}")
    _authorize_change(work, master, actor, totp_code)
    if owner.is_sub and Permission.WITHDRAW in new.permission:
        raise errors.SUB_NO_WITHDRAW()
    if owner.is_sub and new.sub_account_access:
        raise errors.PARAM_ERROR("subAccountAccess",
                                 detail="only a master account's key can manage sub-accounts")
    api_key = str(uuid.uuid4())
    now = rt.now_ms()
    key = ApiKey(api_key=api_key, account_id=owner.id, label=label,
                 permission=new.permission, allowlist=new.allowlist,
                 environment=new.environment, status=KeyStatus.ENABLED, created_ms=now,
                 sub_account_access=new.sub_account_access,
                 expires_ms=rt.settings.expiry.expires_ms(new.permission, new.allowlist.bound,
                                                          new.environment, now))
    conn = work.conn
    account_rows.lock(conn, owner.id)  # the 50-key count and label check hold until commit
    if key_rows.count_for_account(conn, owner.id) >= MAX_KEYS_PER_ACCOUNT:
        raise errors.TOO_MANY_KEYS(MAX_KEYS_PER_ACCOUNT)
    if key_rows.label_taken(conn, owner.id, label):
        raise errors.LABEL_TAKEN()
    sealed = rt.keyring.seal(new.secret.encode(), api_key.encode())
    try:
        with conn.begin_nested():  # two creations raced for one label
            key_rows.insert_key(conn, key, secret_sealed=sealed,
                                passphrase_hash=new.passphrase_hash)
    except IntegrityError:
        raise errors.LABEL_TAKEN() from None
    work.changed("created", api_key=api_key, account_id=owner.id)
    work.audit(actor, "key_created", account_id=owner.id, api_key=api_key, label=label,
               perm=key.permission.wire(), ip=key.allowlist.wire(),
               environment=key.environment.value, sub_account_access=key.sub_account_access)
    return CreatedKey(key, new.secret, new.passphrase)


def create_sub_key(rt: Runtime, cmd: CreateSubKey) -> tuple[Account, CreatedKey]:
    """A master key creates a key for one of its sub-accounts, in its own environment."""
    environment = cmd.actor.environment or Environment.LIVE
    label = check_label(cmd.label)
    new = _prepare(rt, passphrase=cmd.passphrase, perm=cmd.perm, ip=cmd.ip,
                   environment=environment, sub_account_access=False)
    with unit_of_work(rt) as work:
        work.authorize_key(cmd.actor, Permission.TRADE, manages_subs=True, needs_ip_binding=True)
        master = account_service.acting_master(work.conn, cmd.actor)
        sub = account_service.sub_of(work.conn, master, cmd.sub)
        return sub, _insert(work, sub, master, label, new, cmd.actor, None)


# -- read ----------------------------------------------------------------------------------
def list_keys(rt: Runtime, email: str, *, sub: str | None = None,
              stale_days: float | None = None) -> list[ApiKey]:
    """An account's keys; with ``stale_days``, only those unused for at least that long."""
    with rt.db.read() as conn:
        account = account_service.by_email(conn, email)
        if sub is not None:
            account = account_service.sub_of(conn, account, sub)
        found = key_rows.for_account(conn, account.id)
    if stale_days is not None:
        cutoff = rt.now_ms() - int(stale_days * DAY_MS)
        found = [k for k in found if k.last_activity_ms <= cutoff]
    return found


def list_sub_keys(rt: Runtime, query: ListSubKeys) -> list[ApiKey]:
    """A sub-account's keys in the calling master key's environment."""
    with rt.db.read() as conn:
        master = account_service.acting_master(conn, query.actor)
        sub = account_service.sub_of(conn, master, query.sub)
        found = [k for k in key_rows.for_account(conn, sub.id)
                 if k.environment is query.actor.environment]
    if query.api_key:
        found = [k for k in found if k.api_key == query.api_key]
        if not found:
            raise errors.KEY_NOT_FOUND()
    return found


def get_key(rt: Runtime, api_key: str) -> ApiKey:
    with rt.db.read() as conn:
        key = key_rows.get(conn, api_key)
    if key is None:
        raise errors.KEY_NOT_FOUND(detail=f"no key {api_key}")
    return key


# -- change --------------------------------------------------------------------------------
def edit_key(rt: Runtime, cmd: EditKey) -> ApiKey:
    """Change the label and/or the IP allow-list (``""`` unbinds every IP). Permissions and
    passphrase are immutable: a new key is the way to change them."""
    if cmd.perm is not None:
        raise errors.IMMUTABLE_FIELD("permissions")
    if cmd.passphrase is not None:
        raise errors.IMMUTABLE_FIELD("passphrase")
    new_label = None if cmd.label is None else check_label(cmd.label)
    allowlist = None if cmd.ip is None else _allowlist(rt, cmd.ip)
    with _second_factor_counted(rt, cmd.actor, cmd.actor.account_id), unit_of_work(rt) as work:
        key, _, master = _key_in_scope(work, cmd.actor, cmd.api_key)
        _authorize_change(work, master, cmd.actor, cmd.totp_code)
        if cmd.explain_signatures is None or new_label is not None or allowlist is not None:
            key = _apply_edit(work, key, cmd.actor, new_label, allowlist)
        if cmd.explain_signatures is not None:
            key = _set_explain_signatures(work, key, cmd.actor, cmd.explain_signatures)
        return key


def _set_explain_signatures(work: Work, key: ApiKey, actor: Actor, on: bool) -> ApiKey:
    """Whether a 50113 tells this key's caller what the server hashed (never the secret)."""
    if on == key.explain_signatures:
        return key
    if not key_rows.set_explain_signatures(work.conn, key.api_key, on):
        raise errors.KEY_NOT_FOUND(detail=f"key {key.api_key} was deleted meanwhile")
    work.changed("edited", api_key=key.api_key)
    work.audit(actor, "key_edited", account_id=key.account_id, api_key=key.api_key,
               explain_signatures=[key.explain_signatures, on])
    return replace(key, explain_signatures=on)


def edit_sub_key(rt: Runtime, cmd: EditSubKey) -> tuple[Account, ApiKey]:
    """A master key edits a key of one of its sub-accounts (same environment only). A
    ``perm`` other than the key's own is refused: permissions are immutable."""
    new_label = None if cmd.label is None else check_label(cmd.label)
    allowlist = None if cmd.ip is None else _allowlist(rt, cmd.ip)
    with unit_of_work(rt) as work:
        work.authorize_key(cmd.actor, Permission.TRADE, manages_subs=True, needs_ip_binding=True)
        sub, key = _sub_key_in_scope(work, cmd.actor, cmd.sub, cmd.api_key)
        if cmd.perm is not None and Permission.parse(cmd.perm) != key.permission:
            raise errors.IMMUTABLE_FIELD("permissions")
        _authorize_change(work, account_service.master_of(work.conn, sub), cmd.actor, None)
        return sub, _apply_edit(work, key, cmd.actor, new_label, allowlist)


def _sub_key_in_scope(work: Work, actor: Actor, sub_name: str, api_key: str
                      ) -> tuple[Account, ApiKey]:
    """The key ``api_key`` of the acting master's sub-account ``sub_name``, in the actor's
    environment; any other key answers 59506, as if it did not exist."""
    master = account_service.acting_master(work.conn, actor)
    sub = account_service.sub_of(work.conn, master, sub_name)
    if not api_key:
        raise errors.PARAM_EMPTY("apiKey")
    key = key_rows.get(work.conn, api_key)
    if key is None or key.account_id != sub.id or key.environment is not actor.environment:
        raise errors.KEY_NOT_FOUND(detail=f"{actor}: no key {api_key} of {sub_name} here")
    return sub, key


def _apply_edit(work: Work, key: ApiKey, actor: Actor, label: str | None,
                allowlist: IpAllowlist | None) -> ApiKey:
    conn, rt = work.conn, work.rt
    new_label = key.label if label is None else label
    new_list = key.allowlist if allowlist is None else allowlist
    expires = rt.settings.expiry.expires_ms(key.permission, new_list.bound, key.environment,
                                            key.last_activity_ms)
    account_rows.lock(conn, key.account_id)
    if new_label != key.label and key_rows.label_taken(conn, key.account_id, new_label):
        raise errors.LABEL_TAKEN()
    if not key_rows.update_settings(conn, key.api_key, label=new_label, ips=new_list.wire(),
                                    expires_ms=expires):
        raise errors.KEY_NOT_FOUND(detail=f"key {key.api_key} was deleted meanwhile")
    work.changed("edited", api_key=key.api_key)
    changed = {}
    if new_label != key.label:
        changed["label"] = [key.label, new_label]
    if new_list.wire() != key.allowlist.wire():
        changed["ip"] = [key.allowlist.wire(), new_list.wire()]
    work.audit(actor, "key_edited", account_id=key.account_id, api_key=key.api_key, **changed)
    return replace(key, label=new_label, allowlist=new_list, expires_ms=expires)


def set_key_status(rt: Runtime, cmd: SetKeyStatus) -> ApiKey:
    """Disable or enable: a disabled key keeps its settings and is refused with 50100."""
    with _second_factor_counted(rt, cmd.actor, cmd.actor.account_id), unit_of_work(rt) as work:
        key, _, master = _key_in_scope(work, cmd.actor, cmd.api_key)
        if cmd.actor.needs_2fa:
            check_second_factor(work, master, cmd.totp_code)
        return _set_status(work, key, cmd.status, cmd.actor)


def _set_status(work: Work, key: ApiKey, status: KeyStatus, actor: Actor) -> ApiKey:
    if not key_rows.set_status(work.conn, key.api_key, status):
        raise errors.KEY_NOT_FOUND(detail=f"no key {key.api_key}")
    work.changed(status.value, api_key=key.api_key)
    work.audit(actor, f"key_{status.value}", account_id=key.account_id, api_key=key.api_key)
    return replace(key, status=status)


def delete_key(rt: Runtime, cmd: DeleteKey) -> ApiKey:
    """Delete permanently (callers show the last use and confirm first)."""
    with _second_factor_counted(rt, cmd.actor, cmd.actor.account_id), unit_of_work(rt) as work:
        key, _, master = _key_in_scope(work, cmd.actor, cmd.api_key)
        if cmd.actor.needs_2fa:
            check_second_factor(work, master, cmd.totp_code)
        return _delete(work, key, cmd.actor)


def delete_sub_key(rt: Runtime, cmd: DeleteSubKey) -> Account:
    """A master key deletes a key of one of its sub-accounts (same environment only)."""
    with unit_of_work(rt) as work:
        work.authorize_key(cmd.actor, Permission.TRADE, manages_subs=True, needs_ip_binding=True)
        sub, key = _sub_key_in_scope(work, cmd.actor, cmd.sub, cmd.api_key)
        _delete(work, key, cmd.actor)
    return sub


def _delete(work: Work, key: ApiKey, actor: Actor) -> ApiKey:
    if not key_rows.remove(work.conn, key.api_key):
        raise errors.KEY_NOT_FOUND(detail=f"no key {key.api_key}")
    work.changed("deleted", api_key=key.api_key, account_id=key.account_id)
    work.audit(actor, "key_deleted", account_id=key.account_id, api_key=key.api_key,
               label=key.label, last_used_ms=key.last_used_ms, last_used_ip=key.last_used_ip)
    return key


def used_recently(rt: Runtime, key: ApiKey, hours: float = 24) -> bool:
    return key.last_used_ms is not None and rt.now_ms() - key.last_used_ms < hours * 3_600_000


def _gone(api_key: str) -> NoReturn:
    raise errors.KEY_NOT_FOUND(detail=f"key {api_key} was deleted meanwhile")


def regenerated_label(label: str, taken: set[str]) -> str:
    """``bot1`` → ``bot1v2`` → ``bot1v3``…, within 50 characters and unused in the account."""
    base = re.sub(r"v([2-9]|[1-9]\d+)$", "", label) or label  # our suffixes start at v2
    for n in range(2, 10_000):
        suffix = f"v{n}"
        candidate = base[:MAX_LABEL_LENGTH - len(suffix)] + suffix
        if candidate not in taken:
            return candidate
    raise errors.LABEL_TAKEN()


def regenerate_key(rt: Runtime, cmd: RegenerateKey) -> CreatedKey:
    """A lost secret or passphrase cannot be recovered: make a new key with the same settings
    (a new label derived from the old one), and optionally disable the old one — all in one
    transaction."""
    secrets = _prepare(rt, passphrase=cmd.passphrase, perm="read_only", ip=None,
                       environment=Environment.LIVE, sub_account_access=False)
    with _second_factor_counted(rt, cmd.actor, cmd.actor.account_id), unit_of_work(rt) as work:
        old, owner, master = _key_in_scope(work, cmd.actor, cmd.api_key)
        account_rows.lock(work.conn, owner.id)  # an edit of the old key waits, or is seen
        old = key_rows.get(work.conn, cmd.api_key) or _gone(cmd.api_key)
        new = replace(secrets, permission=old.permission,  # a list saved before the rules
                      allowlist=_allowlist(rt, old.allowlist.wire()),  # tightened is refused
                      environment=old.environment, sub_account_access=old.sub_account_access)
        taken = {k.label for k in key_rows.for_account(work.conn, owner.id)}
        created = _insert(work, owner, master, regenerated_label(old.label, taken), new,
                          cmd.actor, cmd.totp_code)
        work.audit(cmd.actor, "key_regenerated", account_id=old.account_id,
                   api_key=old.api_key, new_api_key=created.key.api_key)
        if cmd.disable_old:
            _set_status(work, old, KeyStatus.DISABLED, cmd.actor)
    return created


# -- rotation under the same key id (docs/decisions/0007) ---------------------------------
def rotate_key(rt: Runtime, cmd: RotateKey) -> RotatedKey:
    """A new secret (and, if given, passphrase) for the same key id: limits, usage and the
    audit trail stay the key's. The current secret becomes the previous one, moved as it is
    sealed (under the key id as associated data), and verifies beside the new one until it
    has been silent for ``rotation_silence_s`` or the grace deadline passes. A previous
    secret still in its overlap is replaced only with ``force``."""
    grace_ms = rt.settings.rotation_grace_s * 1000 if cmd.grace_ms is None else cmd.grace_ms
    if not 0 <= grace_ms <= MAX_ROTATION_GRACE_MS:
        raise errors.PARAM_ERROR("grace", detail="0 to 90 days")
    passphrase_hash = None
    if cmd.new_passphrase is not None:  # argon2 outside the transaction
        passphrase_hash = hash_secret(check_passphrase(cmd.new_passphrase))
    secret = new_api_secret()
    with _second_factor_counted(rt, cmd.actor, cmd.actor.account_id), unit_of_work(rt) as work:
        key, owner, master = _key_in_scope(work, cmd.actor, cmd.api_key)
        _authorize_change(work, master, cmd.actor, cmd.totp_code)
        account_rows.lock(work.conn, owner.id)  # two rotations of one key queue here
        key = key_rows.get(work.conn, cmd.api_key) or _gone(cmd.api_key)
        if key.status is not KeyStatus.ENABLED:
            raise errors.ROTATE_DISABLED_KEY(detail=f"key {key.api_key} is {key.status}")
        now = rt.now_ms()
        replaced = key.rotation is not None and key.rotation.old_live
        ends = old_secret_ends_at(rt, key)  # past: silent or over its grace, not yet swept
        if ends is not None and ends > now and not cmd.force:
            raise errors.ROTATION_IN_PROGRESS(_iso(ends), detail=f"key {key.api_key}")
        current = key_rows.sealed_secret(work.conn, key.api_key) or _gone(key.api_key)
        old_sealed, old_hash = current
        grace_until = now + grace_ms if grace_ms > 0 else None
        key_rows.rotate_secret(
            work.conn, key.api_key,
            secret_sealed=rt.keyring.seal(secret.encode(), key.api_key.encode()),
            passphrase_hash=passphrase_hash,
            prev_secret_sealed=old_sealed if grace_until is not None else None,
            prev_passphrase_hash=old_hash if passphrase_hash is not None else None,
            rotated_ms=now, prev_expires_ms=grace_until)
        work.changed("rotated", api_key=key.api_key)
        work.audit(cmd.actor, "key_rotated", account_id=key.account_id, api_key=key.api_key,
                   label=key.label, old_secret_until_ms=grace_until,
                   silence_s=rt.settings.rotation_silence_s,
                   new_passphrase=passphrase_hash is not None, replaced_previous=replaced)
        rotated = key_rows.get(work.conn, key.api_key) or _gone(key.api_key)
    return RotatedKey(rotated, secret, cmd.new_passphrase, grace_until)


def finish_rotation(rt: Runtime, cmd: FinishRotation) -> ApiKey:
    """End the overlap now: the previous secret stops verifying in every process. Only
    narrows what a key accepts, so a restricted account may still do it."""
    with _second_factor_counted(rt, cmd.actor, cmd.actor.account_id), unit_of_work(rt) as work:
        key, _, master = _key_in_scope(work, cmd.actor, cmd.api_key)
        if cmd.actor.needs_2fa:
            check_second_factor(work, master, cmd.totp_code)
        if not key_rows.end_previous_secret(work.conn, key.api_key, rt.now_ms()):
            raise errors.NO_PREVIOUS_SECRET(detail=f"key {key.api_key}")
        _retired(work, key, cmd.actor, "finished")
        return key_rows.get(work.conn, key.api_key) or _gone(key.api_key)


def retire_old_secrets(rt: Runtime, cmd: RetireOldSecrets | None = None) -> list[ApiKey]:
    """The sweeper's part: retire every previous secret past its grace deadline or silent
    for ``rotation_silence_s``. Reads only keys in an overlap; each retirement is reported
    by the process that made it, however many sweep at once."""
    cmd = cmd or RetireOldSecrets()
    as_of = rt.now_ms() if cmd.as_of_ms is None else cmd.as_of_ms
    silence_ms = rt.settings.rotation_silence_s * 1000
    retired: list[ApiKey] = []
    while True:
        with unit_of_work(rt) as work:
            due = key_rows.previous_secrets_due(work.conn, as_of, silence_ms, limit=cmd.batch)
            if cmd.dry_run:
                return due
            for key in due:
                if not key_rows.end_previous_secret(work.conn, key.api_key, as_of):
                    continue  # finished, or retired by another sweeper, meanwhile
                assert key.rotation is not None and key.rotation.grace_until_ms is not None
                why = "grace" if key.rotation.grace_until_ms <= as_of else "silent"
                _retired(work, key, SWEEPER, why)
                retired.append(key)
        if len(due) < cmd.batch:
            return retired


def _retired(work: Work, key: ApiKey, actor: Actor, reason: str) -> None:
    rotation = key.rotation
    assert rotation is not None
    work.changed("retired", api_key=key.api_key)
    work.audit(actor, "key_old_secret_retired", account_id=key.account_id,
               api_key=key.api_key, label=key.label, reason=reason,
               rotated_ms=rotation.rotated_ms, old_last_used_ms=rotation.old_last_used_ms,
               old_last_used_ip=rotation.old_last_used_ip)


def old_secret_ends_at(rt: Runtime, key: ApiKey) -> int | None:
    """When ``key``'s previous secret stops verifying unless used again (None: it has)."""
    if key.rotation is None:
        return None
    return key.rotation.old_ends_ms(rt.settings.rotation_silence_s * 1000)


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


# -- inactivity ----------------------------------------------------------------------------
def sweep(rt: Runtime, cmd: SweepIdleKeys | None = None) -> list[ApiKey]:
    """Delete keys idle past the inactivity rule. Reads only expired keys (an index range),
    so its cost grows with the keys it removes, not with all keys. Each key is reported by
    the sweeper that actually deleted it, however many processes sweep at once."""
    cmd = cmd or SweepIdleKeys()
    as_of = rt.now_ms() if cmd.as_of_ms is None else cmd.as_of_ms
    removed: list[ApiKey] = []
    while True:
        with unit_of_work(rt) as work:
            due = key_rows.expired(work.conn, as_of, limit=cmd.batch)
            if cmd.dry_run:
                return due
            for key in due:
                if not key_rows.remove(work.conn, key.api_key):
                    continue  # another sweeper (or a delete) got there first
                work.changed("expired", api_key=key.api_key, account_id=key.account_id)
                work.audit(SWEEPER, "key_expired", account_id=key.account_id,
                           api_key=key.api_key, label=key.label,
                           last_activity_ms=key.last_activity_ms,
                           idle_days=rt.settings.expiry.idle_days)
                removed.append(key)
        if len(due) < cmd.batch:
            return removed


def set_expiry_policy(rt: Runtime, cmd: SetExpiryPolicy) -> int:
    """Store the inactivity policy for every process and re-derive every key's expiry under
    it (one statement); returns how many keys it makes due now, which the next sweep
    deletes. A dry run changes nothing and returns how many it would."""
    policy = cmd.policy
    idle_ms = policy.idle_days * DAY_MS
    trade_or_withdraw = policy.scope is ExpiryScope.TRADE_OR_WITHDRAW
    if cmd.dry_run:
        with rt.db.read() as conn:
            return key_rows.count_past_rule(conn, idle_ms, trade_or_withdraw, rt.now_ms())
    with unit_of_work(rt) as work:
        meta.put(work.conn, EXPIRY_POLICY, policy.to_text())
        work.changed("policy")  # running servers reload it
        key_rows.recompute_expiry(work.conn, idle_ms, trade_or_withdraw)
        due = key_rows.count_past_rule(work.conn, idle_ms, trade_or_withdraw, rt.now_ms())
        work.audit(cmd.actor, "expiry_policy_set", idle_days=policy.idle_days,
                   scope=policy.scope.value, due_now=due)
    rt.settings.expiry = policy
    return due


def record_usage(rt: Runtime, usage: list[tuple[str, int, str]],
                 old_secrets: list[tuple[str, int, str]] | None = None) -> None:
    """Last-used time and IP of many keys in one statement (the gate batches them), and of
    the rotated keys' previous secrets among them."""
    with rt.db.write() as conn:
        key_rows.record_usage(conn, usage, rt.settings.expiry.idle_days * DAY_MS)
        key_rows.record_old_secret_usage(conn, old_secrets or [])


def load_entry(rt: Runtime, api_key: str) -> KeyEntry | None:
    """What the gate caches for a key, its secret opened; None if there is no such key."""
    with rt.db.read() as conn:
        found = key_rows.credentials(conn, api_key)
    if found is None:
        return None
    key = found.key
    previous = None
    rotation = key.rotation
    if found.prev_secret_sealed is not None and rotation is not None \
            and rotation.grace_until_ms is not None:
        silence_ms = rt.settings.rotation_silence_s * 1000
        previous = PreviousSecret(
            secret=rt.open_sealed(found.prev_secret_sealed, api_key.encode()),
            passphrase_hash=found.prev_passphrase_hash,
            grace_until_ms=rotation.grace_until_ms, silence_ms=silence_ms,
            ends_ms=old_secret_ends_ms(rotation.grace_until_ms, rotation.rotated_ms,
                                       rotation.old_last_used_ms, silence_ms))
    return KeyEntry(previous=previous,
        api_key=key.api_key, account_id=key.account_id, uid=found.uid, main_uid=found.main_uid,
        label=key.label, secret=rt.open_sealed(found.secret_sealed, api_key.encode()),
        passphrase_hash=found.passphrase_hash, permission=key.permission,
        allowlist=key.allowlist, environment=key.environment,
        frozen=key.status is not KeyStatus.ENABLED or found.account_restricted,
        master_id=found.master_id, kyc_level=found.kyc_level,
        sub_account_access=key.sub_account_access, explain_signatures=key.explain_signatures)


def passphrase_matches(stored_hash: str, candidate: str) -> bool:
    """The slow argon2 check of a passphrase (the gate runs it off the event loop, once per
    key and process)."""
    return verify_hash(stored_hash, candidate)
