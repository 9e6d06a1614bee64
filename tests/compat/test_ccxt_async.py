"""ccxt.async_support (aiohttp transport, concurrent requests) and ccxt.pro WS login."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import ccxt
import ccxt.pro as ccxtpro
import pytest

from ._support import (
    ALL_PERMS,
    BTC_ADDRESS,
    TRADE_PERMS,
    D,
    ccxt_balance,
    make_ccxt_async,
    okx_code,
    with_secret,
)

pytestmark = pytest.mark.compat


async def test_async_load_markets_concurrent_instruments(live_server, okx_markets):
    """Async load_markets: 1 signed currencies call, then 5 instruments calls fired concurrently."""
    key = live_server.new_key(perm="read_only")
    ex = make_ccxt_async(live_server.url, key, None)
    try:
        markets = await ex.load_markets()
        assert set(markets) == set(okx_markets.markets)
        assert markets["BTC/USDT"]["id"] == "BTC-USDT"
        assert markets["ETH/USDT"]["spot"] is True
        assert {"BTC", "ETH", "USDT"} <= set(ex.currencies)
        assert "BTC-Bitcoin" in {n["id"] for n in ex.currencies["BTC"]["networks"].values()}
    finally:
        await ex.close()


async def test_async_fetch_balance_and_ccy_filter(live_server, ccxt_async_factory):
    email = live_server.new_account(credit={"USDT": "10000", "BTC": "1", "ETH": "5"})
    ex = ccxt_async_factory(live_server.new_key(email=email, perm="read_only"))

    bal = await ex.fetch_balance()
    assert ccxt_balance(bal, "USDT") == (Decimal("10000"), Decimal(0), Decimal("10000"))
    assert ccxt_balance(bal, "ETH") == (Decimal("5"), Decimal(0), Decimal("5"))

    filtered = await ex.fetch_balance({"ccy": "BTC,ETH"})
    assert ex.last_request_url == live_server.url + "/api/v5/account/balance?ccy=BTC%2CETH"
    assert {d["ccy"] for d in filtered["info"]["data"][0]["details"]} == {"BTC", "ETH"}
    assert ccxt_balance(filtered, "BTC")[2] == Decimal("1")


async def test_async_concurrent_private_calls(live_server, ccxt_async_factory):
    """Several signed requests in flight at once on one aiohttp session all verify."""
    ex = ccxt_async_factory(live_server.new_key(perm="read_only"), enableRateLimit=False)
    results = await asyncio.gather(
        ex.fetch_balance(),
        ex.fetch_balance({"ccy": "BTC"}),
        ex.fetch_open_orders("BTC/USDT"),
        ex.fetch_open_orders("ETH/USDT"),
        ex.privateGetAccountConfig(),
    )
    assert ccxt_balance(results[0], "USDT")[2] == Decimal("10000")
    assert ccxt_balance(results[1], "BTC")[2] == Decimal("1")
    assert results[2] == [] and results[3] == []
    assert results[4]["code"] == "0"


async def _async_buy_roundtrip(ex, live_server, endpoint: str):
    order = await ex.create_order("BTC/USDT", "limit", "buy", 0.01, 50000)
    assert ex.last_request_url == live_server.url + endpoint
    assert order["id"]

    bal = await ex.fetch_balance()
    assert ccxt_balance(bal, "USDT") == (Decimal("9500"), Decimal("500"), Decimal("10000"))
    open_orders = await ex.fetch_open_orders("BTC/USDT")
    assert [o["id"] for o in open_orders] == [order["id"]]
    assert D(open_orders[0]["price"]) == Decimal("50000")
    assert D(open_orders[0]["amount"]) == Decimal("0.01")

    await ex.cancel_order(order["id"], "BTC/USDT")
    assert await ex.fetch_open_orders("BTC/USDT") == []
    bal = await ex.fetch_balance()
    assert ccxt_balance(bal, "USDT") == (Decimal("10000"), Decimal(0), Decimal("10000"))


async def test_async_create_order_default_batch(live_server, ccxt_async_factory):
    ex = ccxt_async_factory(live_server.new_key(perm=TRADE_PERMS))
    await _async_buy_roundtrip(ex, live_server, "/api/v5/trade/batch-orders")


async def test_async_create_order_via_trade_order(live_server, ccxt_async_factory):
    ex = ccxt_async_factory(
        live_server.new_key(perm=TRADE_PERMS), options={"createOrder": "privatePostTradeOrder"}
    )
    await _async_buy_roundtrip(ex, live_server, "/api/v5/trade/order")


async def test_async_withdraw(live_server, ccxt_async_factory, okx_markets):
    ex = ccxt_async_factory(live_server.new_key(perm=ALL_PERMS))
    fee = D(okx_markets.currencies["BTC"]["networks"]["BTC"]["fee"])
    tx = await ex.withdraw("BTC", 0.01, BTC_ADDRESS, params={"network": "BTC"})
    assert tx["id"] and tx["currency"] == "BTC"
    bal = await ex.fetch_balance()
    assert ccxt_balance(bal, "BTC")[2] == Decimal("0.99") - fee


async def test_async_sandbox_demo_key(live_server, ccxt_async_factory):
    ex = ccxt_async_factory(live_server.new_key(perm=ALL_PERMS, demo=True), sandbox=True)
    bal = await ex.fetch_balance()
    assert ccxt_balance(bal, "BTC") == (Decimal("1"), Decimal(0), Decimal("1"))
    order = await ex.create_order("BTC/USDT", "limit", "sell", 0.5, 90000)
    bal = await ex.fetch_balance()
    assert ccxt_balance(bal, "BTC") == (Decimal("0.5"), Decimal("0.5"), Decimal("1"))
    await ex.cancel_order(order["id"], "BTC/USDT")
    with pytest.raises(ccxt.ExchangeError) as err:
        await ex.withdraw("BTC", 0.01, BTC_ADDRESS)
    assert okx_code(err.value) == "50038"
    bal = await ex.fetch_balance()
    assert ccxt_balance(bal, "BTC") == (Decimal("1"), Decimal(0), Decimal("1"))


async def test_async_demo_key_without_sandbox_is_refused(live_server, ccxt_async_factory):
    ex = ccxt_async_factory(live_server.new_key(perm="read_only", demo=True))
    with pytest.raises(ccxt.AuthenticationError) as err:
        await ex.fetch_balance()
    assert okx_code(err.value) == "50101"


async def test_async_wrong_secret(live_server, ccxt_async_factory):
    key = live_server.new_key(perm="read_only")
    ex = ccxt_async_factory(with_secret(key, secretKey="0" * len(key["secretKey"])))
    with pytest.raises(ccxt.AuthenticationError) as err:
        await ex.fetch_balance()
    assert okx_code(err.value) == "50113"


# --------------------------------------------------------------------------------------------
# ccxt.pro: WebSocket login (string timestamp)
# --------------------------------------------------------------------------------------------


def _pro(live_server, key: dict, *, sandbox: bool = False) -> ccxtpro.okx:
    ex = ccxtpro.okx({"apiKey": key["apiKey"], "secret": key["secretKey"], "password": key["passphrase"]})
    if sandbox:
        ex.set_sandbox_mode(True)
    ex.urls["api"]["rest"] = live_server.url
    ws_base = live_server.ws_url.split("?", 1)[0]
    assert ws_base.endswith("/private"), ws_base
    ex.urls["api"]["ws"] = ws_base[: -len("/private")]  # ccxt.pro appends /private itself
    return ex


async def test_ccxt_pro_authenticate_live_key(live_server):
    ex = _pro(live_server, live_server.new_key(perm="read_only"))
    try:
        assert await asyncio.wait_for(ex.authenticate(), 15) is True
    finally:
        await ex.close()


async def test_ccxt_pro_authenticate_demo_key_brokerid(live_server):
    """In sandbox mode ccxt.pro connects to /ws/v5/private?brokerId=9999."""
    ex = _pro(live_server, live_server.new_key(perm="read_only", demo=True), sandbox=True)
    try:
        assert ex.get_url("users", "private").endswith("/ws/v5/private?brokerId=9999")
        assert await asyncio.wait_for(ex.authenticate(), 15) is True
    finally:
        await ex.close()


async def test_ccxt_pro_authenticate_wrong_secret(live_server):
    key = live_server.new_key(perm="read_only")
    ex = _pro(live_server, with_secret(key, secretKey="0" * len(key["secretKey"])))
    try:
        with pytest.raises(ccxt.AuthenticationError):
            await asyncio.wait_for(ex.authenticate(), 15)
    finally:
        await ex.close()
