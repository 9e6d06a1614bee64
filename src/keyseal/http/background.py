"""The loops a serving process runs beside requests: follow the change log, write usage."""

from __future__ import annotations

import asyncio
import logging

from keyseal.domain.expiry import DAY_MS, ExpiryPolicy
from keyseal.http.state import ServerState
from keyseal.services import keys as key_service
from keyseal.services.runtime import EXPIRY_POLICY
from keyseal.store import changes, meta
from keyseal.store import keys as key_rows

log = logging.getLogger("keyseal.server")


class ChangeFollower:
    """Reads the change log and drops what this process cached about changed keys and
    accounts. A process that missed a push still catches up: the log is the truth."""

    def __init__(self, state: ServerState) -> None:
        self.state = state
        with state.rt.db.read() as conn:
            self.last_id = changes.latest_id(conn)

    def poll(self) -> tuple[list[changes.Change], str | None]:
        """New changes, and the stored expiry policy when one of them changed it."""
        with self.state.rt.db.read() as conn:
            found = changes.since(conn, self.last_id)
            policy = (meta.get(conn, EXPIRY_POLICY)
                      if any(c.kind == "policy" for c in found) else None)
        return found, policy

    def apply(self, found: list[changes.Change], policy: str | None = None) -> None:
        if policy is not None:
            self.state.rt.settings.expiry = ExpiryPolicy.from_text(policy)
        for change in found:
            if change.api_key:
                self.state.key_cache.evict(change.api_key)
            if change.account_id is not None:
                if change.kind == "ledger":
                    self.state.balances.evict(change.account_id)
                else:
                    self.state.key_cache.evict_account(change.account_id)
            self.last_id = change.id

    async def run(self, interval_s: float) -> None:
        while True:
            try:
                self.apply(*await asyncio.to_thread(self.poll))
            except Exception:  # a stopped database must not kill the loop
                log.exception("could not read the change log; retrying")
            await asyncio.sleep(interval_s)


def flush_usage(state: ServerState) -> int:
    """Write pending last-used records in one statement; put them back if the write fails."""
    batch = state.usage.drain()
    if not batch:
        return 0
    try:
        with state.rt.db.write() as conn:
            key_rows.record_usage(conn, batch, state.rt.settings.expiry.idle_days * DAY_MS)
    except Exception:
        state.usage.restore(batch)
        raise
    return len(batch)


async def usage_writer(state: ServerState, interval_s: float) -> None:
    while True:
        await asyncio.sleep(interval_s)
        try:
            await asyncio.to_thread(flush_usage, state)
        except Exception:
            log.exception("could not write key usage; will retry")
        state.limiter.prune()


async def sweeper(state: ServerState, interval_s: float) -> None:
    """Delete idle keys now and then; the change log tells every process."""
    while True:
        try:
            swept = await asyncio.to_thread(key_service.sweep, state.rt)
            for key in swept:
                state.key_cache.evict(key.api_key)
            if swept:
                log.info("swept %d idle key(s)", len(swept))
        except Exception:
            log.exception("the sweeper failed; will retry")
        await asyncio.sleep(interval_s)
