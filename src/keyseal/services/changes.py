"""Reading the change log, for the processes that cache what it describes."""

from __future__ import annotations

from keyseal.domain.expiry import ExpiryPolicy
from keyseal.services.runtime import EXPIRY_POLICY, Runtime
from keyseal.store import changes as change_rows
from keyseal.store import meta
from keyseal.store.changes import Change

#: change kinds that concern a whole account (and its sub-accounts), not one key
ACCOUNT_WIDE = frozenset({"restricted", "unrestricted", "kyc"})


def latest_id(rt: Runtime) -> int:
    with rt.db.read() as conn:
        return change_rows.latest_id(conn)


def read(rt: Runtime, after: int, also: list[int]) -> tuple[list[Change], ExpiryPolicy | None]:
    """Committed changes with an id above ``after`` or among ``also`` (ids skipped earlier),
    and the stored expiry policy when one of them changed it."""
    with rt.db.read() as conn:
        found = change_rows.since(conn, after) + change_rows.with_ids(conn, also)
        policy = meta.get(conn, EXPIRY_POLICY) if any(c.kind == "policy" for c in found) else None
    return found, None if policy is None else ExpiryPolicy.from_text(policy)
