"""ccxt (sync) against a real `keyseal serve`: markets, balances, orders, withdrawals, demo mode."""

from __future__ import annotations

import time
from decimal import Decimal

import ccxt
import pytest

from ._support import (
    ALL_PERMS,
    BTC_ADDRESS,
    TRADE_PERMS,
    D,
    ccxt_balance,
    okx_code,
)

pytestmark = pytest.mark.compat


# --------------------------------------------------------------------------------------------
# load_markets / public endpoints
# --------------------------------------------------------------------------------------------


def test_load_markets_parses_spot_instruments(markets_loader):
    """ccxt's full load_markets (currencies + 5 instruments calls) succeeded against the server."""
    markets = markets_loader.markets
    assert {"BTC/USDT", "ETH/USDT"} <= set(markets)
    btc = markets["BTC/USDT"]
    assert btc["id"] == "BTC-USDT"
    assert (btc["base"], btc["quote"]) == ("BTC", "USDT")
    assert btc["spot"] is True and btc["type"] == "spot"
    assert btc["active"] is True
    # tickSz / lotSz / minSz came through OKX's instrument fields
    assert btc["precision"]["price"] and btc["precision"]["price"] > 0
    assert btc["precision"]["amount"] and btc["precision"]["amount"] > 0
    assert btc["limits"]["amount"]["min"] and btc["limits"]["amount"]["min"] > 0
    assert markets["ETH/USDT"]["id"] == "ETH-USDT"
    # FUTURES / SWAP / OPTION are empty on this server
    not_spot = [symbol for symbol, m in markets.items() if not m["spot"]]
    assert not_spot == []


def test_load_markets_parses_signed_currencies(markets_loader):
    """The signed GET /asset/currencies in load_markets verified and parsed, networks included."""
    currencies = markets_loader.currencies
    assert {"BTC", "ETH", "USDT"} <= set(currencies)
    btc_networks = {n["id"] for n in currencies["BTC"]["networks"].values()}
    eth_networks = {n["id"] for n in currencies["ETH"]["networks"].values()}
    usdt_networks = {n["id"] for n in currencies["USDT"]["networks"].values()}
    assert "BTC-Bitcoin" in btc_networks
    assert "ETH-ERC20" in eth_networks
    assert "USDT-TRC20" in usdt_networks
    assert currencies["BTC"]["networks"]["BTC"]["withdraw"] is True


def test_fetch_time_is_server_clock(ccxt_factory, live_server):
    ex = ccxt_factory({"apiKey": "", "secretKey": "", "passphrase": ""})
    server_ms = ex.fetch_time()
    assert abs(server_ms - time.time() * 1000) < 5000


# --------------------------------------------------------------------------------------------
# balances
# --------------------------------------------------------------------------------------------


def test_fetch_balance_reflects_credit(live_server, ccxt_factory):
    key = live_server.new_key(perm="read_only")  # fresh account: 10000 USDT, 1 BTC
    ex = ccxt_factory(key)
    bal = ex.fetch_balance()
    assert ccxt_balance(bal, "USDT") == (Decimal("10000"), Decimal(0), Decimal("10000"))
    assert ccxt_balance(bal, "BTC") == (Decimal("1"), Decimal(0), Decimal("1"))
    assert bal["info"]["code"] == "0"
    assert ex.last_request_url == live_server.url + "/api/v5/account/balance"


def test_fetch_balance_ccy_filter_percent_encoded(live_server, ccxt_factory):
    """ccxt signs and sends ``?ccy=BTC%2CETH``; the server must verify it and filter by it."""
    email = live_server.new_account(credit={"USDT": "10000", "BTC": "1", "ETH": "5"})
    key = live_server.new_key(email=email, perm="read_only")
    ex = ccxt_factory(key)
    bal = ex.fetch_balance({"ccy": "BTC,ETH"})
    assert ex.last_request_url == live_server.url + "/api/v5/account/balance?ccy=BTC%2CETH"
    details = bal["info"]["data"][0]["details"]
    assert {d["ccy"] for d in details} == {"BTC", "ETH"}
    assert ccxt_balance(bal, "BTC")[2] == Decimal("1")
    assert ccxt_balance(bal, "ETH")[2] == Decimal("5")
    assert "USDT" not in bal or not bal["USDT"].get("total")


def test_fetch_funding_balance(live_server, ccxt_factory):
    key = live_server.new_key(perm="read_only")
    ex = ccxt_factory(key)
    bal = ex.fetch_balance({"type": "funding"})
    assert ex.last_request_url == live_server.url + "/api/v5/asset/balances"
    assert bal["info"]["code"] == "0"
    assert isinstance(bal["info"]["data"], list)


# --------------------------------------------------------------------------------------------
# orders
# --------------------------------------------------------------------------------------------


def _order_roundtrip_buy(ex, live_server, expect_endpoint: str, body_is_array: bool):
    bal0 = ex.fetch_balance()
    assert ccxt_balance(bal0, "USDT") == (Decimal("10000"), Decimal(0), Decimal("10000"))

    order = ex.create_order("BTC/USDT", "limit", "buy", 0.01, 50000)
    assert ex.last_request_url == live_server.url + expect_endpoint
    assert ex.last_request_body.startswith("[" if body_is_array else "{")
    order_id = order["id"]
    assert order_id, order
    assert order["clientOrderId"], order  # ccxt's broker clOrdId echoed back

    # px * sz = 500 USDT moved from free to used; total unchanged
    bal1 = ex.fetch_balance()
    assert ccxt_balance(bal1, "USDT") == (Decimal("9500"), Decimal("500"), Decimal("10000"))
    assert ccxt_balance(bal1, "BTC")[0] == Decimal("1")

    open_orders = ex.fetch_open_orders("BTC/USDT")
    assert [o["id"] for o in open_orders] == [order_id]
    resting = open_orders[0]
    assert resting["symbol"] == "BTC/USDT"
    assert resting["side"] == "buy"
    assert resting["type"] == "limit"
    assert resting["status"] == "open"
    assert D(resting["price"]) == Decimal("50000")
    assert D(resting["amount"]) == Decimal("0.01")
    assert D(resting["filled"]) == 0

    fetched = ex.fetch_order(order_id, "BTC/USDT")
    assert fetched["id"] == order_id and fetched["status"] == "open"

    ex.cancel_order(order_id, "BTC/USDT")
    assert ex.fetch_open_orders("BTC/USDT") == []
    assert ex.fetch_order(order_id, "BTC/USDT")["status"] == "canceled"

    bal2 = ex.fetch_balance()
    assert ccxt_balance(bal2, "USDT") == (Decimal("10000"), Decimal(0), Decimal("10000"))


def test_create_order_default_batch_orders(live_server, ccxt_factory):
    """ccxt's default create_order POSTs a one-element array to /trade/batch-orders."""
    key = live_server.new_key(perm=TRADE_PERMS)
    ex = ccxt_factory(key)
    _order_roundtrip_buy(ex, live_server, "/api/v5/trade/batch-orders", body_is_array=True)


def test_create_order_via_trade_order(live_server, ccxt_factory):
    key = live_server.new_key(perm=TRADE_PERMS)
    ex = ccxt_factory(key, options={"createOrder": "privatePostTradeOrder"})
    _order_roundtrip_buy(ex, live_server, "/api/v5/trade/order", body_is_array=False)


def test_limit_sell_freezes_base_currency(live_server, ccxt_factory):
    key = live_server.new_key(perm=TRADE_PERMS)
    ex = ccxt_factory(key, options={"createOrder": "privatePostTradeOrder"})
    order = ex.create_order("BTC/USDT", "limit", "sell", 0.25, 70000)
    bal = ex.fetch_balance()
    assert ccxt_balance(bal, "BTC") == (Decimal("0.75"), Decimal("0.25"), Decimal("1"))
    assert ccxt_balance(bal, "USDT")[0] == Decimal("10000")
    (resting,) = ex.fetch_open_orders("BTC/USDT")
    assert resting["id"] == order["id"] and resting["side"] == "sell"
    ex.cancel_order(order["id"], "BTC/USDT")
    bal = ex.fetch_balance()
    assert ccxt_balance(bal, "BTC") == (Decimal("1"), Decimal(0), Decimal("1"))


def test_open_orders_are_per_symbol_and_per_account(live_server, ccxt_factory):
    email = live_server.new_account(credit={"USDT": "10000", "BTC": "1", "ETH": "5"})
    ex = ccxt_factory(live_server.new_key(email=email, perm=TRADE_PERMS))
    stranger = ccxt_factory(live_server.new_key(perm=TRADE_PERMS))

    btc = ex.create_order("BTC/USDT", "limit", "buy", 0.01, 40000)
    eth = ex.create_order("ETH/USDT", "limit", "sell", 1, 4000)
    assert [o["id"] for o in ex.fetch_open_orders("BTC/USDT")] == [btc["id"]]
    assert [o["id"] for o in ex.fetch_open_orders("ETH/USDT")] == [eth["id"]]
    assert stranger.fetch_open_orders("BTC/USDT") == []
    # another account cannot cancel it
    with pytest.raises(ccxt.OrderNotFound):
        stranger.cancel_order(btc["id"], "BTC/USDT")
    assert [o["id"] for o in ex.fetch_open_orders("BTC/USDT")] == [btc["id"]]

    bal = ex.fetch_balance()
    assert ccxt_balance(bal, "USDT") == (Decimal("9600"), Decimal("400"), Decimal("10000"))
    assert ccxt_balance(bal, "ETH") == (Decimal("4"), Decimal("1"), Decimal("5"))
    ex.cancel_order(btc["id"], "BTC/USDT")
    ex.cancel_order(eth["id"], "ETH/USDT")
    bal = ex.fetch_balance()
    assert ccxt_balance(bal, "USDT") == (Decimal("10000"), Decimal(0), Decimal("10000"))
    assert ccxt_balance(bal, "ETH") == (Decimal("5"), Decimal(0), Decimal("5"))


def test_create_orders_several_in_one_batch(live_server, ccxt_factory):
    key = live_server.new_key(perm=TRADE_PERMS)
    ex = ccxt_factory(key)
    orders = ex.create_orders(
        [
            {"symbol": "BTC/USDT", "type": "limit", "side": "buy", "amount": 0.01, "price": 30000},
            {"symbol": "BTC/USDT", "type": "limit", "side": "sell", "amount": 0.1, "price": 90000},
        ]
    )
    assert ex.last_request_url == live_server.url + "/api/v5/trade/batch-orders"
    ids = [o["id"] for o in orders]
    assert len(ids) == 2 and all(ids)
    assert sorted(o["id"] for o in ex.fetch_open_orders("BTC/USDT")) == sorted(ids)
    bal = ex.fetch_balance()
    assert ccxt_balance(bal, "USDT") == (Decimal("9700"), Decimal("300"), Decimal("10000"))
    assert ccxt_balance(bal, "BTC") == (Decimal("0.9"), Decimal("0.1"), Decimal("1"))
    for order_id in ids:
        ex.cancel_order(order_id, "BTC/USDT")
    assert ex.fetch_open_orders("BTC/USDT") == []


def test_order_beyond_balance_is_insufficient_funds(live_server, ccxt_factory):
    key = live_server.new_key(perm=TRADE_PERMS)
    ex = ccxt_factory(key)
    with pytest.raises(ccxt.InsufficientFunds):
        ex.create_order("BTC/USDT", "limit", "buy", 1, 50000)  # needs 50000 USDT, has 10000
    assert ex.fetch_open_orders("BTC/USDT") == []
    assert ccxt_balance(ex.fetch_balance(), "USDT")[0] == Decimal("10000")


# --------------------------------------------------------------------------------------------
# withdrawals
# --------------------------------------------------------------------------------------------


def test_withdraw_with_network_debits_balance(live_server, ccxt_factory, okx_markets):
    key = live_server.new_key(perm=ALL_PERMS)
    ex = ccxt_factory(key)
    fee = D(okx_markets.currencies["BTC"]["networks"]["BTC"]["fee"])

    tx = ex.withdraw("BTC", 0.01, BTC_ADDRESS, params={"network": "BTC"})
    assert ex.last_request_url == live_server.url + "/api/v5/asset/withdrawal"
    assert '"chain":"BTC-Bitcoin"' in ex.last_request_body
    assert tx["id"], tx
    assert tx["currency"] == "BTC"
    assert D(tx["amount"]) == Decimal("0.01")

    # OKX: the fee is not included in amt, so the account pays amt + fee
    bal = ex.fetch_balance()
    assert ccxt_balance(bal, "BTC")[0] == Decimal("1") - Decimal("0.01") - fee
    assert ccxt_balance(bal, "BTC")[2] == Decimal("1") - Decimal("0.01") - fee
    assert ccxt_balance(bal, "USDT")[2] == Decimal("10000")


def test_withdraw_without_network_uses_default_chain(live_server, ccxt_factory, okx_markets):
    key = live_server.new_key(perm=ALL_PERMS)
    ex = ccxt_factory(key)
    tx = ex.withdraw("BTC", 0.02, BTC_ADDRESS)
    assert '"chain"' not in ex.last_request_body
    assert tx["id"]
    fee = D(okx_markets.currencies["BTC"]["networks"]["BTC"]["fee"])
    assert ccxt_balance(ex.fetch_balance(), "BTC")[0] == Decimal("0.98") - fee


def test_withdraw_more_than_available_is_refused(live_server, ccxt_factory):
    key = live_server.new_key(perm=ALL_PERMS)
    ex = ccxt_factory(key)
    with pytest.raises(ccxt.InsufficientFunds):
        ex.withdraw("BTC", 5, BTC_ADDRESS, params={"network": "BTC"})
    assert ccxt_balance(ex.fetch_balance(), "BTC")[0] == Decimal("1")


# --------------------------------------------------------------------------------------------
# demo trading (set_sandbox_mode)
# --------------------------------------------------------------------------------------------


def test_sandbox_mode_with_demo_key(live_server, ccxt_factory):
    key = live_server.new_key(perm=ALL_PERMS, demo=True)  # credited in the demo ledger
    ex = ccxt_factory(key, sandbox=True)
    assert ex.headers.get("x-simulated-trading") == "1"
    assert ex.urls["api"]["rest"] == live_server.url

    bal = ex.fetch_balance()
    assert ccxt_balance(bal, "USDT") == (Decimal("10000"), Decimal(0), Decimal("10000"))

    order = ex.create_order("BTC/USDT", "limit", "buy", 0.02, 25000)
    bal = ex.fetch_balance()
    assert ccxt_balance(bal, "USDT") == (Decimal("9500"), Decimal("500"), Decimal("10000"))
    assert [o["id"] for o in ex.fetch_open_orders("BTC/USDT")] == [order["id"]]
    ex.cancel_order(order["id"], "BTC/USDT")
    assert ex.fetch_open_orders("BTC/USDT") == []
    assert ccxt_balance(ex.fetch_balance(), "USDT")[0] == Decimal("10000")

    # OKX: withdrawals are not available in demo trading (50038)
    with pytest.raises(ccxt.ExchangeError) as err:
        ex.withdraw("BTC", 0.01, BTC_ADDRESS, params={"network": "BTC"})
    assert okx_code(err.value) == "50038"
    assert ccxt_balance(ex.fetch_balance(), "BTC")[0] == Decimal("1")


def test_demo_and_live_ledgers_are_separate(live_server, ccxt_factory):
    email = live_server.new_account(credit={"USDT": "777"}, demo=True)
    demo = ccxt_factory(live_server.new_key(email=email, perm=TRADE_PERMS, demo=True), sandbox=True)
    live = ccxt_factory(live_server.new_key(email=email, perm=TRADE_PERMS))
    assert ccxt_balance(demo.fetch_balance(), "USDT")[2] == Decimal("777")
    assert ccxt_balance(live.fetch_balance(), "USDT")[2] == Decimal(0)

    order = demo.create_order("BTC/USDT", "limit", "buy", 0.001, 50000)
    assert live.fetch_open_orders("BTC/USDT") == []
    assert [o["id"] for o in demo.fetch_open_orders("BTC/USDT")] == [order["id"]]
    demo.cancel_order(order["id"], "BTC/USDT")


def test_live_key_in_sandbox_mode_is_refused(live_server, ccxt_factory):
    key = live_server.new_key(perm="read_only")
    ex = ccxt_factory(key, sandbox=True)
    with pytest.raises(ccxt.AuthenticationError) as err:
        ex.fetch_balance()
    assert okx_code(err.value) == "50101"


# --------------------------------------------------------------------------------------------
# implicit API (raw OKX dicts, no markets needed)
# --------------------------------------------------------------------------------------------


def test_implicit_api_account_config(live_server, ccxt_factory):
    key = live_server.new_key(perm=TRADE_PERMS)
    ex = ccxt_factory(key, markets=False)
    resp = ex.privateGetAccountConfig()
    assert resp["code"] == "0"
    (cfg,) = resp["data"]
    assert cfg["label"] == key["label"]
    assert set(cfg["perm"].split(",")) == set(key["perm"].split(","))
    assert ex.markets is None  # no load_markets was needed
