"""The shared limiter on a real Redis: the same decisions as the in-process GCRA, exact
across limiters standing for processes, all or none over several buckets, and a fall back
to the process's own limiter while Redis is away, shared again when it returns."""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import AsyncIterator, Sequence

import pytest

from keyseal.clock import ManualClock
from keyseal.gate.ratelimit import Charge, Rate, RateLimiter
from keyseal.gate.redis_link import RedisLink
from keyseal.gate.replay import ReplayGuard
from keyseal.gate.shared_limits import SharedLimiter
from keyseal.gate.shared_replay import SharedReplay
from tests.conftest import START
from tests.scale.conftest import OwnRedis


def link_to(url: str, retry_s: float = 0.05) -> RedisLink:
    return RedisLink(url, timeout_s=0.5, retry_s=retry_s, shown_url=url)


@pytest.fixture
async def links(redis_url: str) -> AsyncIterator[list[RedisLink]]:
    made = [link_to(redis_url) for _ in range(3)]
    yield made
    for link in made:
        await link.close()


async def test_the_same_decisions_as_the_in_process_limiter(
        links: list[RedisLink], prefix: str) -> None:
    clock = ManualClock(START)
    local = RateLimiter(clock)
    shared = SharedLimiter(links[0], RateLimiter(clock), prefix, clock=clock)
    # periods in thousands of seconds: Redis expires idle buckets by its own clock, which a
    # slow run must not let overtake the manual one
    rates = [Rate(3, 1000), Rate(10, 2000), Rate(60, 2000), Rate(5, 500)]
    rng = random.Random(12)
    decisions = []
    for _ in range(600):
        charges: Sequence[Charge] = [
            (f"b{rng.randrange(4)}", rates[i], rng.choice([1, 1, 1, 2]))
            for i in rng.sample(range(4), rng.choice([1, 1, 2, 3]))]
        commit = rng.random() > 0.1
        expected = local.take(charges, commit=commit)
        got = await shared.take(charges, commit=commit)
        decisions.append(expected)
        assert got == expected
        clock.advance(rng.choice([0, 0, 0, 10, 50, 300]))
    assert True in decisions and False in decisions


async def test_three_processes_admit_exactly_the_limit_together(
        links: list[RedisLink], prefix: str) -> None:
    """10 per 2 s, hammered at once by three limiters sharing one Redis: 10 admitted."""
    limiters = [SharedLimiter(link, RateLimiter(ManualClock(START)), prefix) for link in links]
    rate = Rate(10, 2)
    answers = await asyncio.gather(*(limiters[i % 3].allow(("account", 7), rate)
                                     for i in range(60)))
    assert sum(answers) == 10


async def test_several_buckets_are_charged_all_or_none(
        links: list[RedisLink], prefix: str) -> None:
    clock = ManualClock(START)
    one, other = (SharedLimiter(link, RateLimiter(clock), prefix, clock=clock)
                  for link in links[:2])
    tight, loose = Rate(2, 3600), Rate(100, 3600)
    assert await one.take([("route", tight, 1), ("key", loose, 1)])
    assert await other.take([("route", tight, 1), ("key", loose, 1)])
    # the route's bucket is full: the key's is not charged either
    assert not await one.take([("key", loose, 1), ("route", tight, 1)])
    assert await other.take([("key", loose, 98)])
    assert not await other.take([("key", loose, 1)])


async def test_limits_fall_back_while_redis_is_away_and_resume_after(
        own_redis: OwnRedis, prefix: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, "keyseal.redis")
    link = link_to(own_redis.url)
    try:
        clock = ManualClock(START)
        limiter = SharedLimiter(link, RateLimiter(clock), prefix)
        rate = Rate(5, 3600)
        assert [await limiter.allow("k", rate) for _ in range(6)] == [True] * 5 + [False]
        own_redis.stop()
        # away: the process's own limiter, which has counted nothing yet, decides
        answers = [await limiter.allow("k", rate) for _ in range(6)]
        assert answers == [True] * 5 + [False]
        assert link.fallback.active and link.fallback.episodes == 1
        assert sum("unreachable" in r.getMessage() for r in caplog.records) == 1
        own_redis.start()  # an empty Redis: the shared bucket starts again
        for _ in range(200):
            await asyncio.sleep(0.02)
            if link.up:
                break
        assert link.up and not link.fallback.active
        assert [await limiter.allow("k", rate) for _ in range(6)] == [True] * 5 + [False]
        assert any("answers again" in r.getMessage() for r in caplog.records)
    finally:
        await link.close()


async def test_a_repeat_sent_to_another_process_is_refused(
        links: list[RedisLink], prefix: str) -> None:
    one, other = (SharedReplay(link, ReplayGuard(30.0), prefix) for link in links[:2])
    args = ("3f7a0d2c-3a52-4c34-9c8a-5b2f2e0b8d11", "2026-11-22T00:00:00.000Z", "c2ln", START,
            START + 1)
    assert await one.first_use(*args)
    assert not await other.first_use(*args)
    assert not await one.first_use(*args)
    assert await other.first_use(args[0], args[1], "b3RoZXI=", START, START + 1)


async def test_the_replay_memory_outlives_redis_within_one_process(
        own_redis: OwnRedis, prefix: str) -> None:
    link = link_to(own_redis.url)
    try:
        replay = SharedReplay(link, ReplayGuard(30.0), prefix)
        args = ("3f7a0d2c-3a52-4c34-9c8a-5b2f2e0b8d11", "t", "s", START, START)
        assert await replay.first_use(*args)
        own_redis.stop()
        assert not await replay.first_use(*args)  # this process remembers it still
        assert await replay.first_use(args[0], "t", "other", START, START)
        assert link.fallback.active
    finally:
        await link.close()
