"""Named settings stored with the data, so that every process reads the same."""

from __future__ import annotations

from sqlalchemy import Connection, insert, select, update

from keyseal.store.tables import meta


def get(conn: Connection, name: str) -> str | None:
    return conn.execute(select(meta.c.value).where(meta.c.name == name)).scalar_one_or_none()


def put(conn: Connection, name: str, value: str) -> None:
    if conn.execute(update(meta).where(meta.c.name == name).values(value=value)).rowcount == 0:
        conn.execute(insert(meta).values(name=name, value=value))
