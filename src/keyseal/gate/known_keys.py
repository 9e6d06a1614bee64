"""The ids of the keys that exist, so a flood of random key ids never reaches the key store."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable

from keyseal.gate.id_set import PackedIdSet

CatchUp = Callable[[], Awaitable[None]]


class KnownKeys:
    """Every existing key id, loaded when the process starts and kept current by the change
    log: a "created" change adds an id, "deleted" and "expired" remove it.

    An exact set of the ids' 128-bit values, not a Bloom filter: 10,000 random ids cost no
    store read at all (a Bloom filter lets a share of them through) and a deleted id leaves
    it; it needs no dependency and no sizing. Packed (gate/id_set.py), it costs 16 bytes a
    key: 16 MB a process for a million keys (a plain set of ints cost ~120).

    An id not in the set may be a key another process created a moment ago, whose change
    this process has not applied yet. So a miss waits for a catch-up read of the change log
    that starts after the miss arrived, then decides. Catch-ups start at most once per
    ``min_interval_s`` and every miss meanwhile waits for the same next one: a flood of
    unknown ids costs one change-log read per interval, never one per request."""

    def __init__(self, api_keys: Iterable[str], catch_up: CatchUp | None = None, *,
                 min_interval_s: float = 0.05) -> None:
        self._ids = PackedIdSet(v for v in map(_value, api_keys) if v >= 0)
        self._catch_up = catch_up
        self._min_interval_s = min_interval_s
        self._last_start = -min_interval_s
        #: the catch-up that has not started reading yet; a miss from now on waits for it
        self._next: asyncio.Future[None] | None = None
        #: change-log reads started on behalf of misses
        self.catch_ups = 0

    def add(self, api_key: str) -> None:
        value = _value(api_key)
        if value >= 0:
            self._ids.add(value)

    def discard(self, api_key: str) -> None:
        self._ids.discard(_value(api_key))

    def __contains__(self, api_key: str) -> bool:
        return _value(api_key) in self._ids

    def __len__(self) -> int:
        return len(self._ids)

    async def exists(self, api_key: str) -> bool:
        """Whether the key exists, as far as the change log told this process, once it has
        been read after this call began."""
        wanted = _value(api_key)
        if wanted in self._ids:
            return True
        if self._catch_up is None:
            return False
        if self._next is None or self._next.done():
            self._next = asyncio.ensure_future(self._catch_up_when_allowed())
        # shielded: a caller that gives up (a dropped connection) cancels nobody else's wait
        await asyncio.shield(self._next)
        return wanted in self._ids

    async def _catch_up_when_allowed(self) -> None:
        wait = self._last_start + self._min_interval_s - time.monotonic()
        if wait > 0:
            await asyncio.sleep(wait)
        self._next = None  # misses arriving during this read wait for the one after
        self._last_start = time.monotonic()
        self.catch_ups += 1
        assert self._catch_up is not None
        await self._catch_up()


def _value(api_key: str) -> int:
    """The id as a number: a third less memory than the text. Callers pass UUIDs (the gate
    checks the form first); anything else maps to -1, which is never a key."""
    try:
        return uuid.UUID(api_key).int
    except ValueError:
        return -1
