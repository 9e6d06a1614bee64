"""One process's link to the Redis its peers share, and whether it is working.

When a command fails or is slower than the timeout, the link is marked away: the rate limits
and the replay memory fall back to this process's own, it says so once in the log, and
``RedisFallback`` (``ServerState.redis_fallback``, for the metrics) shows it. A probe pings
Redis every ``retry_s`` meanwhile; when it answers, the shared state resumes."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

import redis.asyncio as aioredis
from redis.exceptions import RedisError

log = logging.getLogger("keyseal.redis")
#: what a Redis that is away (stopped, unreachable, too slow) raises
REDIS_ERRORS: tuple[type[BaseException], ...] = (RedisError, OSError, asyncio.TimeoutError)


@dataclass
class RedisFallback:
    """Whether this process serves with its own limits because Redis is away."""

    #: True while Redis is away: limits and replay memory are this process's alone
    active: bool = False
    #: how many times Redis went away since the process started
    episodes: int = 0


class RedisLink:
    def __init__(self, url: str, *, timeout_s: float, retry_s: float, shown_url: str,
                 fallback: RedisFallback | None = None) -> None:
        self.client: aioredis.Redis = aioredis.Redis.from_url(
            url, socket_timeout=timeout_s, socket_connect_timeout=timeout_s)
        self.url = url
        self.timeout_s = timeout_s
        self.retry_s = retry_s
        self.shown_url = shown_url
        self.fallback = fallback or RedisFallback()
        self._probe: asyncio.Task[None] | None = None

    @property
    def up(self) -> bool:
        return not self.fallback.active

    def failed(self, failure: BaseException) -> None:
        """A command failed: fall back (logged once per episode) and start probing."""
        if self.fallback.active:
            return
        self.fallback.active = True
        self.fallback.episodes += 1
        log.warning("Redis at %s is unreachable (%s): rate limits and replay memory are "
                    "per process until it answers again", self.shown_url,
                    type(failure).__name__)
        self._probe = asyncio.ensure_future(self._wait_for_return())

    async def check(self) -> bool:
        """Ping Redis now (at start): away, the process starts on its own limits, saying so."""
        try:
            await asyncio.wait_for(self.client.ping(), self.timeout_s)
        except REDIS_ERRORS as failure:
            self.failed(failure)
            return False
        return True

    async def _wait_for_return(self) -> None:
        while True:
            await asyncio.sleep(self.retry_s)
            try:
                await asyncio.wait_for(self.client.ping(), self.timeout_s)
            except REDIS_ERRORS:
                continue
            self.fallback.active = False
            log.warning("Redis at %s answers again: shared rate limits and replay memory "
                        "resume", self.shown_url)
            return

    async def close(self) -> None:
        if self._probe is not None:
            self._probe.cancel()
        await self.client.aclose()
