"""The change log every serving process follows to drop what it cached."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, func, insert, select

from keyseal.store.tables import api_keys, key_changes


@dataclass(frozen=True, slots=True)
class Change:
    id: int
    kind: str
    api_key: str | None
    account_id: int | None


def record(conn: Connection, kind: str, ts_ms: int, *, api_key: str | None = None,
           account_id: int | None = None) -> None:
    conn.execute(insert(key_changes).values(kind=kind, api_key=api_key, account_id=account_id,
                                            ts_ms=ts_ms))


def latest_id(conn: Connection) -> int:
    return int(conn.execute(select(func.coalesce(func.max(key_changes.c.id), 0))).scalar_one())


def since(conn: Connection, last_id: int, limit: int = 10_000) -> list[Change]:
    rows = conn.execute(
        select(key_changes.c.id, key_changes.c.kind, key_changes.c.api_key,
               key_changes.c.account_id)
        .where(key_changes.c.id > last_id).order_by(key_changes.c.id).limit(limit))
    return [Change(r.id, r.kind, r.api_key, r.account_id) for r in rows]


def with_ids(conn: Connection, ids: list[int]) -> list[Change]:
    if not ids:
        return []
    rows = conn.execute(
        select(key_changes.c.id, key_changes.c.kind, key_changes.c.api_key,
               key_changes.c.account_id).where(key_changes.c.id.in_(ids[:1000])))
    return [Change(r.id, r.kind, r.api_key, r.account_id) for r in rows]


def present_after(conn: Connection, after: int) -> set[int]:
    """The ids above ``after`` that are visible now (the ones missing may yet commit)."""
    return set(conn.execute(select(key_changes.c.id).where(key_changes.c.id > after)).scalars())


def existing_key_ids(conn: Connection) -> list[str]:
    """Every key id in the store: where a follower's set of known keys starts."""
    return list(conn.execute(select(api_keys.c.api_key)).scalars())
