"""The set of known key ids: misses share change-log reads, and none is decided on a read
that began before it arrived."""

from __future__ import annotations

import asyncio
import uuid

from keyseal.gate.known_keys import KnownKeys


async def test_concurrent_misses_share_one_change_log_read() -> None:
    reads = 0

    async def catch_up() -> None:
        nonlocal reads
        reads += 1

    known = KnownKeys([str(uuid.uuid4())], catch_up)
    found = await asyncio.gather(*(known.exists(str(uuid.uuid4())) for _ in range(1000)))
    assert not any(found) and reads == 1


async def test_a_miss_is_decided_by_a_read_that_began_after_it_arrived() -> None:
    first, second = str(uuid.uuid4()), str(uuid.uuid4())
    committed: set[str] = set()
    release = asyncio.Event()

    async def catch_up() -> None:
        seen = set(committed)  # a read sees what committed before it began
        await release.wait()
        for api_key in seen:
            known.add(api_key)

    known = KnownKeys([], catch_up, min_interval_s=0.01)
    asking_first = asyncio.ensure_future(known.exists(first))
    while known.catch_ups == 0:
        await asyncio.sleep(0)  # the first read is under way
    committed.add(second)  # another process creates a key, and its holder calls at once
    asking_second = asyncio.ensure_future(known.exists(second))
    await asyncio.sleep(0)
    release.set()
    assert await asking_first is False
    assert await asking_second is True  # it waited for the next read instead of this one
    assert known.catch_ups == 2


def test_known_ids_follow_adds_and_removals() -> None:
    api_key = str(uuid.uuid4())
    known = KnownKeys([])
    assert api_key not in known
    known.add(api_key)
    assert api_key in known and "not-a-uuid" not in known and len(known) == 1
    known.discard(api_key)
    assert api_key not in known


async def test_without_a_change_log_a_miss_is_refused_at_once() -> None:
    assert await KnownKeys([]).exists(str(uuid.uuid4())) is False
