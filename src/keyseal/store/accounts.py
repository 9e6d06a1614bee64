"""Account rows."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, delete, func, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from keyseal.domain.accounts import Account
from keyseal.store.tables import accounts, api_keys, login_failures, recovery_codes


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
    inserted = result.inserted_primary_key
    assert inserted is not None
    account_id = int(inserted[0])
    return Account(account_id, uid, email, kyc_level, False, master_id, sub_name, created_ms)


def by_email(conn: Connection, email: str) -> Account | None:
    row = conn.execute(select(accounts).where(accounts.c.email == email)).first()
    return None if row is None else _account(row)


def by_id(conn: Connection, account_id: int) -> Account | None:
    row = conn.execute(select(accounts).where(accounts.c.id == account_id)).first()
    return None if row is None else _account(row)


def uid_taken(conn: Connection, uid: str) -> bool:
    return conn.execute(select(accounts.c.id).where(accounts.c.uid == uid)).first() is not None


def lock(conn: Connection, account_id: int) -> None:
    """Serialise changes to one account's keys (PostgreSQL; SQLite's writes already are)."""
    if conn.dialect.name == "postgresql":
        conn.execute(select(accounts.c.id).where(accounts.c.id == account_id).with_for_update())


def set_fields(conn: Connection, account_id: int, **values: Any) -> None:
    conn.execute(update(accounts).where(accounts.c.id == account_id).values(**values))


def sub_by_name(conn: Connection, master_id: int, name: str) -> Account | None:
    row = conn.execute(select(accounts).where(
        (accounts.c.master_id == master_id) & (accounts.c.sub_name == name))).first()
    return None if row is None else _account(row)


def subs_of(conn: Connection, master_id: int) -> list[Account]:
    rows = conn.execute(select(accounts).where(accounts.c.master_id == master_id)
                        .order_by(accounts.c.created_ms, accounts.c.id))
    return [_account(row) for row in rows]


@dataclass(frozen=True, slots=True)
class AccountName:
    """How people name an account: its email, or its master's email and its own name."""

    email: str | None
    sub_name: str | None = None

    def __str__(self) -> str:
        return f"{self.email} / {self.sub_name}" if self.sub_name else str(self.email)


def name_columns(account: Any, master: Any) -> tuple[Any, Any]:
    """The columns an ``AccountName`` is made of, for a query joining an account to its
    master (an outer join: the master's columns are NULL for a master account)."""
    return (func.coalesce(master.c.email, account.c.email).label("account_email"),
            account.c.sub_name.label("account_sub"))


def names_of(conn: Connection, account_ids: Iterable[int]) -> dict[int, AccountName]:
    master = accounts.alias("master")
    rows = conn.execute(select(accounts.c.id, *name_columns(accounts, master))
                        .outerjoin(master, master.c.id == accounts.c.master_id)
                        .where(accounts.c.id.in_(set(account_ids))))
    return {r.id: AccountName(r.account_email, r.account_sub) for r in rows}


@dataclass(frozen=True, slots=True)
class AccountSummary:
    """A master account with how many sub-accounts and own keys it has, and whether 2FA is on."""

    account: Account
    sub_accounts: int
    keys: int
    two_factor: bool


def masters(conn: Connection) -> list[AccountSummary]:
    """Every master account, oldest first; one query."""
    sub = accounts.alias("sub")
    subs = (select(func.count()).select_from(sub).where(sub.c.master_id == accounts.c.id)
            .scalar_subquery())
    keys = (select(func.count()).select_from(api_keys)
            .where(api_keys.c.account_id == accounts.c.id).scalar_subquery())
    rows = conn.execute(select(accounts, subs.label("subs"), keys.label("keys"))
                        .where(accounts.c.master_id.is_(None))
                        .order_by(accounts.c.created_ms, accounts.c.id))
    return [AccountSummary(_account(r), int(r.subs), int(r.keys), r.totp_sealed is not None)
            for r in rows]


def password_hash(conn: Connection, account_id: int) -> str | None:
    return conn.execute(select(accounts.c.password_hash)
                        .where(accounts.c.id == account_id)).scalar_one_or_none()


# -- two-factor ----------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class TotpState:
    sealed: bytes | None
    pending_sealed: bytes | None
    last_step: int | None


def totp_state(conn: Connection, account_id: int, *, for_update: bool = False) -> TotpState:
    query = select(accounts.c.totp_sealed, accounts.c.totp_pending_sealed,
                   accounts.c.totp_last_step).where(accounts.c.id == account_id)
    if for_update and conn.dialect.name == "postgresql":
        query = query.with_for_update()
    row = conn.execute(query).one()
    return TotpState(row.totp_sealed, row.totp_pending_sealed, row.totp_last_step)


def sealed_totp_seeds(conn: Connection) -> list[tuple[Account, bytes | None, bytes | None]]:
    rows = conn.execute(select(accounts).where(
        accounts.c.totp_sealed.is_not(None) | accounts.c.totp_pending_sealed.is_not(None)))
    return [(_account(r), r.totp_sealed, r.totp_pending_sealed) for r in rows]


def replace_recovery_codes(conn: Connection, account_id: int, code_hashes: list[str]) -> None:
    conn.execute(delete(recovery_codes).where(recovery_codes.c.account_id == account_id))
    if code_hashes:  # an empty executemany would insert one row of NULLs
        conn.execute(insert(recovery_codes),
                     [{"account_id": account_id, "code_hash": h} for h in code_hashes])


def use_recovery_code(conn: Connection, account_id: int, code_hash: str, at_ms: int) -> bool:
    """Mark an unused code used; False if there is no such unused code."""
    result = conn.execute(update(recovery_codes).where(
        (recovery_codes.c.account_id == account_id) & (recovery_codes.c.code_hash == code_hash)
        & recovery_codes.c.used_ms.is_(None)).values(used_ms=at_ms))
    return result.rowcount == 1


def unused_recovery_codes(conn: Connection, account_id: int) -> int:
    return int(conn.execute(select(func.count()).select_from(recovery_codes).where(
        (recovery_codes.c.account_id == account_id) & recovery_codes.c.used_ms.is_(None))
    ).scalar_one())


# -- login throttling ----------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class LoginFailures:
    failures: int
    last_failure_ms: int
    locked_until_ms: int | None


def locked_login_failures(conn: Connection, email: str) -> LoginFailures | None:
    """The email's failures, locked for the transaction: the row is made first (zero
    failures) so that even the first attempts of a parallel burst queue on its lock."""
    dialect_insert = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
    conn.execute(dialect_insert(login_failures).values(
        email=email, failures=0, last_failure_ms=0, locked_until_ms=None).on_conflict_do_nothing())
    query = select(login_failures).where(login_failures.c.email == email)
    if conn.dialect.name == "postgresql":
        query = query.with_for_update()
    row = conn.execute(query).one()
    return None if row.failures == 0 else LoginFailures(row.failures, row.last_failure_ms,
                                                        row.locked_until_ms)


def save_login_failures(conn: Connection, email: str, state: LoginFailures) -> None:
    values = {"failures": state.failures, "last_failure_ms": state.last_failure_ms,
              "locked_until_ms": state.locked_until_ms}
    dialect_insert = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
    conn.execute(dialect_insert(login_failures).values(email=email, **values)
                 .on_conflict_do_update(index_elements=["email"], set_=values))


def clear_login_failures(conn: Connection, email: str) -> None:
    conn.execute(delete(login_failures).where(login_failures.c.email == email))
