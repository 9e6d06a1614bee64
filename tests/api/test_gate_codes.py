"""Every refusal of the gate, in the order of DESIGN.md, with OKX's code and HTTP status."""

from __future__ import annotations

import asyncio

import pytest

from keyseal.domain.commands import SetKeyStatus
from keyseal.domain.keys import KeyStatus
from keyseal.services import keys as key_service
from keyseal.signing import format_timestamp
from tests.api.conftest import Api
from tests.conftest import envelope, make_account

BALANCE = "/api/v5/account/balance"


async def test_a_good_request_passes(api: Api) -> None:
    response = await api.get(api.key(), BALANCE)
    assert response.status_code == 200 and envelope(response)["code"] == "0"


@pytest.mark.parametrize(("missing", "code"), [
    ("OK-ACCESS-KEY", "50103"), ("OK-ACCESS-SIGN", "50106"),
    ("OK-ACCESS-TIMESTAMP", "50107"), ("OK-ACCESS-PASSPHRASE", "50104"),
])
@pytest.mark.parametrize("how", ["absent", "empty"])
async def test_missing_or_empty_headers(api: Api, missing: str, code: str, how: str) -> None:
    headers = api.headers(api.key(), "GET", BALANCE)
    if how == "absent":
        del headers[missing]
    else:
        headers[missing] = ""
    response = await api.client.get(BALANCE, headers=headers)
    assert response.status_code == 401 and envelope(response)["code"] == code


async def test_headers_are_checked_in_okx_order(api: Api) -> None:
    response = await api.client.get(BALANCE, headers={"OK-ACCESS-TIMESTAMP": "x"})
    assert envelope(response)["code"] == "50103"


@pytest.mark.parametrize("timestamp", ["yesterday", "1607418537", "2020-12-08 09:08", "%%%"])
async def test_garbage_timestamp_is_50112(api: Api, timestamp: str) -> None:
    response = await api.get(api.key(), BALANCE, timestamp=timestamp)
    assert response.status_code == 401 and envelope(response)["code"] == "50112"


async def test_unknown_key_is_50111(api: Api) -> None:
    key = dict(api.key(), apiKey="11111111-2222-4333-8444-555555555555")
    response = await api.get(key, BALANCE)
    assert (response.status_code, envelope(response)["code"]) == (401, "50111")
    response = await api.get(dict(key, apiKey="not-a-uuid"), BALANCE)
    assert envelope(response)["code"] == "50111"


async def test_demo_and_live_keys_need_the_matching_header(api: Api) -> None:
    live, demo = api.key(), api.key(demo=True)
    assert envelope(await api.get(live, BALANCE, demo=True))["code"] == "50101"
    assert envelope(await api.get(demo, BALANCE))["code"] == "50101"
    assert envelope(await api.get(demo, BALANCE, demo=True))["code"] == "0"
    zero = api.headers(live, "GET", BALANCE)
    zero["x-simulated-trading"] = "0"  # python-okx's live flag
    assert envelope(await api.client.get(BALANCE, headers=zero))["code"] == "0"


async def test_disabled_key_is_50100_until_enabled(api: Api) -> None:
    key = api.key()
    assert envelope(await api.get(key, BALANCE))["code"] == "0"
    key_service.set_key_status(api.rt, SetKeyStatus(key["apiKey"], KeyStatus.DISABLED))
    api.app.state.key_cache.evict(key["apiKey"])  # what the change follower does
    response = await api.get(key, BALANCE)
    assert (response.status_code, envelope(response)["code"]) == (400, "50100")
    key_service.set_key_status(api.rt, SetKeyStatus(key["apiKey"], KeyStatus.ENABLED))
    api.app.state.key_cache.evict(key["apiKey"])
    assert envelope(await api.get(key, BALANCE))["code"] == "0"


@pytest.mark.parametrize(("skew", "code"), [(-31, "50102"), (31, "50102"), (-29, "0"), (29, "0")])
async def test_timestamp_window_is_30_seconds_both_ways(api: Api, skew: float, code: str) -> None:
    key = api.key()
    response = await api.get(key, BALANCE, timestamp=format_timestamp(api.clock() + skew))
    assert envelope(response)["code"] == code


async def test_wrong_passphrase_is_50105_even_after_a_good_one(api: Api) -> None:
    key = api.key()
    assert envelope(await api.get(key, BALANCE))["code"] == "0"
    for _ in range(2):  # the second wrong try is answered from the cache of refusals
        response = await api.get(key, BALANCE, passphrase="Wrong-Pass1")
        assert (response.status_code, envelope(response)["code"]) == (401, "50105")


async def test_wrong_secret_is_50113_invalid_sign(api: Api) -> None:
    response = await api.get(api.key(), BALANCE, secret="0" * 32)
    body = envelope(response)
    assert (response.status_code, body["code"], body["msg"]) == (401, "50113", "Invalid Sign")


async def test_signature_covers_the_raw_query_and_body(api: Api) -> None:
    key = api.key(perm="read_only,trade")
    # signed one query, sent another
    headers = api.headers(key, "GET", BALANCE + "?ccy=BTC")
    response = await api.client.get(BALANCE + "?ccy=ETH", headers=headers)
    assert envelope(response)["code"] == "50113"
    # ccxt encodes commas and signs the encoded form; python-okx signs the raw form
    for target in (BALANCE + "?ccy=BTC%2CETH", BALANCE + "?ccy=BTC,ETH"):
        assert envelope(await api.get(key, target))["code"] == "0"
    # signed spaced JSON, sent compact JSON
    spaced, compact = '{"instId": "BTC-USDT"}', '{"instId":"BTC-USDT"}'
    headers = api.headers(key, "POST", "/api/v5/trade/cancel-order", spaced)
    response = await api.client.post("/api/v5/trade/cancel-order", content=compact,
                                      headers=headers)
    assert envelope(response)["code"] == "50113"


async def test_percent_decoded_target_is_the_second_chance(api: Api) -> None:
    key = api.key()
    # python-okx signs "ccy=BTC ETH"; httpx sends "ccy=BTC%20ETH"
    headers = api.headers(key, "GET", BALANCE + "?ccy=BTC ETH")
    response = await api.client.get(BALANCE + "?ccy=BTC%20ETH", headers=headers)
    assert envelope(response)["code"] == "0"


async def test_ip_allowlist_is_50110_naming_the_ip(api: Api) -> None:
    refused = await api.get(api.key(ip="10.1.2.3,2001:db8::/48"), BALANCE)
    body = envelope(refused)
    assert (refused.status_code, body["code"]) == (401, "50110") and "127.0.0.1" in body["msg"]
    allowed = await api.get(api.key(ip="10.1.2.3 127.0.0.0/16"), BALANCE)
    assert envelope(allowed)["code"] == "0"


async def test_permission_is_50120(api: Api) -> None:
    order = '{"instId":"BTC-USDT","tdMode":"cash","side":"buy","ordType":"limit","sz":"0.01","px":"100"}'
    read_only = await api.post(api.key(), "/api/v5/trade/order", order)
    assert (read_only.status_code, envelope(read_only)["code"]) == (200, "50120")
    withdraw = '{"ccy":"BTC","amt":"0.01","dest":"4","toAddr":"bc1q"}'
    trade_only = await api.post(api.key(perm="trade"), "/api/v5/asset/withdrawal", withdraw)
    assert envelope(trade_only)["code"] == "50120"


async def test_demo_requests_do_not_spend_the_live_limits(api: Api) -> None:
    email = make_account(api.rt)
    demo = api.key(email=email, demo=True)
    codes = [envelope(await api.get(demo, BALANCE, demo=True))["code"] for _ in range(11)]
    assert codes[-1] == "50011"
    assert envelope(await api.get(api.key(email=email), BALANCE))["code"] == "0"


async def test_rate_limit_is_50011_http_429_per_account(api: Api) -> None:
    email = make_account(api.rt)
    key = api.key(email=email)
    codes = [envelope(await api.get(key, BALANCE))["code"] for _ in range(11)]
    assert codes == ["0"] * 10 + ["50011"]
    limited = await api.get(key, BALANCE)
    assert limited.status_code == 429
    # another key of the same account shares the bucket; another account does not
    assert envelope(await api.get(api.key(email=email), BALANCE))["code"] == "50011"
    assert envelope(await api.get(api.key(), BALANCE))["code"] == "0"
    # other endpoints have their own buckets
    assert envelope(await api.get(key, "/api/v5/account/config"))["code"] == "0"
    api.clock.advance(2)
    assert envelope(await api.get(key, BALANCE, timestamp=format_timestamp(api.clock())))["code"] == "0"


async def test_a_key_id_alone_buys_no_argon2_work_and_no_passphrase_guesses(
        api: Api, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import keyseal.services.keys as key_module

    checks: list[str] = []
    real = key_module.verify_hash
    monkeypatch.setattr(key_module, "verify_hash",
                        lambda stored, pw: checks.append(pw) or real(stored, pw))
    key = api.key(ip="127.0.0.1")  # the test client's own address
    for guess in ("Guess-One1", "Guess-Two2", key["passphrase"]):
        response = await api.get(key, BALANCE, passphrase=guess, secret="0" * 32)
        assert envelope(response)["code"] == "50113"  # the same answer, right guess or not
    assert checks == []
    # with the secret, a wrong passphrase is 50105 and a right one passes
    assert envelope(await api.get(key, BALANCE, passphrase="Wrong-Pass1"))["code"] == "50105"
    assert envelope(await api.get(key, BALANCE))["code"] == "0"
    assert len(checks) == 2


async def test_usage_is_recorded_in_memory_then_written_once(api: Api) -> None:
    from keyseal.http.background import flush_usage

    key = api.key()
    await asyncio.gather(*(api.get(key, "/api/v5/account/config") for _ in range(5)))
    assert key_service.get_key(api.rt, key["apiKey"]).last_used_ms is None  # no write per request
    assert flush_usage(api.app.state) == 1
    used = key_service.get_key(api.rt, key["apiKey"])
    assert used.last_used_ms == int(api.clock() * 1000) and used.last_used_ip == "127.0.0.1"


async def test_outside_the_allow_list_a_passphrase_is_never_tried(api: Api) -> None:
    """The holder of a stolen secret, calling from outside the key's IP allow-list, learns
    nothing about passphrases: right or wrong, the answer is 50110, and no argon2 is spent."""
    key = api.key(ip="10.0.0.1")
    gate = api.app.state.gate
    checked: list[str] = []
    check = gate._check_passphrase

    async def counting(stored: str, passphrase: str) -> bool:
        checked.append(passphrase)
        return await check(stored, passphrase)

    gate._check_passphrase = counting
    wrong = await api.get(key, BALANCE, passphrase=key["passphrase"] + "x")
    right = await api.get(key, BALANCE)
    assert [envelope(r)["code"] for r in (wrong, right)] == ["50110", "50110"]
    assert checked == []
