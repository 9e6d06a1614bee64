"""One transaction per use case: who may do it, the change, its change-log rows and its
audit events commit together or not at all (cosmicpython's unit of work).

After the commit, this process's own caches hear of the changes at once (``Runtime.
after_commit``); other processes learn of them from the change log."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection

from keyseal import errors
from keyseal.domain.actors import Actor, ActorKind
from keyseal.domain.keys import KeyStatus
from keyseal.domain.permissions import Permission
from keyseal.services import audit
from keyseal.services.runtime import Runtime
from keyseal.store import changes as change_rows
from keyseal.store import keys as key_rows
from keyseal.store.changes import Change

log = logging.getLogger(__name__)


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

    def authorize_key(self, actor: Actor, permission: Permission, *,
                      manages_subs: bool = False, needs_ip_binding: bool = False) -> None:
        """For a use case an API key asked for: the key as it is now, in this transaction,
        may still do it. The gate passed a cached copy; a key disabled, deleted, narrowed or
        frozen since is refused here with the gate's code, and nothing changes. The key's
        rows stay locked until the commit, so a revocation cannot slip in between."""
        if actor.kind is not ActorKind.API:
            return
        found = key_rows.credentials(self.conn, actor.name, lock=True)
        if found is None or found.key.environment is not actor.environment:
            raise errors.INVALID_KEY(detail=f"{actor}: the key is gone")
        key = found.key
        if key.status is not KeyStatus.ENABLED or found.account_restricted:
            raise errors.API_FROZEN(detail=f"{actor}: disabled or restricted meanwhile")
        if actor.ip is not None and key.allowlist and not key.allowlist.permits(actor.ip):
            raise errors.IP_NOT_ALLOWED(actor.ip, detail=f"{actor}: allow-list changed")
        if permission & key.permission != permission:
            raise errors.NO_PERMISSION(detail=f"{actor} lacks {permission!r}")
        if manages_subs and not key.sub_account_access:
            raise errors.NO_SUB_ACCOUNT_ACCESS(detail=f"{actor}")
        if needs_ip_binding and not key.allowlist.bound:
            raise errors.IP_BINDING_REQUIRED(detail=f"{actor} has no IP allow-list")

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
            try:
                listener(work.changes)
            except Exception:  # the change is committed: a listener must not undo the answer
                log.exception("after-commit listener %r failed", listener)


def reading(rt: Runtime) -> Any:
    """A read-only transaction, for queries."""
    return rt.db.read()
