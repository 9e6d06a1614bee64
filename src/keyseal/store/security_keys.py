"""WebAuthn credentials (hardware security keys) registered as an account's second factor.
Only public keys are stored: the private key never leaves the authenticator."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Table,
    delete,
    func,
    insert,
    select,
    update,
)

from keyseal.store.tables import metadata

security_keys = Table(
    "security_keys", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("account_id", Integer, ForeignKey("accounts.id"), nullable=False, index=True),
    Column("credential_id", String(1400), nullable=False, unique=True),
    Column("public_key", LargeBinary, nullable=False),
    Column("sign_count", BigInteger, nullable=False),
    Column("label", String(50), nullable=False),
    Column("created_ms", BigInteger, nullable=False),
    Column("last_used_ms", BigInteger),
)


second_factor_grants = Table(
    "second_factor_grants", metadata,
    Column("code_hash", String(64), primary_key=True),
    Column("account_id", Integer, ForeignKey("accounts.id"), nullable=False, index=True),
    Column("expires_ms", BigInteger, nullable=False),
)


@dataclass(frozen=True, slots=True)
class SecurityKeyRow:
    id: int
    account_id: int
    credential_id: str  # base64url, as WebAuthn names it
    public_key: bytes
    sign_count: int
    label: str
    created_ms: int
    last_used_ms: int | None


def _row(r: object) -> SecurityKeyRow:
    return SecurityKeyRow(r.id, r.account_id, r.credential_id, r.public_key,  # type: ignore[attr-defined]
                          r.sign_count, r.label, r.created_ms, r.last_used_ms)  # type: ignore[attr-defined]


def insert_key(conn: Connection, *, account_id: int, credential_id: str, public_key: bytes,
               sign_count: int, label: str, created_ms: int) -> None:
    conn.execute(insert(security_keys).values(
        account_id=account_id, credential_id=credential_id, public_key=public_key,
        sign_count=sign_count, label=label, created_ms=created_ms))


def for_account(conn: Connection, account_id: int) -> list[SecurityKeyRow]:
    rows = conn.execute(select(security_keys).where(security_keys.c.account_id == account_id)
                        .order_by(security_keys.c.id))
    return [_row(r) for r in rows]


def count_for_account(conn: Connection, account_id: int) -> int:
    return int(conn.execute(select(func.count()).select_from(security_keys)
                            .where(security_keys.c.account_id == account_id)).scalar_one())


def used(conn: Connection, key_id: int, sign_count: int, at_ms: int) -> None:
    conn.execute(update(security_keys).where(security_keys.c.id == key_id)
                 .values(sign_count=sign_count, last_used_ms=at_ms))


def insert_grant(conn: Connection, *, account_id: int, code_hash: str, expires_ms: int) -> None:
    conn.execute(insert(second_factor_grants).values(
        code_hash=code_hash, account_id=account_id, expires_ms=expires_ms))


def use_grant(conn: Connection, account_id: int, code_hash: str, now_ms: int) -> bool:
    """Spend a grant: true once, for this account, before it expires (expired ones go too)."""
    conn.execute(delete(second_factor_grants).where(second_factor_grants.c.expires_ms <= now_ms))
    return conn.execute(delete(second_factor_grants).where(
        (second_factor_grants.c.code_hash == code_hash)
        & (second_factor_grants.c.account_id == account_id))).rowcount == 1
