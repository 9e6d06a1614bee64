"""The loops a serving process runs beside requests: follow the change log, write usage."""

from __future__ import annotations

import asyncio
import logging
import time

from keyseal.domain.expiry import ExpiryPolicy
from keyseal.http.state import ServerState
from keyseal.services import changes as change_service
from keyseal.services import keys as key_service
from keyseal.services.changes import Change

log = logging.getLogger("keyseal.server")


class ChangeFollower:
    """Reads the change log and drops what this process cached about changed keys and
    accounts. A process that missed a push still catches up: the log is the truth.

    Ids are handed out when a row is inserted, not when its transaction commits, so on
    PostgreSQL a lower id can become visible after a higher one. Each id skipped over is
    remembered as a gap and looked up again on every poll, until it appears or
    ``gap_timeout_s`` passes (a rolled-back transaction leaves a gap for good).
    """

    def __init__(self, state: ServerState, gap_timeout_s: float = 30.0) -> None:
        self.state = state
        self.last_id = change_service.latest_id(state.rt)
        self._gaps: dict[int, float] = {}
        self._gap_timeout_s = gap_timeout_s

    def poll(self) -> tuple[list[Change], ExpiryPolicy | None]:
        return change_service.read(self.state.rt, self.last_id, list(self._gaps))

    def apply(self, found: list[Change], policy: ExpiryPolicy | None = None,
              now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        if policy is not None:
            self.state.rt.settings.expiry = policy
        for change in sorted(found, key=lambda c: c.id):
            if change.id > self.last_id:
                self._gaps.update(dict.fromkeys(range(self.last_id + 1, change.id), now))
                self.last_id = change.id
            self._gaps.pop(change.id, None)
            self._evict(change)
        for missing, since in list(self._gaps.items()):
            if now - since >= self._gap_timeout_s:
                del self._gaps[missing]

    def _evict(self, change: Change) -> None:
        self.state.forget([change])

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
        key_service.record_usage(state.rt, batch)
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
            if swept:
                log.info("swept %d idle key(s)", len(swept))
        except Exception:
            log.exception("the sweeper failed; will retry")
        await asyncio.sleep(interval_s)
