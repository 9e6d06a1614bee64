"""Account rows."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, insert, select

from keyseal.domain.accounts import Account
from keyseal.store.tables import accounts


def _account(row: Any) -> Account:
    return Account(id=row.id, uid=row.uid, email=row.email, kyc_level=row.kyc_level,
                   restricted=bool(row.restricted), master_id=row.master_id,
                   sub_name=row.sub_name, created_ms=row.created_ms)


def insert_account(conn: Connection, *, uid: str, email: str | None, password_hash: str | None,
                   kyc_level: int, created_ms: int, master_id: int | None = None,
                   sub_name: str | None = None) -> Account:
    result = conn.execute(insert(accounts).values(
        uid=uid, email=email, password_hash=password_hash, kyc_level=kyc_level,
        restricted=False, master_id=master_id, sub_name=sub_name, created_ms=created_ms))
    account_id = result.inserted_primary_key[0]
    return Account(account_id, uid, email, kyc_level, False, master_id, sub_name, created_ms)


def by_email(conn: Connection, email: str) -> Account | None:
    row = conn.execute(select(accounts).where(accounts.c.email == email)).first()
    return None if row is None else _account(row)


def by_id(conn: Connection, account_id: int) -> Account | None:
    row = conn.execute(select(accounts).where(accounts.c.id == account_id)).first()
    return None if row is None else _account(row)


def uid_taken(conn: Connection, uid: str) -> bool:
    return conn.execute(select(accounts.c.id).where(accounts.c.uid == uid)).first() is not None
