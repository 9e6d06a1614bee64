"""API-key rows. The secret column holds only sealed bytes; the passphrase only a hash."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, and_, bindparam, case, delete, func, insert, or_, select, update

from keyseal.domain.ipallow import IpAllowlist
from keyseal.domain.keys import ApiKey, Environment, KeyStatus, Rotation
from keyseal.domain.permissions import Permission
from keyseal.store.tables import accounts, api_keys


@dataclass(frozen=True, slots=True)
class KeyCredentials:
    """What the gate needs that the domain view does not carry."""

    key: ApiKey
    secret_sealed: bytes
    passphrase_hash: str
    sub_account_access: bool
    uid: str
    main_uid: str
    account_restricted: bool
    master_id: int | None
    kyc_level: int
    #: the previous secret while a rotation's overlap lasts (sealed like ``secret_sealed``),
    #: and its passphrase hash when a new passphrase came with the new secret
    prev_secret_sealed: bytes | None = None
    prev_passphrase_hash: str | None = None


def _rotation(row: Any) -> Rotation | None:
    if row.rotated_ms is None:
        return None
    return Rotation(rotated_ms=row.rotated_ms, grace_until_ms=row.prev_expires_ms,
                    old_last_used_ms=row.prev_last_used_ms, old_last_used_ip=row.prev_last_used_ip,
                    ended_ms=row.prev_ended_ms,
                    new_passphrase=row.prev_passphrase_hash is not None)


def _api_key(row: Any) -> ApiKey:
    return ApiKey(rotation=_rotation(row),
        api_key=row.api_key, account_id=row.account_id, label=row.label,
        permission=Permission(row.perm), allowlist=IpAllowlist.stored(row.ips),
        environment=Environment(row.environment), status=KeyStatus(row.status),
        created_ms=row.created_ms, last_used_ms=row.last_used_ms, last_used_ip=row.last_used_ip,
        expires_ms=row.expires_ms, sub_account_access=bool(row.sub_account_access),
        explain_signatures=bool(row.explain_signatures))


def insert_key(conn: Connection, key: ApiKey, *, secret_sealed: bytes,
               passphrase_hash: str) -> None:
    conn.execute(insert(api_keys).values(
        api_key=key.api_key, account_id=key.account_id, label=key.label,
        secret_sealed=secret_sealed, passphrase_hash=passphrase_hash,
        perm=int(key.permission), ips=key.allowlist.wire(), environment=key.environment.value,
        status=key.status.value, sub_account_access=key.sub_account_access,
        created_ms=key.created_ms, expires_ms=key.expires_ms))


def get(conn: Connection, api_key: str) -> ApiKey | None:
    row = conn.execute(select(api_keys).where(api_keys.c.api_key == api_key)).first()
    return None if row is None else _api_key(row)


def credentials(conn: Connection, api_key: str, *, lock: bool = False
                ) -> KeyCredentials | None:
    """The key with what the gate needs; ``lock`` holds the key's and its account's rows
    (PostgreSQL's FOR SHARE) until the transaction ends, so a disable or a restriction
    committed meanwhile waits for it, or is seen by it."""
    master = accounts.alias("master")
    query = (
        select(api_keys, accounts.c.uid, accounts.c.restricted, accounts.c.master_id,
               func.coalesce(master.c.uid, accounts.c.uid).label("main_uid"),
               func.coalesce(master.c.restricted, False).label("master_restricted"),
               func.coalesce(master.c.kyc_level, accounts.c.kyc_level).label("main_kyc"))
        .join(accounts, accounts.c.id == api_keys.c.account_id)
        .outerjoin(master, master.c.id == accounts.c.master_id)
        .where(api_keys.c.api_key == api_key))
    if lock and conn.dialect.name == "postgresql":
        query = query.with_for_update(read=True, of=[api_keys, accounts])
    row = conn.execute(query).first()
    if row is None:
        return None
    return KeyCredentials(
        key=_api_key(row), secret_sealed=row.secret_sealed, passphrase_hash=row.passphrase_hash,
        sub_account_access=bool(row.sub_account_access), uid=row.uid, main_uid=row.main_uid,
        account_restricted=bool(row.restricted) or bool(row.master_restricted),
        master_id=row.master_id, kyc_level=row.main_kyc,
        prev_secret_sealed=row.prev_secret_sealed if row.prev_expires_ms is not None else None,
        prev_passphrase_hash=row.prev_passphrase_hash)


def for_account(conn: Connection, account_id: int) -> list[ApiKey]:
    rows = conn.execute(select(api_keys).where(api_keys.c.account_id == account_id)
                        .order_by(api_keys.c.created_ms, api_keys.c.id))
    return [_api_key(row) for row in rows]


def count_for_account(conn: Connection, account_id: int) -> int:
    return int(conn.execute(select(func.count()).select_from(api_keys)
                            .where(api_keys.c.account_id == account_id)).scalar_one())


def label_taken(conn: Connection, account_id: int, label: str) -> bool:
    return conn.execute(select(api_keys.c.id).where(
        and_(api_keys.c.account_id == account_id, api_keys.c.label == label))).first() is not None


def set_status(conn: Connection, api_key: str, status: KeyStatus) -> bool:
    result = conn.execute(update(api_keys).where(api_keys.c.api_key == api_key)
                          .values(status=status.value))
    return result.rowcount == 1


def remove(conn: Connection, api_key: str) -> bool:
    return conn.execute(delete(api_keys).where(api_keys.c.api_key == api_key)).rowcount == 1


def record_usage(conn: Connection, usage: Iterable[tuple[str, int, str]], idle_ms: int) -> None:
    """Batch-write last-used time and IP, and push back the expiry of keys that have one;
    never moves a key's last use backwards."""
    rows = [{"k": key, "ms": ms, "ip": ip, "exp": ms + idle_ms} for key, ms, ip in usage]
    if not rows:
        return
    stmt = (update(api_keys)
            .where(and_(api_keys.c.api_key == bindparam("k"),
                        or_(api_keys.c.last_used_ms.is_(None),
                            api_keys.c.last_used_ms < bindparam("ms"))))
            .values(last_used_ms=bindparam("ms"), last_used_ip=bindparam("ip"),
                    expires_ms=case((api_keys.c.expires_ms.is_(None), None),
                                    else_=bindparam("exp"))))
    conn.execute(stmt, rows)


def record_old_secret_usage(conn: Connection, usage: Iterable[tuple[str, int, str]]) -> None:
    """Batch-write when and from where each key's previous secret was last used: only for
    uses after its rotation, never backwards. (The key's own last use is written by
    ``record_usage``: a use of either secret is a use of the key.)"""
    rows = [{"k": key, "ms": ms, "ip": ip} for key, ms, ip in usage]
    if not rows:
        return
    conn.execute(update(api_keys)
                 .where(and_(api_keys.c.api_key == bindparam("k"),
                             api_keys.c.rotated_ms <= bindparam("ms"),
                             or_(api_keys.c.prev_last_used_ms.is_(None),
                                 api_keys.c.prev_last_used_ms < bindparam("ms"))))
                 .values(prev_last_used_ms=bindparam("ms"), prev_last_used_ip=bindparam("ip")),
                 rows)


def sealed_secret(conn: Connection, api_key: str) -> tuple[bytes, str] | None:
    """The current secret (sealed) and passphrase hash, to become the previous ones."""
    row = conn.execute(select(api_keys.c.secret_sealed, api_keys.c.passphrase_hash)
                       .where(api_keys.c.api_key == api_key)).first()
    return None if row is None else (row.secret_sealed, row.passphrase_hash)


def rotate_secret(conn: Connection, api_key: str, *, secret_sealed: bytes,
                  passphrase_hash: str | None, prev_secret_sealed: bytes | None,
                  prev_passphrase_hash: str | None, rotated_ms: int,
                  prev_expires_ms: int | None) -> bool:
    """Install a new secret (and passphrase hash, unless None: unchanged). The previous
    secret is kept until ``prev_expires_ms``; with ``prev_secret_sealed`` None it is gone."""
    values: dict[str, Any] = {
        "secret_sealed": secret_sealed, "rotated_ms": rotated_ms,
        "prev_secret_sealed": prev_secret_sealed, "prev_passphrase_hash": prev_passphrase_hash,
        "prev_expires_ms": prev_expires_ms, "prev_last_used_ms": None,
        "prev_last_used_ip": None,
        "prev_ended_ms": rotated_ms if prev_secret_sealed is None else None}
    if passphrase_hash is not None:
        values["passphrase_hash"] = passphrase_hash
    return conn.execute(update(api_keys).where(api_keys.c.api_key == api_key)
                        .values(**values)).rowcount == 1


def end_previous_secret(conn: Connection, api_key: str, ended_ms: int) -> bool:
    """Forget the previous secret (its last use stays on record); False if there was none."""
    return conn.execute(
        update(api_keys).where(and_(api_keys.c.api_key == api_key,
                                    api_keys.c.prev_expires_ms.is_not(None)))
        .values(prev_secret_sealed=None, prev_passphrase_hash=None, prev_expires_ms=None,
                prev_ended_ms=ended_ms)).rowcount == 1


def previous_secrets_due(conn: Connection, as_of_ms: int, silence_ms: int,
                         limit: int = 1000) -> list[ApiKey]:
    """Keys whose previous secret's time is up at ``as_of_ms``: past its grace deadline, or
    unused for ``silence_ms`` (since the rotation, if never used). Reads only keys in an
    overlap (an index range on the grace deadline)."""
    quiet_since = case((api_keys.c.prev_last_used_ms > api_keys.c.rotated_ms,
                        api_keys.c.prev_last_used_ms), else_=api_keys.c.rotated_ms)
    rows = conn.execute(
        select(api_keys).where(and_(api_keys.c.prev_expires_ms.is_not(None),
                                    or_(api_keys.c.prev_expires_ms <= as_of_ms,
                                        quiet_since + silence_ms <= as_of_ms)))
        .order_by(api_keys.c.prev_expires_ms).limit(limit))
    return [_api_key(row) for row in rows]


def update_settings(conn: Connection, api_key: str, *, label: str, ips: str,
                    expires_ms: int | None) -> bool:
    return conn.execute(update(api_keys).where(api_keys.c.api_key == api_key)
                        .values(label=label, ips=ips, expires_ms=expires_ms)).rowcount == 1


def set_explain_signatures(conn: Connection, api_key: str, on: bool) -> bool:
    return conn.execute(update(api_keys).where(api_keys.c.api_key == api_key)
                        .values(explain_signatures=on)).rowcount == 1


def _rule_applies(trade_or_withdraw_only: bool) -> Any:
    """The keys an inactivity rule applies to: live, without an IP allow-list."""
    applies = and_(api_keys.c.ips == "", api_keys.c.environment == "live")
    if trade_or_withdraw_only:
        applies = and_(applies, api_keys.c.perm.op("&")(6) != 0)
    return applies


_LAST_ACTIVITY = func.coalesce(api_keys.c.last_used_ms, api_keys.c.created_ms)


def recompute_expiry(conn: Connection, idle_ms: int, trade_or_withdraw_only: bool) -> int:
    """Re-derive every key's expiry after the policy changed; one statement."""
    if idle_ms <= 0:
        return int(conn.execute(update(api_keys).values(expires_ms=None)).rowcount)
    result = conn.execute(update(api_keys).values(expires_ms=case(
        (_rule_applies(trade_or_withdraw_only), _LAST_ACTIVITY + idle_ms), else_=None)))
    return int(result.rowcount)


def count_past_rule(conn: Connection, idle_ms: int, trade_or_withdraw_only: bool,
                    as_of_ms: int) -> int:
    """How many keys a rule (as ``recompute_expiry`` would store it) makes due at
    ``as_of_ms``: the rule applies and their last activity is older than ``idle_ms``."""
    if idle_ms <= 0:
        return 0
    return int(conn.execute(select(func.count()).select_from(api_keys).where(and_(
        _rule_applies(trade_or_withdraw_only), _LAST_ACTIVITY + idle_ms <= as_of_ms))
    ).scalar_one())


def expired(conn: Connection, as_of_ms: int, limit: int = 1000) -> list[ApiKey]:
    """Keys whose expiry has passed, oldest first; reads only those (an index range)."""
    rows = conn.execute(select(api_keys).where(api_keys.c.expires_ms <= as_of_ms)
                        .order_by(api_keys.c.expires_ms).limit(limit))
    return [_api_key(row) for row in rows]


def all_sealed_previous_secrets(conn: Connection) -> list[tuple[str, bytes]]:
    rows = conn.execute(select(api_keys.c.api_key, api_keys.c.prev_secret_sealed)
                        .where(api_keys.c.prev_secret_sealed.is_not(None)))
    return [(r.api_key, r.prev_secret_sealed) for r in rows]


def replace_sealed_previous_secret(conn: Connection, api_key: str, sealed: bytes) -> None:
    conn.execute(update(api_keys).where(api_keys.c.api_key == api_key)
                 .values(prev_secret_sealed=sealed))


def all_sealed_secrets(conn: Connection) -> list[tuple[str, bytes]]:
    rows = conn.execute(select(api_keys.c.api_key, api_keys.c.secret_sealed))
    return [(r.api_key, r.secret_sealed) for r in rows]


def replace_sealed_secret(conn: Connection, api_key: str, sealed: bytes) -> None:
    conn.execute(update(api_keys).where(api_keys.c.api_key == api_key)
                 .values(secret_sealed=sealed))
