"""A flood of wrong passphrases against a real ``keyseal serve`` cannot delay the change
follower, the key loader or the usage writer: argon2 checks run on threads of their own
(``KEYSEAL_ARGON2_WORKERS``, 1 here), while the store's reads and writes keep the default
executor. The guessing budgets are lifted so that the flood really reaches argon2."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from keyseal.domain.commands import SetKeyStatus
from keyseal.domain.keys import KeyStatus
from keyseal.services import keys as key_service
from keyseal.services.runtime import Runtime, open_runtime
from keyseal.settings import Settings
from tests.conftest import make_key, signed_headers, start_server, stop_server

BALANCE = "/api/v5/account/balance"
FLOOD = 60  # ~86 ms of argon2 each on one thread: the flood lasts seconds
#: how soon a change must show, flood or not (the change log is read every 0.2 s)
PROMPT_S = 3.0


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, Runtime]]:
    home = tmp_path / "home"
    home.mkdir()
    process, url = start_server(home, env={
        "KEYSEAL_ARGON2_WORKERS": "1", "KEYSEAL_GUESS_ADDRESS_FAILURES": "1000000",
        "KEYSEAL_GUESS_KEY_FAILURES": "1000000"})
    rt = open_runtime(Settings(home=home))
    try:
        yield url, rt
    finally:
        stop_server(process)
        rt.close()


async def until(check, deadline_s: float) -> float:  # type: ignore[no-untyped-def]
    """Seconds until ``await check()`` is true (polled every 20 ms); fails past the deadline."""
    start = time.monotonic()
    while not await check():
        assert time.monotonic() - start < deadline_s, "not within the deadline"
        await asyncio.sleep(0.02)
    return time.monotonic() - start


async def test_a_passphrase_flood_does_not_delay_changes_loads_or_usage_writes(
        served: tuple[str, Runtime]) -> None:
    url, rt = served
    flooded, changed = make_key(rt), make_key(rt)
    limits = httpx.Limits(max_connections=FLOOD + 10)
    async with httpx.AsyncClient(base_url=url, timeout=60, limits=limits) as client:

        async def code(key: dict[str, str], **kwargs: str) -> str:
            response = await client.get(BALANCE, headers=signed_headers(key, "GET", BALANCE,
                                                                        **kwargs))
            return str(response.json()["code"])

        assert await code(changed) == "0"  # its passphrase is accepted before the flood
        done: list[str] = []

        async def guess(n: int) -> None:
            done.append(await code(flooded, passphrase=f"Flood-{n:05d}"))

        flood = [asyncio.ensure_future(guess(n)) for n in range(FLOOD)]
        await until(lambda: asyncio.sleep(0, bool(done)), 30)  # argon2 is busy now
        assert await code(changed) == "0"  # a use to write, during the flood

        # the usage writer: the use above is written within its interval
        async def written() -> bool:
            entry = await asyncio.to_thread(key_service.get_key, rt, changed["apiKey"])
            return entry.last_used_ms is not None

        usage_s = await until(written, PROMPT_S)
        # the key loader: a key made now is loaded from the store (a wrong signature needs
        # the key, not argon2)
        fresh = await asyncio.to_thread(make_key, rt)

        async def loaded() -> bool:
            return await code(fresh, secret="0" * 32) == "50113"

        load_s = await until(loaded, PROMPT_S)
        # the change follower: a key disabled elsewhere is refused here
        await asyncio.to_thread(key_service.set_key_status, rt,
                                SetKeyStatus(changed["apiKey"], KeyStatus.DISABLED))

        async def disabled() -> bool:
            return await code(changed) == "50100"

        change_s = await until(disabled, PROMPT_S)
        still_flooding = FLOOD - len(done)
        await asyncio.gather(*flood)
    assert still_flooding > 0, "the flood ended before the checks: it proved nothing"
    assert set(done) == {"50105"}
    print(f"during a flood of {FLOOD} argon2 checks ({still_flooding} still queued): usage "
          f"written in {usage_s:.2f} s, a new key loaded in {load_s:.2f} s, a disable "
          f"applied in {change_s:.2f} s")
