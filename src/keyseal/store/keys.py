"""API-key rows. The secret column holds only sealed bytes; the passphrase only a hash."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, and_, bindparam, delete, func, insert, or_, select, update

from keyseal.domain.ipallow import IpAllowlist
from keyseal.domain.keys import ApiKey, Environment, KeyStatus
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


def _api_key(row: Any) -> ApiKey:
    return ApiKey(
        api_key=row.api_key, account_id=row.account_id, label=row.label,
        permission=Permission(row.perm), allowlist=IpAllowlist.parse(row.ips),
        environment=Environment(row.environment), status=KeyStatus(row.status),
        created_ms=row.created_ms, last_used_ms=row.last_used_ms, last_used_ip=row.last_used_ip)


def insert_key(conn: Connection, key: ApiKey, *, secret_sealed: bytes, passphrase_hash: str,
               sub_account_access: bool = False) -> None:
    conn.execute(insert(api_keys).values(
        api_key=key.api_key, account_id=key.account_id, label=key.label,
        secret_sealed=secret_sealed, passphrase_hash=passphrase_hash,
        perm=int(key.permission), ips=key.allowlist.wire(), environment=key.environment.value,
        status=key.status.value, sub_account_access=sub_account_access,
        created_ms=key.created_ms))


def get(conn: Connection, api_key: str) -> ApiKey | None:
    row = conn.execute(select(api_keys).where(api_keys.c.api_key == api_key)).first()
    return None if row is None else _api_key(row)


def credentials(conn: Connection, api_key: str) -> KeyCredentials | None:
    master = accounts.alias("master")
    row = conn.execute(
        select(api_keys, accounts.c.uid, accounts.c.restricted, accounts.c.master_id,
               func.coalesce(master.c.uid, accounts.c.uid).label("main_uid"),
               func.coalesce(master.c.restricted, False).label("master_restricted"),
               func.coalesce(master.c.kyc_level, accounts.c.kyc_level).label("main_kyc"))
        .join(accounts, accounts.c.id == api_keys.c.account_id)
        .outerjoin(master, master.c.id == accounts.c.master_id)
        .where(api_keys.c.api_key == api_key)).first()
    if row is None:
        return None
    return KeyCredentials(
        key=_api_key(row), secret_sealed=row.secret_sealed, passphrase_hash=row.passphrase_hash,
        sub_account_access=bool(row.sub_account_access), uid=row.uid, main_uid=row.main_uid,
        account_restricted=bool(row.restricted) or bool(row.master_restricted),
        master_id=row.master_id, kyc_level=row.main_kyc)


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


def record_usage(conn: Connection, usage: Iterable[tuple[str, int, str]]) -> None:
    """Batch-write last-used time and IP; never moves a key's last use backwards."""
    rows = [{"k": key, "ms": ms, "ip": ip} for key, ms, ip in usage]
    if not rows:
        return
    stmt = (update(api_keys)
            .where(and_(api_keys.c.api_key == bindparam("k"),
                        or_(api_keys.c.last_used_ms.is_(None),
                            api_keys.c.last_used_ms < bindparam("ms"))))
            .values(last_used_ms=bindparam("ms"), last_used_ip=bindparam("ip")))
    conn.execute(stmt, rows)


def all_sealed_secrets(conn: Connection) -> list[tuple[str, bytes]]:
    rows = conn.execute(select(api_keys.c.api_key, api_keys.c.secret_sealed))
    return [(r.api_key, r.secret_sealed) for r in rows]


def replace_sealed_secret(conn: Connection, api_key: str, sealed: bytes) -> None:
    conn.execute(update(api_keys).where(api_keys.c.api_key == api_key)
                 .values(secret_sealed=sealed))
