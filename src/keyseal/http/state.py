"""Everything one serving process holds: the runtime, the gate and its caches."""

from __future__ import annotations

import asyncio
import logging
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Protocol

from keyseal.gate.activity import RequestCounter
from keyseal.gate.cache import KeyCache
from keyseal.gate.entry import KeyEntry
from keyseal.gate.guessing import Budget, GuessingGuard, KeyLockedOut
from keyseal.gate.known_keys import KnownKeys
from keyseal.gate.order_limits import OrderLimiter
from keyseal.gate.ratelimit import Charge, RateLimiter
from keyseal.gate.redis_link import RedisFallback, RedisLink
from keyseal.gate.replay import ReplayGuard
from keyseal.gate.shared_limits import SharedLimiter
from keyseal.gate.shared_replay import SharedReplay
from keyseal.gate.usage import UsageRecorder
from keyseal.gate.verifier import Gate
from keyseal.http.background import ChangeFollower
from keyseal.services import audit as audit_service
from keyseal.services import changes as change_service
from keyseal.services import keys as key_service
from keyseal.services.balance_cache import BalanceCache
from keyseal.services.changes import ACCOUNT_WIDE, KEEPS_SESSIONS, KEY_GONE, Change, ChangeCursor
from keyseal.services.runtime import Runtime

log = logging.getLogger("keyseal.server")


class SessionCloser(Protocol):
    """A logged-in WebSocket session, as far as the change follower needs it."""

    entry: KeyEntry

    async def close(self, code: int, reason: str) -> None: ...


@dataclass
class ServerState:
    rt: Runtime
    gate: Gate
    key_cache: KeyCache
    limiter: RateLimiter
    usage: UsageRecorder
    balances: BalanceCache
    #: the ids of every existing key
    known_keys: KnownKeys
    #: how far this process has applied the change log
    changes: ChangeCursor
    #: logged-in private WebSocket sessions, by API key
    sessions: dict[str, set[SessionCloser]] = field(default_factory=dict)
    #: the serving event loop, once started
    loop: asyncio.AbstractEventLoop | None = None
    #: requests per key, day and result code, until the usage writer stores them
    activity: RequestCounter = field(default_factory=RequestCounter)
    #: the Redis every process shares (``--redis``), or None: all state is this process's
    redis: RedisLink | None = None
    #: with Redis, the limits every process counts in; None: ``limiter`` alone
    shared_limits: SharedLimiter | None = None
    #: for metrics: ``active`` while Redis is away and limits are per process, ``episodes``
    #: the times it went away (both stay 0/False without Redis)
    redis_fallback: RedisFallback = field(default_factory=RedisFallback)
    #: for metrics: seconds from the last pushed key change's publication to its application
    #: here (None until one arrives; without Redis changes come from the log alone)
    revocation_lag_s: float | None = None

    @property
    def order_limiter(self) -> OrderLimiter:
        return OrderLimiter(self.limiter, self.shared_limits)

    async def take(self, charges: list[Charge]) -> bool:
        """Charge the limits, every process's when Redis is configured."""
        shared = self.shared_limits
        return self.limiter.take(charges) if shared is None else await shared.take(charges)
    #: the threads that check passphrases with argon2, and only that: a flood of checks
    #: waits here, not in the default executor the store's reads and writes use
    argon2: ThreadPoolExecutor | None = None

    def close_sessions(self, *, api_key: str | None = None, account_id: int | None = None
                       ) -> None:
        """Close the sessions of a changed key (or of every key of an account) with OKX's
        4007, so a disabled or deleted key does not stay logged in."""
        doomed: list[SessionCloser] = []
        if api_key is not None:
            doomed.extend(self.sessions.pop(api_key, ()))
        if account_id is not None:
            for key in [k for k, group in self.sessions.items()
                        if any(account_id in (s.entry.account_id, s.entry.master_id)
                               for s in group)]:
                doomed.extend(self.sessions.pop(key))
        for session in doomed:
            asyncio.ensure_future(session.close(
                4007, "API key has been updated or deleted. Please reconnect."))

    def committed(self, changes: list[Change]) -> None:
        """This process committed ``changes`` (services run in worker threads): forget them
        in the event loop's thread. The callback is queued before the worker's result, so the
        caches are clean before the handler that made the change answers."""
        loop = self.loop
        if loop is None or not loop.is_running() or _running_loop() is loop:
            self.forget(changes)  # no loop, or already on it
        else:
            loop.call_soon_threadsafe(self.forget, changes)

    def forget(self, changes: list[Change]) -> None:
        """Drop what this process cached about changed keys, accounts and balances, and close
        the WebSocket sessions of changed keys: for the change log's rows, and at once for
        the changes this process commits itself. Runs in the event loop's thread."""
        for change in changes:
            if change.kind == "ledger":
                if change.account_id is not None:
                    self.balances.evict(change.account_id)
                continue
            if change.api_key:
                if change.kind == "created":
                    self.known_keys.add(change.api_key)
                    self.key_cache.forget_unknown(change.api_key)
                else:
                    if change.kind in KEY_GONE:
                        self.known_keys.discard(change.api_key)
                    self.key_cache.evict(change.api_key)
                if change.kind not in KEEPS_SESSIONS:
                    self.close_sessions(api_key=change.api_key)
            if change.account_id is not None and change.kind in ACCOUNT_WIDE:
                self.key_cache.evict_account(change.account_id)
                if change.kind == "restricted":
                    self.close_sessions(account_id=change.account_id)


    def drop_cached(self, changes: list[Change]) -> None:
        """A pushed change is a hint, not the truth (anyone who can publish on the Redis
        channel could forge one): drop the cached keys it names, so that the next request
        reads them from the store, and leave the known ids and the sessions to the change
        log, which the caller reads next."""
        for change in changes:
            if change.api_key and change.kind != "created":
                self.key_cache.evict(change.api_key)
            if change.account_id is not None and change.kind in ACCOUNT_WIDE:
                self.key_cache.evict_account(change.account_id)


#: audit events raised by the gate are written here, one at a time, never on the event loop
_AUDIT_WRITER = ThreadPoolExecutor(1, thread_name_prefix="keyseal-audit")


def _log_failure(done: Future[None]) -> None:
    if (error := done.exception()) is not None:
        log.error("could not write an audit event: %s", error)


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:  # a worker thread
        return None


def build_state(rt: Runtime, *, seed_limits: bool = True) -> ServerState:
    """``seed_limits``: the seeds' 50 requests per second per key over every private OKX
    route; library mode, whose routes are its user's with their own limits, goes without."""
    settings = rt.settings
    cursor, key_ids = change_service.start(rt, time.monotonic())

    async def catch_up() -> None:  # an unknown key id: read the change log first
        await follower.catch_up()

    known_keys = KnownKeys(key_ids, catch_up, min_interval_s=settings.unknown_key_catch_up_s)
    cache = KeyCache(rt.clock, settings.key_cache_size, settings.unknown_key_ttl_s,
                     max_age=settings.key_cache_max_age_s)
    limiter = RateLimiter(rt.clock, enabled=settings.rate_limits)
    usage = UsageRecorder()
    activity = RequestCounter()
    scaleout = settings.scaleout
    fallback = RedisFallback()
    link = shared_limits = shared_replay = None
    replay = ReplayGuard(settings.timestamp_window_s,
                         refuse_repeated_reads=settings.refuse_repeated_reads)
    if scaleout.redis_url:
        link = RedisLink(scaleout.redis_url, timeout_s=scaleout.redis_timeout_s,
                         retry_s=scaleout.redis_retry_s, shown_url=scaleout.shown_redis_url,
                         fallback=fallback)
        shared_limits = SharedLimiter(link, limiter, scaleout.redis_prefix)
        shared_replay = SharedReplay(link, replay, scaleout.redis_prefix)

    async def load_key(api_key: str) -> KeyEntry | None:
        return await asyncio.to_thread(key_service.load_entry, rt, api_key)

    guessing_limits = settings.guessing
    argon2 = ThreadPoolExecutor(guessing_limits.argon2_workers,
                                thread_name_prefix="keyseal-argon2")

    async def check_passphrase(stored: str, candidate: str) -> bool:
        return await asyncio.get_running_loop().run_in_executor(
            argon2, key_service.passphrase_matches, stored, candidate)

    def locked_out(event: KeyLockedOut) -> None:  # rare (once per key and lock-out): a thread
        log.warning("key %s locked out after %d wrong passphrases in %g s (last from %s)",
                    event.api_key, event.failures, event.window_s, event.last_ip)
        written: Future[None] = _AUDIT_WRITER.submit(
            audit_service.record_passphrase_guessing, rt, api_key=event.api_key,
            account_id=event.account_id, ip=event.last_ip, failures=event.failures,
            window_s=event.window_s, lockout_s=event.lockout_s)
        written.add_done_callback(_log_failure)

    guessing = GuessingGuard(
        rt.clock, report=locked_out,
        per_address=Budget(guessing_limits.address_failures, guessing_limits.address_window_s,
                           guessing_limits.address_lockout_s),
        per_key=Budget(guessing_limits.key_failures, guessing_limits.key_window_s,
                       guessing_limits.key_lockout_s))

    gate = Gate(clock=rt.clock, cache=cache, load_key=load_key,
                check_passphrase=check_passphrase, limiter=limiter, usage=usage,
                window_s=settings.timestamp_window_s, known_keys=known_keys, replay=replay,
                key_rate=scaleout.private_key_rate if seed_limits else None,
                shared_limits=shared_limits,
                shared_replay=shared_replay, activity=activity, guessing=guessing)
    state = ServerState(rt, gate, cache, limiter, usage, BalanceCache(rt), known_keys, cursor,
                        redis=link, shared_limits=shared_limits, redis_fallback=fallback,
                        activity=activity, argon2=argon2)
    follower = ChangeFollower(state)
    rt.after_commit.append(state.committed)  # this process's own changes, at once
    return state
