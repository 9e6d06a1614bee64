"""Dashboard sessions. Only a SHA-256 of each session id is stored, so a copy of the database
opens no session; the id itself lives in the browser's cookie alone."""

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
    insert,
    select,
    update,
)

from keyseal.store.tables import metadata

web_sessions = Table(
    "web_sessions", metadata,
    Column("id_hash", String(64), primary_key=True),
    Column("account_id", Integer, ForeignKey("accounts.id"), nullable=False, index=True),
    Column("stage", String(8), nullable=False),
    Column("csrf", String(64), nullable=False),
    Column("created_ms", BigInteger, nullable=False),
    Column("seen_ms", BigInteger, nullable=False, index=True),
    Column("ip", String(45)),
    Column("challenge", String(128)),
    Column("reveal_sealed", LargeBinary),
    Column("reveal_until_ms", BigInteger),
)


@dataclass(frozen=True, slots=True)
class SessionRow:
    id_hash: str
    account_id: int
    stage: str
    csrf: str
    created_ms: int
    seen_ms: int
    ip: str | None
    challenge: str | None


def insert_session(conn: Connection, row: SessionRow) -> None:
    conn.execute(insert(web_sessions).values(
        id_hash=row.id_hash, account_id=row.account_id, stage=row.stage, csrf=row.csrf,
        created_ms=row.created_ms, seen_ms=row.seen_ms, ip=row.ip, challenge=row.challenge))


def get(conn: Connection, id_hash: str) -> SessionRow | None:
    found = conn.execute(select(web_sessions).where(web_sessions.c.id_hash == id_hash)).first()
    if found is None:
        return None
    return SessionRow(found.id_hash, found.account_id, found.stage, found.csrf,
                      found.created_ms, found.seen_ms, found.ip, found.challenge)


def touch(conn: Connection, id_hash: str, seen_ms: int) -> None:
    conn.execute(update(web_sessions).where(web_sessions.c.id_hash == id_hash)
                 .values(seen_ms=seen_ms))


def set_challenge(conn: Connection, id_hash: str, challenge: str | None) -> None:
    conn.execute(update(web_sessions).where(web_sessions.c.id_hash == id_hash)
                 .values(challenge=challenge))


def remove(conn: Connection, id_hash: str) -> bool:
    return conn.execute(delete(web_sessions).where(web_sessions.c.id_hash == id_hash)).rowcount > 0


def remove_older_than(conn: Connection, created_before_ms: int, seen_before_ms: int) -> int:
    """Drop sessions past their absolute or idle limit (called now and then, not per page)."""
    return conn.execute(delete(web_sessions).where(
        (web_sessions.c.created_ms < created_before_ms)
        | (web_sessions.c.seen_ms < seen_before_ms))).rowcount


def hold_reveal(conn: Connection, id_hash: str, sealed: bytes, until_ms: int) -> bool:
    return conn.execute(update(web_sessions).where(web_sessions.c.id_hash == id_hash)
                        .values(reveal_sealed=sealed, reveal_until_ms=until_ms)).rowcount > 0


def take_reveal(conn: Connection, id_hash: str) -> tuple[bytes, int] | None:
    """The session's pending reveal, cleared in the same transaction, under the row's lock
    (PostgreSQL: ``FOR UPDATE``; SQLite: one writer at a time): of two requests at once, one
    gets it."""
    found = conn.execute(select(web_sessions.c.reveal_sealed, web_sessions.c.reveal_until_ms)
                         .where(web_sessions.c.id_hash == id_hash).with_for_update()).first()
    if found is None or found.reveal_sealed is None:
        return None
    conn.execute(update(web_sessions).where(web_sessions.c.id_hash == id_hash)
                 .values(reveal_sealed=None, reveal_until_ms=None))
    return bytes(found.reveal_sealed), int(found.reveal_until_ms)


def take_challenge(conn: Connection, id_hash: str, challenge: str) -> bool:
    """Clear the session's pending WebAuthn challenge if it is still ``challenge``: True for
    the one request that clears it, so no answer is accepted twice."""
    return conn.execute(update(web_sessions).where(
        web_sessions.c.id_hash == id_hash, web_sessions.c.challenge == challenge)
        .values(challenge=None)).rowcount == 1
