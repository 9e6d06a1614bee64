"""Guessing budgets: failed signatures and passphrases per source address and per key.

An in-process app behind httpx (each client its own source address), with the manual clock,
so the windows and lock-outs are seen to pass without waiting."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import httpx
import pytest

from keyseal.clock import ManualClock
from keyseal.http.app import create_app
from keyseal.http.state import _AUDIT_WRITER
from keyseal.services import audit as audit_service
from keyseal.services.runtime import Runtime
from tests.api.conftest import Api
from tests.conftest import envelope

BALANCE = "/api/v5/account/balance"
WRONG_SECRET = "0" * 32


class Counted:
    """Wraps the gate's own key loader and argon2 check, to count the work they do."""

    def __init__(self, api: Api) -> None:
        gate = api.app.state.gate
        self.loads: list[str] = []
        self.argon2: list[str] = []
        load, check = gate._load_key, gate._check_passphrase

        async def counting_load(api_key: str):  # type: ignore[no-untyped-def]
            self.loads.append(api_key)
            return await load(api_key)

        async def counting_check(stored: str, passphrase: str) -> bool:
            self.argon2.append(passphrase)
            return await check(stored, passphrase)

        gate._load_key, gate._check_passphrase = counting_load, counting_check


@pytest.fixture
async def api(sqlite_rt: Runtime, clock: ManualClock) -> AsyncIterator[Api]:
    app = create_app(sqlite_rt)
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://keyseal.test") as client:
        yield Api(app, client, sqlite_rt, clock)


@pytest.fixture
async def from_address(api: Api) -> AsyncIterator[Callable[[str], httpx.AsyncClient]]:
    """A client of the same app calling from another source address."""
    clients: list[httpx.AsyncClient] = []

    def make(ip: str) -> httpx.AsyncClient:
        transport = httpx.ASGITransport(app=api.app, client=(ip, 50000))
        clients.append(httpx.AsyncClient(transport=transport, base_url="http://keyseal.test"))
        return clients[-1]

    yield make
    for client in clients:
        await client.aclose()


def budgets(api: Api) -> tuple[int, int]:
    limits = api.rt.settings.guessing
    return limits.address_failures, limits.key_failures


async def test_an_address_past_its_budget_of_bad_signatures_is_refused_before_any_lookup(
        api: Api, from_address: Callable[[str], httpx.AsyncClient]) -> None:
    per_address, _ = budgets(api)
    key, fresh = api.key(), api.key()
    codes = [envelope(await api.get(key, BALANCE, secret=WRONG_SECRET))["code"]
             for _ in range(per_address)]
    assert codes == ["50113"] * per_address
    counted = Counted(api)
    # now refused, with the good secret too, and for a key never loaded: no store read
    for target_key in (key, fresh):
        response = await api.get(target_key, BALANCE)
        body = envelope(response)
        assert (response.status_code, body["code"]) == (429, "70080")
        assert body["msg"].endswith("retry in 60 seconds")
    assert counted.loads == [] and counted.argon2 == []
    assert api.app.state.gate.guessing is not None
    assert api.app.state.gate.guessing.refused_addresses == 2
    # another address is not affected
    other = from_address("127.0.0.2")
    headers = api.headers(fresh, "GET", BALANCE)
    assert envelope(await other.get(BALANCE, headers=headers))["code"] == "0"
    # and after the lock-out the address may try again
    api.clock.advance(30)
    assert "retry in 30 seconds" in envelope(await api.get(key, BALANCE))["msg"]
    api.clock.advance(30)
    assert envelope(await api.get(key, BALANCE))["code"] == "0"


async def test_failures_spread_over_more_than_the_window_are_not_a_lock_out(api: Api) -> None:
    per_address, _ = budgets(api)
    key = api.key()
    for _ in range(3):
        for _ in range(per_address - 1):
            assert envelope(await api.get(key, BALANCE, secret=WRONG_SECRET))["code"] == "50113"
        api.clock.advance(61)
    assert envelope(await api.get(key, BALANCE))["code"] == "0"


async def test_wrong_passphrases_for_one_key_from_many_addresses_lock_the_key_not_its_owner(
        api: Api, from_address: Callable[[str], httpx.AsyncClient]) -> None:
    """The holder of a stolen secret, from ten addresses: after the key's budget, no argon2
    is spent on its guesses; the owner, whose passphrase was already accepted, goes on."""
    _, per_key = budgets(api)
    key = api.key()
    assert envelope(await api.get(key, BALANCE))["code"] == "0"  # the owner
    counted = Counted(api)
    codes = []
    for n in range(per_key + 5):
        attacker = from_address(f"127.0.1.{n + 1}")
        headers = api.headers(key, "GET", BALANCE, passphrase=f"Guess-{n:04d}")
        codes.append(envelope(await attacker.get(BALANCE, headers=headers))["code"])
    assert codes == ["50105"] * per_key + ["70081"] * 5
    assert len(counted.argon2) == per_key
    # the owner is not locked out: a passphrase this process already accepted needs no
    # argon2 check, from any address
    assert envelope(await api.get(key, BALANCE))["code"] == "0"
    elsewhere = from_address("127.0.2.1")
    response = await elsewhere.get(BALANCE, headers=api.headers(key, "GET", BALANCE))
    assert envelope(response)["code"] == "0"
    assert len(counted.argon2) == per_key
    guessing = api.app.state.gate.guessing
    assert guessing is not None
    assert (guessing.failed_passphrases, guessing.keys_locked_out, guessing.refused_keys) == (
        per_key, 1, 5)
    # one audit event, written off the event loop
    await asyncio.wrap_future(_AUDIT_WRITER.submit(lambda: None))
    events = [e for e in audit_service.events(api.rt, api_key=key["apiKey"])
              if e.event == "passphrase_guessing"]
    assert len(events) == 1
    assert events[0].actor == "system:gate" and events[0].source_ip == f"127.0.1.{per_key}"
    assert events[0].details["failures"] == per_key
    assert "Guess-" not in str(events[0])


async def test_a_cold_key_locked_out_refuses_even_the_right_passphrase_without_argon2(
        api: Api, from_address: Callable[[str], httpx.AsyncClient]) -> None:
    _, per_key = budgets(api)
    key = api.key()
    for n in range(per_key):
        attacker = from_address(f"127.0.3.{n + 1}")
        headers = api.headers(key, "GET", BALANCE, passphrase=f"Guess-{n:04d}")
        assert envelope(await attacker.get(BALANCE, headers=headers))["code"] == "50105"
    counted = Counted(api)
    response = await api.get(key, BALANCE)
    assert (response.status_code, envelope(response)["code"]) == (429, "70081")
    assert counted.argon2 == []
    api.clock.advance(api.rt.settings.guessing.key_lockout_s)
    assert envelope(await api.get(key, BALANCE))["code"] == "0"


async def test_a_burst_of_concurrent_guesses_cannot_overrun_the_budget(api: Api) -> None:
    """Checks under way count: fifty guesses sent at once start at most the budget's argon2
    checks, not fifty."""
    _, per_key = budgets(api)
    key = api.key()
    counted = Counted(api)
    responses = await asyncio.gather(*(
        api.get(key, BALANCE, passphrase=f"Burst-{n:04d}") for n in range(50)))
    codes = [envelope(r)["code"] for r in responses]
    assert codes.count("50105") == per_key and codes.count("70081") == 50 - per_key
    assert len(counted.argon2) == per_key


async def test_repeating_one_wrong_passphrase_counts_but_costs_one_argon2_check(
        api: Api) -> None:
    per_address, _ = budgets(api)
    key = api.key()
    counted = Counted(api)
    codes = [envelope(await api.get(key, BALANCE, passphrase="Same-Wrong1"))["code"]
             for _ in range(12)]
    assert len(counted.argon2) == 1
    assert codes[:10] == ["50105"] * 10 and set(codes[10:]) == {"70081"}
    assert per_address > 12  # the key's budget, not the address's, refused these


async def test_a_burst_of_right_passphrases_on_a_cold_key_is_let_through(api: Api) -> None:
    """Twenty concurrent requests with the right passphrase on a key not yet checked (after a
    restart, or a change that dropped it from the cache) share one argon2 check, and none is
    taken for a guess: they are one check under way, not twenty."""
    _, per_key = budgets(api)
    api.app.state.limiter.enabled = False  # balance's own limit (10 per 2 s) is not the point
    key = api.key()
    counted = Counted(api)
    responses = await asyncio.gather(*(api.get(key, BALANCE) for _ in range(2 * per_key)))
    assert [envelope(r)["code"] for r in responses] == ["0"] * (2 * per_key)
    assert len(counted.argon2) == 1
