"""The gate's in-memory parts: GCRA limits, the key cache, the usage recorder."""

from __future__ import annotations

from keyseal.clock import ManualClock
from keyseal.domain.ipallow import IpAllowlist
from keyseal.domain.keys import Environment
from keyseal.domain.permissions import Permission
from keyseal.gate.cache import KeyCache
from keyseal.gate.entry import KeyEntry
from keyseal.gate.ratelimit import Rate, RateLimiter
from keyseal.gate.usage import UsageRecorder


def test_gcra_allows_the_stated_burst_then_refills_steadily() -> None:
    clock = ManualClock(1000.0)
    limiter = RateLimiter(clock)
    rate = Rate(10, 2)
    assert all(limiter.allow("acct", rate) for _ in range(10))
    assert not limiter.allow("acct", rate)
    clock.advance(0.2)  # one interval: exactly one more request
    assert limiter.allow("acct", rate)
    assert not limiter.allow("acct", rate)
    clock.advance(2)
    assert all(limiter.allow("acct", rate) for _ in range(10))


def test_limits_are_per_subject_and_can_be_disabled() -> None:
    clock = ManualClock(0.0)
    limiter = RateLimiter(clock)
    rate = Rate(1, 1)
    assert limiter.allow("a", rate) and limiter.allow("b", rate)
    assert not limiter.allow("a", rate)
    off = RateLimiter(clock, enabled=False)
    assert all(off.allow("a", rate) for _ in range(100))


def test_prune_forgets_only_idle_subjects() -> None:
    clock = ManualClock(0.0)
    limiter = RateLimiter(clock)
    limiter.allow("idle", Rate(10, 1))
    clock.advance(5)
    limiter.allow("busy", Rate(10, 1))
    assert limiter.prune() == 1 and len(limiter) == 1


def _entry(api_key: str, account_id: int = 1, master_id: int | None = None) -> KeyEntry:
    return KeyEntry(api_key=api_key, account_id=account_id, uid="1", main_uid="1", label="l",
                    secret=b"s", passphrase_hash="h", permission=Permission.READ,
                    allowlist=IpAllowlist(), environment=Environment.LIVE, frozen=False,
                    master_id=master_id, kyc_level=2, sub_account_access=False)


def test_cache_is_bounded_and_least_recently_used_goes_first() -> None:
    cache = KeyCache(ManualClock(0.0), capacity=2)
    cache.put("a", _entry("a"))
    cache.put("b", _entry("b"))
    assert cache.get("a")  # touch a
    cache.put("c", _entry("c"))
    assert cache.get("b") is None and cache.get("a") and cache.get("c")
    assert len(cache) == 2


def test_unknown_keys_are_remembered_briefly() -> None:
    clock = ManualClock(0.0)
    cache = KeyCache(clock, unknown_ttl=5)
    cache.put("ghost", None)
    assert cache.get("ghost") is False
    clock.advance(6)
    assert cache.get("ghost") is None


def test_evict_account_drops_its_keys_and_its_sub_accounts_keys() -> None:
    cache = KeyCache(ManualClock(0.0))
    cache.put("master", _entry("master", 1))
    cache.put("sub", _entry("sub", 2, master_id=1))
    cache.put("other", _entry("other", 3))
    cache.evict_account(1)
    assert cache.get("master") is None and cache.get("sub") is None and cache.get("other")


def test_usage_keeps_the_latest_per_key_and_restores_failed_batches() -> None:
    usage = UsageRecorder()
    for ms in range(100):
        usage.record("k", ms, "1.1.1.1")
    usage.record("j", 5, "2.2.2.2")
    batch = usage.drain()
    assert sorted(batch) == [("j", 5, "2.2.2.2"), ("k", 99, "1.1.1.1")]
    usage.record("k", 150, "3.3.3.3")
    usage.restore(batch)
    assert sorted(usage.drain()) == [("j", 5, "2.2.2.2"), ("k", 150, "3.3.3.3")]


async def test_a_burst_on_a_cold_key_loads_it_and_checks_its_passphrase_once() -> None:
    import asyncio

    from keyseal.gate.verifier import Gate, Guard

    clock = ManualClock(1_795_300_000.0)
    calls = {"load": 0, "argon2": 0}
    api_key = "11111111-2222-4333-8444-555555555555"

    async def load(key: str) -> KeyEntry | None:
        calls["load"] += 1
        await asyncio.sleep(0)
        return _entry(key)

    async def check(stored: str, candidate: str) -> bool:
        calls["argon2"] += 1
        await asyncio.sleep(0)
        return candidate == "Passw0rd!"

    gate = Gate(clock=clock, cache=KeyCache(clock), load_key=load, check_passphrase=check,
                limiter=RateLimiter(clock), usage=UsageRecorder())
    request = _signed(clock, api_key, "Passw0rd!")
    guard = Guard(Permission.READ, None, "GET /x")
    results = await asyncio.gather(*(gate.authenticate(request, guard) for _ in range(50)))
    assert len(results) == 50 and calls == {"load": 1, "argon2": 1}


async def test_a_change_during_a_load_is_not_overwritten_by_the_stale_read() -> None:
    import asyncio

    from keyseal.gate.verifier import Gate, Guard

    clock = ManualClock(1_795_300_000.0)
    cache = KeyCache(clock)
    api_key = "11111111-2222-4333-8444-555555555555"
    release = asyncio.Event()
    loads = 0

    async def slow_load(key: str) -> KeyEntry | None:
        nonlocal loads
        loads += 1
        await release.wait()
        return _entry(key)  # read before the change below was made

    async def check(stored: str, candidate: str) -> bool:
        return True

    gate = Gate(clock=clock, cache=cache, load_key=slow_load, check_passphrase=check,
                limiter=RateLimiter(clock), usage=UsageRecorder())
    request = _signed(clock, api_key, "p")
    pending = asyncio.create_task(gate.authenticate(request, Guard(Permission.READ, None, "x")))
    await asyncio.sleep(0)
    cache.evict(api_key)  # the key is disabled while its load is in flight
    release.set()
    await pending
    assert cache.get(api_key) is None  # the stale entry was not cached; the next request reloads
    await gate.authenticate(request, Guard(Permission.READ, None, "x"))
    assert loads == 2


async def test_one_caller_giving_up_does_not_cancel_the_others() -> None:
    import asyncio

    from keyseal.gate.verifier import _single_flight

    pending: dict[str, asyncio.Future[int]] = {}
    release = asyncio.Event()

    async def load() -> int:
        await release.wait()
        return 7

    first = asyncio.create_task(_single_flight(pending, "k", load))
    second = asyncio.create_task(_single_flight(pending, "k", load))
    await asyncio.sleep(0)
    first.cancel()
    release.set()
    assert await second == 7
    assert pending == {}


def test_unknown_ids_cannot_push_real_keys_out() -> None:
    cache = KeyCache(ManualClock(0.0), capacity=2, unknown_capacity=3)
    cache.put("real", _entry("real"))
    for i in range(100):
        cache.put(f"ghost{i}", None)
    assert cache.get("real") and cache.get("ghost99") is False and cache.get("ghost0") is None


def _signed(clock: ManualClock, api_key: str, passphrase: str):  # type: ignore[no-untyped-def]
    """A GET /x signed now with the secret ``s`` that ``_entry`` carries."""
    from keyseal.gate.verifier import SignedRequest
    from keyseal.signing import format_timestamp, sign_request

    ts = format_timestamp(clock())
    headers = {"ok-access-key": api_key, "ok-access-timestamp": ts,
               "ok-access-sign": sign_request(b"s", ts, "GET", "/x"),
               "ok-access-passphrase": passphrase}
    return SignedRequest("GET", b"/x", b"", headers, "127.0.0.1")


def test_a_cached_key_is_reloaded_after_its_max_age_keeping_only_valid_passphrase_results(
        ) -> None:
    clock = ManualClock(0.0)
    cache = KeyCache(clock, max_age=60)
    old = _entry("a")
    old.passphrase_ok = b"digest"
    cache.put("a", old)
    clock.advance(59.9)
    assert cache.get("a") is old
    clock.advance(0.1)
    assert cache.get("a") is None  # reloaded on the next request
    same_hash = _entry("a")
    cache.put("a", same_hash)
    assert cache.get("a") is same_hash and same_hash.passphrase_ok == b"digest"
    clock.advance(60)
    new_hash = _entry("a")
    new_hash.passphrase_hash = "another"  # the passphrase was changed meanwhile
    cache.put("a", new_hash)
    assert new_hash.passphrase_ok is None
