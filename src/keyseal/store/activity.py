"""Rows of requests per key, UTC day and result code (the activity chart's)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from sqlalchemy import BigInteger, Connection, Date, String, and_, bindparam, delete, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from keyseal.store.tables import api_keys, key_daily_usage

DailyCount = tuple[str, date, str, int]  # api_key, day, code, requests


def add_requests(conn: Connection, counts: Iterable[DailyCount]) -> None:
    """Add each count to what is stored (an upsert that adds, so several processes sharing
    the store sum), in one statement. Counts of a key deleted meanwhile are dropped: the
    rows are read through ``api_keys``, so a late batch never breaks the foreign key. The
    rows go in one order, so two writers upserting the same rows cannot deadlock."""
    rows = [{"k": key, "d": day, "c": code, "n": n} for key, day, code, n in sorted(counts)]
    if not rows:
        return
    insert = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
    source = select(api_keys.c.api_key, bindparam("d", type_=Date),
                    bindparam("c", type_=String), bindparam("n", type_=BigInteger)
                    ).where(api_keys.c.api_key == bindparam("k"))
    stmt = insert(key_daily_usage).from_select(["api_key", "day", "code", "count"], source)
    stmt = stmt.on_conflict_do_update(
        index_elements=["api_key", "day", "code"],
        set_={"count": key_daily_usage.c["count"] + stmt.excluded["count"]})
    conn.execute(stmt, rows)


def requests_between(conn: Connection, api_key: str, first: date, last: date
                     ) -> list[tuple[date, str, int]]:
    """A key's (day, code, requests) rows from ``first`` to ``last``, both included."""
    t = key_daily_usage
    found = conn.execute(select(t.c.day, t.c.code, t.c["count"])
                         .where(and_(t.c.api_key == api_key, t.c.day >= first, t.c.day <= last))
                         .order_by(t.c.day, t.c.code))
    return [(row[0], row[1], int(row[2])) for row in found]


def forget_before(conn: Connection, first_kept: date) -> int:
    """Delete every key's rows of the days before ``first_kept``; how many went."""
    t = key_daily_usage
    return conn.execute(delete(t).where(t.c.day < first_kept)).rowcount or 0
