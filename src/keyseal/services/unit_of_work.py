"""One transaction per use case: who may do it, the change, its change-log rows and its
audit events commit together or not at all (cosmicpython's unit of work).

After the commit, this process's own caches hear of the changes at once (``Runtime.
after_commit``); other processes learn of them from the change log."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection

from keyseal.domain.actors import Actor
from keyseal.services import audit
from keyseal.services.runtime import Runtime
from keyseal.store import changes as change_rows
from keyseal.store.changes import Change


class Work:
    """The open transaction of one use case."""

    def __init__(self, rt: Runtime, conn: Connection) -> None:
        self.rt = rt
        self.conn = conn
        self.changes: list[Change] = []

    def changed(self, kind: str, *, api_key: str | None = None,
                account_id: int | None = None) -> None:
        """A key or account changed: every serving process drops what it cached of it."""
        change_rows.record(self.conn, kind, self.rt.now_ms(), api_key=api_key,
                           account_id=account_id)
        self.changes.append(Change(0, kind, api_key, account_id))

    def balance_changed(self, account_id: int) -> None:
        """An account's balances changed: every serving process drops its cached balances."""
        change_rows.record(self.conn, "ledger", self.rt.now_ms(), account_id=account_id)
        self.changes.append(Change(0, "ledger", None, account_id))

    def audit(self, actor: Actor, event: str, *, account_id: int | None = None,
              api_key: str | None = None, **details: Any) -> None:
        audit.record(self.conn, self.rt, actor, event, account_id=account_id, api_key=api_key,
                     **details)


@contextmanager
def unit_of_work(rt: Runtime) -> Iterator[Work]:
    """Commit when the block ends, roll back (changing nothing) when it raises."""
    with rt.db.write() as conn:
        work = Work(rt, conn)
        yield work
    if work.changes:
        for listener in rt.after_commit:
            listener(work.changes)


def reading(rt: Runtime) -> Any:
    """A read-only transaction, for queries."""
    return rt.db.read()
