"""The loops a serving process runs beside requests: follow the change log, write usage
(last used, and requests per day for the activity charts)."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING

from keyseal.domain.expiry import ExpiryPolicy
from keyseal.errors import OkxError
from keyseal.services import activity as activity_service
from keyseal.services import change_push
from keyseal.services import keys as key_service
from keyseal.services.changes import Change

if TYPE_CHECKING:
    from keyseal.http.state import ServerState

log = logging.getLogger("keyseal.server")


class ChangeFollower:
    """Reads the change log and applies it to what this process holds: drops cached keys,
    accounts and balances, keeps the set of known key ids current, reloads the expiry
    policy. A process that missed a push still catches up: the log is the truth.

    The position in the log (``state.changes``, with its gaps for out-of-order commits)
    belongs to the state, so the polling loop and the gate's catch-ups on an unknown key id
    move one cursor."""

    def __init__(self, state: ServerState) -> None:
        self.state = state

    def poll(self) -> tuple[list[Change], ExpiryPolicy | None]:
        return self.state.changes.read(self.state.rt)

    def apply(self, found: list[Change], policy: ExpiryPolicy | None = None,
              now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        if policy is not None:
            self.state.rt.settings.expiry = policy
        self.state.forget(self.state.changes.advance(found, now))

    async def catch_up(self) -> None:
        """Read what is new in the log (off the event loop) and apply it."""
        self.apply(*await asyncio.to_thread(self.poll))

    async def run(self, interval_s: float) -> None:
        while True:
            try:
                await self.catch_up()
            except Exception:  # a stopped database must not kill the loop
                log.exception("could not read the change log; retrying")
            await asyncio.sleep(interval_s)


async def follow_pushes(state: ServerState, follower: ChangeFollower) -> None:
    """With Redis: as each pushed change arrives, drop the cached keys it names and read the
    change log at once. A push is a hint (it carries no secret, and whoever can publish on
    the channel could forge one: a forgery costs a reload, never a key refused); the log is
    the truth, and the follower's poll still reads it for what a push missed."""
    def lag(seconds: float) -> None:
        state.revocation_lag_s = seconds

    wake = asyncio.Event()

    def hinted(changes: list[Change]) -> None:  # in the event loop, as each message arrives
        state.drop_cached(changes)
        wake.set()

    async def read_the_log() -> None:  # what the hints point at, from the truth, at once
        while True:
            await wake.wait()
            wake.clear()
            try:
                await follower.catch_up()
            except Exception:  # the database away: the follower's poll retries
                log.exception("could not read the change log after a pushed change")

    reader = asyncio.create_task(read_the_log())
    try:
        await change_push.follow(state.rt, hinted, follower.catch_up, lag)
    finally:
        reader.cancel()


def flush_usage(state: ServerState) -> int:
    """Write pending last-used records in one statement, and the requests counted for the
    activity charts in another; put back what a failed write held. Returns how many keys'
    last use was written."""
    try:
        return _flush_last_used(state)
    finally:
        _flush_activity(state)


def _flush_activity(state: ServerState) -> None:
    if dropped := state.activity.newly_dropped():
        log.warning("the activity counter was full: %d request(s) not counted", dropped)
    counts = state.activity.drain()
    if not counts:
        return
    try:
        activity_service.record_requests(state.rt, counts)
    except Exception:
        state.activity.restore(counts)
        raise


def _flush_last_used(state: ServerState) -> int:
    batch, old_secrets = state.usage.drain(), state.usage.drain_old_secrets()
    if not batch and not old_secrets:
        return 0
    try:
        key_service.record_usage(state.rt, batch, old_secrets)
    except Exception:
        state.usage.restore(batch, old_secrets)
        raise
    return len(batch)


async def usage_writer(state: ServerState, interval_s: float) -> None:
    while True:
        await asyncio.sleep(interval_s)
        try:
            await asyncio.to_thread(flush_usage, state)
        except OkxError as refusal:  # the store is full: kept in memory, one line a try
            log.warning("could not write key usage (%s); will retry", refusal.code)
        except Exception:
            log.exception("could not write key usage; will retry")
        state.limiter.prune()


async def sweeper(state: ServerState, interval_s: float) -> None:
    """Delete idle keys and retire rotated keys' previous secrets whose time is up, now and
    then; the change log tells every process. (Each process's gate already refuses a previous
    secret past its time by its own reckoning; this makes it so in the store.)"""
    while True:
        try:
            swept = await asyncio.to_thread(key_service.sweep, state.rt)
            if swept:
                log.info("swept %d idle key(s)", len(swept))
            retired = await asyncio.to_thread(key_service.retire_old_secrets, state.rt)
            if retired:
                log.info("retired the previous secret of %d rotated key(s)", len(retired))
            await asyncio.to_thread(activity_service.forget_old_days, state.rt)
        except Exception:
            log.exception("the sweeper failed; will retry")
        await asyncio.sleep(interval_s)
