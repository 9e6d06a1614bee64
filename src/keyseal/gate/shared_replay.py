"""The replay memory shared by every process on one Redis: each signed request let through
is a key set with ``NX`` and an expiry at the far edge of its timestamp's window, so an exact
repeat sent to any process is refused (70017) while it could still verify.

The process's own memory is checked (and kept) first: a repeat to the same process costs no
round trip, and stays refused while Redis is away. Then Redis decides for the others; when
it does not answer, the process's own memory alone decides (``RedisLink`` says so)."""

from __future__ import annotations

import math

from keyseal.gate.redis_link import REDIS_ERRORS, RedisLink
from keyseal.gate.replay import ReplayGuard, request_digest


class SharedReplay:
    def __init__(self, link: RedisLink, local: ReplayGuard, prefix: str) -> None:
        self._link = link
        self.local = local
        self._prefix = prefix + "rp:"

    def applies_to(self, method: str) -> bool:
        return self.local.applies_to(method)

    async def first_use(self, api_key: str, timestamp: str, signature: str, sent_at: float,
                        now: float) -> bool:
        if not self.local.first_use(api_key, timestamp, signature, sent_at, now):
            return False
        if not self._link.up:
            return True
        name = self._prefix + request_digest(api_key, timestamp, signature).hex()
        ttl_ms = max(1, math.ceil((self.local.remember_until(sent_at, now) - now) * 1000))
        try:
            return bool(await self._link.client.set(name, b"1", nx=True, px=ttl_ms))
        except REDIS_ERRORS as failure:
            self._link.failed(failure)
            return True
