"""The gate counts every signed request it judges, by key, day and code, in memory; the
usage writer adds the counts to the store; the chart's service reads them back."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from keyseal import errors
from keyseal.domain.actors import OPERATOR
from keyseal.http.background import flush_usage
from keyseal.services import activity as activity_service
from keyseal.services import keys as key_service
from tests.api.conftest import Api
from tests.conftest import envelope

BALANCE = "/api/v5/account/balance"
ORDER = '{"instId":"BTC-USDT","tdMode":"cash","side":"buy","ordType":"limit","sz":"0.01","px":"100"}'


def _today(api: Api, api_key: str) -> tuple[int, dict[str, int]]:
    day = activity_service.requests_per_day(api.rt, OPERATOR, api_key)[-1]
    return day.ok, dict(day.refusals)


async def test_let_through_and_refused_requests_are_counted_by_code(api: Api) -> None:
    key = api.key()
    other = api.key()
    codes = [envelope(r)["code"] for r in await asyncio.gather(
        *(api.get(key, BALANCE) for _ in range(3)),
        api.get(key, BALANCE, passphrase="Wrong-Pass1"),
        api.get(key, BALANCE, secret="0" * 32),
        api.get(key, BALANCE, secret="0" * 32),
        api.post(key, "/api/v5/trade/order", ORDER),
        api.get(other, BALANCE))]
    assert sorted(codes) == ["0", "0", "0", "0", "50105", "50113", "50113", "50120"]
    no_timestamp = api.headers(key, "GET", BALANCE)
    del no_timestamp["OK-ACCESS-TIMESTAMP"]
    assert envelope(await api.client.get(BALANCE, headers=no_timestamp))["code"] == "50107"

    assert _today(api, key["apiKey"]) == (0, {})  # nothing written per request
    flush_usage(api.app.state)
    assert _today(api, key["apiKey"]) == (3, {"50105": 1, "50107": 1, "50113": 2, "50120": 1})
    assert _today(api, other["apiKey"]) == (1, {})
    await api.get(key, BALANCE)
    flush_usage(api.app.state)  # the next batch adds to the first
    assert _today(api, key["apiKey"])[0] == 4


async def test_ids_that_are_no_key_add_nothing(api: Api) -> None:
    """A flood of random ids (or of one deleted key) is refused without a trace in memory:
    only keys that exist are counted."""
    fake = {"apiKey": "", "secretKey": "0" * 32, "passphrase": "Sandbox-Pass1"}
    for api_key in [str(uuid.uuid4()) for _ in range(200)] + ["not-a-uuid"]:
        response = await api.get({**fake, "apiKey": api_key}, BALANCE)
        assert envelope(response)["code"] == "50111"
    assert len(api.app.state.activity) == 0


async def test_a_failed_write_is_put_back_and_written_next_time(
        api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    key = api.key()
    await api.get(key, BALANCE)
    await api.get(key, BALANCE, passphrase="Wrong-Pass1")

    def down(*_: object) -> None:
        raise ConnectionError("database unreachable")

    with monkeypatch.context() as patched:
        patched.setattr(activity_service, "record_requests", down)
        with pytest.raises(ConnectionError):
            flush_usage(api.app.state)
    # the last-used time was still written; the counts wait in memory
    assert key_service.get_key(api.rt, key["apiKey"]).last_used_ms is not None
    assert len(api.app.state.activity) == 2
    await api.get(key, BALANCE)
    flush_usage(api.app.state)
    assert _today(api, key["apiKey"]) == (2, {"50105": 1})


async def test_a_websocket_login_is_counted_too(api: Api) -> None:
    from keyseal.domain.keys import Environment
    from keyseal.signing import sign_ws_login

    key = api.key()
    now = api.clock()
    text = str(int(now))
    gate = api.app.state.gate
    await gate.login(key["apiKey"], key["passphrase"], now,
                     sign_ws_login(key["secretKey"].encode(), text), text, Environment.LIVE,
                     "127.0.0.1")
    with pytest.raises(errors.OkxError) as refused:
        await gate.login(key["apiKey"], key["passphrase"], now,
                         sign_ws_login(b"0" * 32, text), text, Environment.LIVE, "127.0.0.1")
    assert refused.value.code == "50113"
    flush_usage(api.app.state)
    assert _today(api, key["apiKey"]) == (1, {"50113": 1})
