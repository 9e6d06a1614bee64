"""The rate limiter's own cost per check, in-process and on Redis, next to the ``limits``
package's on the same store (its moving window and fixed window), measured in one run.

- in-process: ``RateLimiter.allow`` (one bucket) and ``take`` of two buckets (a private
  request: OKX's route limit per account and the seeds' per key), against ``limits``'
  ``MemoryStorage``; ``allow_pair`` is what the gate runs for a private request;
- Redis: ``SharedLimiter.take`` (one Lua script, both buckets at once) against ``limits``'
  async ``RedisStorage`` (redis-py), one ``hit`` per bucket, on the same Redis, sequential
  awaits on one connection (the round trip is the cost).

Run: ``.venv/bin/python benchmarks/limiter_cost.py [--redis redis://127.0.0.1:6379/0]
[--json]``. Nothing here gates CI."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from limits import RateLimitItemPerSecond  # noqa: E402
from limits.aio.storage import RedisStorage as AsyncRedisStorage  # noqa: E402
from limits.aio.strategies import FixedWindowRateLimiter as AsyncFixed  # noqa: E402
from limits.aio.strategies import MovingWindowRateLimiter as AsyncMoving  # noqa: E402
from limits.storage import MemoryStorage  # noqa: E402
from limits.strategies import FixedWindowRateLimiter, MovingWindowRateLimiter  # noqa: E402

from keyseal.gate.ratelimit import Rate, RateLimiter  # noqa: E402
from keyseal.gate.redis_link import RedisLink  # noqa: E402
from keyseal.gate.shared_limits import SharedLimiter  # noqa: E402

#: wide enough that every check is admitted: the cost of a check, not of a refusal
WIDE = Rate(10**9, 1)


def per_call_us(fn: Callable[[int], None], count: int, rounds: int = 5) -> float:
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        fn(count)
        best = min(best, time.perf_counter() - start)
    return best / count * 1e6


async def per_await_us(fn: Callable[[], Awaitable[object]], count: int, rounds: int = 3
                       ) -> float:
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(count):
            await fn()
        best = min(best, time.perf_counter() - start)
    return best / count * 1e6


def in_process(count: int) -> dict[str, float]:
    limiter = RateLimiter(time.time)
    one = ("account", 7, "GET /api/v5/account/balance")
    two = [(one, WIDE, 1), (("key", "k"), WIDE, 1)]

    def allow(n: int) -> None:
        for _ in range(n):
            limiter.allow(one, WIDE)

    def take(n: int) -> None:
        for _ in range(n):
            limiter.take(two)

    def pair(n: int) -> None:
        for _ in range(n):
            limiter.allow_pair(one, WIDE, ("key", "k"), WIDE)

    item = RateLimitItemPerSecond(10**9)
    moving, fixed = MovingWindowRateLimiter(MemoryStorage()), FixedWindowRateLimiter(MemoryStorage())

    def limits_moving(n: int) -> None:
        for _ in range(n):
            moving.hit(item, "account", "7")

    def limits_fixed(n: int) -> None:
        for _ in range(n):
            fixed.hit(item, "account", "7")

    return {"keyseal_allow_us": per_call_us(allow, count),
            "keyseal_take_two_us": per_call_us(take, count),
            "keyseal_allow_pair_us": per_call_us(pair, count),
            "limits_moving_window_us": per_call_us(limits_moving, count // 10),
            "limits_fixed_window_us": per_call_us(limits_fixed, count)}


async def on_redis(url: str, count: int) -> dict[str, float]:
    prefix = f"bench-{uuid.uuid4().hex[:8]}:"
    link = RedisLink(url, timeout_s=1.0, retry_s=1.0, shown_url=url)
    shared = SharedLimiter(link, RateLimiter(time.time), prefix)
    one = ("account", 7, "GET /api/v5/account/balance")
    two = [(one, WIDE, 1), (("key", "k"), WIDE, 1)]
    storage = AsyncRedisStorage("async+" + url, implementation="redispy", key_prefix=prefix)
    item = RateLimitItemPerSecond(10**9)
    moving, fixed = AsyncMoving(storage), AsyncFixed(storage)

    async def limits_two(strategy: AsyncMoving | AsyncFixed) -> None:
        name = type(strategy).__name__  # each strategy keeps its own kind of key
        await strategy.hit(item, name, "account", "7")
        await strategy.hit(item, name, "key", "k")

    await link.client.ping()
    await shared.take(two)  # the script loaded before anything is timed
    figures = {
        "redis_ping_us": await per_await_us(link.client.ping, count),
        "keyseal_shared_one_us": await per_await_us(lambda: shared.take(two[:1]), count),
        "keyseal_shared_two_us": await per_await_us(lambda: shared.take(two), count),
        "limits_redis_fixed_one_us": await per_await_us(lambda: fixed.hit(item, "one", "7"), count),
        "limits_redis_fixed_two_us": await per_await_us(lambda: limits_two(fixed), count),
        "limits_redis_moving_two_us": await per_await_us(lambda: limits_two(moving), count),
    }
    await link.client.delete(*[k async for k in link.client.scan_iter(prefix + "*")] or ["-"])
    await link.close()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--count", type=int, default=200_000)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    figures = in_process(args.count)
    figures.update(asyncio.run(on_redis(args.redis, max(2000, args.count // 100))))
    figures["ratio_limits_memory_fixed_over_keyseal_allow"] = (
        figures["limits_fixed_window_us"] / figures["keyseal_allow_us"])
    figures["ratio_limits_memory_moving_over_keyseal_allow"] = (
        figures["limits_moving_window_us"] / figures["keyseal_allow_us"])
    figures["ratio_limits_redis_fixed_two_over_keyseal_shared_two"] = (
        figures["limits_redis_fixed_two_us"] / figures["keyseal_shared_two_us"])
    if args.json:
        print(json.dumps(figures, indent=2))
        return
    print(f"{'check':<52} {'µs per check':>12}")
    for name, value in figures.items():
        print(f"{name:<52} {value:>12.2f}")


if __name__ == "__main__":
    main()
