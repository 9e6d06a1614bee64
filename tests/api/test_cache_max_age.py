"""A cached key is reloaded after its maximum age, so a change the follower missed cannot
keep a disabled key working while it stays hot."""

from __future__ import annotations

from keyseal.domain.keys import KeyStatus
from keyseal.store import keys as key_rows
from tests.api.conftest import Api
from tests.conftest import envelope

BALANCE = "/api/v5/account/balance"


async def test_a_key_disabled_behind_the_caches_back_is_refused_after_the_max_age(
        api: Api) -> None:
    assert api.rt.settings.key_cache_max_age_s == 60.0
    key = api.key()
    assert envelope(await api.get(key, BALANCE))["code"] == "0"  # now cached
    with api.rt.db.write() as conn:  # no change row: the cache is not told
        key_rows.set_status(conn, key["apiKey"], KeyStatus.DISABLED)
    api.clock.advance(59.9)
    assert envelope(await api.get(key, BALANCE))["code"] == "0"  # still served from the cache
    api.clock.advance(0.1)
    assert envelope(await api.get(key, BALANCE))["code"] == "50100"


async def test_a_reload_after_the_max_age_keeps_the_accepted_passphrase(api: Api) -> None:
    key = api.key()
    assert envelope(await api.get(key, BALANCE))["code"] == "0"
    checks = 0
    check = api.app.state.gate._check_passphrase

    async def counting(stored: str, candidate: str) -> bool:
        nonlocal checks
        checks += 1
        return await check(stored, candidate)

    api.app.state.gate._check_passphrase = counting
    api.clock.advance(61)
    assert envelope(await api.get(key, BALANCE))["code"] == "0"
    assert checks == 0  # the reload re-used the argon2 result of the unchanged hash
