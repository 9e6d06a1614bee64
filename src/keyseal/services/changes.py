"""Reading the change log, for the processes that cache what it describes."""

from __future__ import annotations

from dataclasses import dataclass, field

from keyseal.domain.expiry import ExpiryPolicy
from keyseal.services.runtime import EXPIRY_POLICY, Runtime
from keyseal.store import changes as change_rows
from keyseal.store import meta
from keyseal.store.changes import Change as Change  # what callers of these services see

#: change kinds that concern a whole account (and its sub-accounts), not one key
ACCOUNT_WIDE = frozenset({"restricted", "unrestricted", "kyc"})
#: change kinds after which a key id no longer exists
KEY_GONE = frozenset({"deleted", "expired"})
#: change kinds after which a logged-in WebSocket session stays valid: a rotation leaves the
#: secret it logged in with verifying (the end of the overlap closes them: "retired")
KEEPS_SESSIONS = frozenset({"rotated"})
#: at start, ids this far below the newest that are not visible yet are watched as gaps:
#: transactions still open then may commit them later
RECENT_IDS = 100


def read(rt: Runtime, after: int, also: list[int]) -> tuple[list[Change], ExpiryPolicy | None]:
    """Committed changes with an id above ``after`` or among ``also`` (ids skipped earlier),
    and the stored expiry policy when one of them changed it."""
    with rt.db.read() as conn:
        found = change_rows.since(conn, after) + change_rows.with_ids(conn, also)
        policy = meta.get(conn, EXPIRY_POLICY) if any(c.kind == "policy" for c in found) else None
    return found, None if policy is None else ExpiryPolicy.from_text(policy)


@dataclass
class ChangeCursor:
    """Where one process is in the change log.

    Ids are handed out when a row is inserted, not when its transaction commits, so on
    PostgreSQL a lower id can become visible after a higher one. Each id skipped over is
    remembered as a gap and looked up again on every read, until it appears or
    ``gap_timeout_s`` passes (a rolled-back transaction leaves a gap for good)."""

    last_id: int
    #: id → when it was first missed (the caller's clock, seconds)
    gaps: dict[int, float] = field(default_factory=dict)
    gap_timeout_s: float = 30.0

    def read(self, rt: Runtime) -> tuple[list[Change], ExpiryPolicy | None]:
        return read(rt, self.last_id, list(self.gaps))

    def advance(self, found: list[Change], now: float) -> list[Change]:
        """Move past ``found`` and return it in id order, to be applied. Applying a change
        twice is harmless, so reads that overlap need no lock."""
        ordered = sorted(found, key=lambda c: c.id)
        for change in ordered:
            if change.id > self.last_id:
                self.gaps.update(dict.fromkeys(range(self.last_id + 1, change.id), now))
                self.last_id = change.id
            self.gaps.pop(change.id, None)
        for missing, since in list(self.gaps.items()):
            if now - since >= self.gap_timeout_s:
                del self.gaps[missing]
        return ordered


def start(rt: Runtime, now: float) -> tuple[ChangeCursor, list[str]]:
    """A cursor at the newest change, and every key id that exists: what a serving process
    starts from. The position is read first, so a key created meanwhile is in the id list or
    after the cursor (or both: adding it twice is harmless); recent ids not yet visible are
    gaps, so a key whose transaction was still open is not missed either."""
    with rt.db.read() as conn:
        last = change_rows.latest_id(conn)
        recent = max(0, last - RECENT_IDS)
        visible = change_rows.present_after(conn, recent)
        key_ids = change_rows.existing_key_ids(conn)
    gaps = dict.fromkeys(sorted(set(range(recent + 1, last + 1)) - visible), now)
    return ChangeCursor(last, gaps), key_ids
