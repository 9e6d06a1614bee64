"""python-okx (httpx transport, spaced JSON bodies, unencoded queries) against `keyseal serve`."""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal

import okx.Account as Account
import okx.Funding as Funding
import okx.PublicData as PublicData
import okx.Trade as Trade
import pytest
from okx.websocket.WsPrivateAsync import WsPrivateAsync

from ._support import ALL_PERMS, BTC_ADDRESS, TRADE_PERMS, D, chain_fee, okx_details, perm_set

pytestmark = pytest.mark.compat


def _assert_money(detail: dict, cash: str, avail: str, frozen: str) -> None:
    assert D(detail["cashBal"]) == Decimal(cash), detail
    assert D(detail["availBal"]) == Decimal(avail), detail
    assert D(detail["frozenBal"]) == Decimal(frozen), detail
    assert D(detail["eq"]) == Decimal(cash), detail


# --------------------------------------------------------------------------------------------
# account
# --------------------------------------------------------------------------------------------


def test_get_account_balance(live_server, okx_sdk):
    acc = okx_sdk(Account.AccountAPI, live_server.new_key(perm="read_only"))
    details = okx_details(acc.get_account_balance())
    assert {"USDT", "BTC"} <= set(details)
    _assert_money(details["USDT"], "10000", "10000", "0")
    _assert_money(details["BTC"], "1", "1", "0")


def test_get_account_balance_ccy_unencoded_comma(live_server, okx_sdk):
    """python-okx signs and sends ``?ccy=BTC,ETH`` with a raw comma."""
    email = live_server.new_account(credit={"USDT": "10000", "BTC": "1", "ETH": "5"})
    acc = okx_sdk(Account.AccountAPI, live_server.new_key(email=email, perm="read_only"))

    both = okx_details(acc.get_account_balance(ccy="BTC,ETH"))
    assert set(both) == {"BTC", "ETH"}
    _assert_money(both["ETH"], "5", "5", "0")

    only_btc = okx_details(acc.get_account_balance(ccy="BTC"))
    assert set(only_btc) == {"BTC"}
    _assert_money(only_btc["BTC"], "1", "1", "0")


def test_value_signed_raw_but_sent_encoded_still_verifies(live_server, okx_sdk):
    """python-okx signs ``?ccy=BTC ETH`` but httpx sends ``?ccy=BTC%20ETH``.

    The server must fall back to the percent-decoded target instead of answering 50113.
    """
    acc = okx_sdk(Account.AccountAPI, live_server.new_key(perm="read_only"))
    resp = acc.get_account_balance(ccy="BTC ETH")
    assert resp["code"] == "0", resp


def test_get_account_config_describes_calling_key(live_server, okx_sdk):
    email = live_server.new_account(kyc_level=2)
    key = live_server.new_key(email=email, perm=TRADE_PERMS, ip="127.0.0.1")
    other = live_server.new_key(email=email, perm="read_only")

    resp = okx_sdk(Account.AccountAPI, key).get_account_config()
    assert resp["code"] == "0", resp
    (cfg,) = resp["data"]
    assert cfg["label"] == key["label"]
    assert perm_set(cfg["perm"]) == perm_set(key["perm"]) == {"read_only", "trade"}
    assert cfg["ip"] == "127.0.0.1"
    assert cfg["kycLv"] == "2"
    assert cfg["uid"] and cfg["mainUid"]

    # the same account through another key: same uid, that key's own label/perm/ip
    (cfg2,) = okx_sdk(Account.AccountAPI, other).get_account_config()["data"]
    assert cfg2["uid"] == cfg["uid"]
    assert cfg2["label"] == other["label"] != key["label"]
    assert perm_set(cfg2["perm"]) == {"read_only"}
    assert cfg2["ip"] == ""


# --------------------------------------------------------------------------------------------
# trade
# --------------------------------------------------------------------------------------------


def test_place_and_cancel_order(live_server, okx_sdk):
    key = live_server.new_key(perm=TRADE_PERMS)
    trade = okx_sdk(Trade.TradeAPI, key)
    acc = okx_sdk(Account.AccountAPI, key)

    placed = trade.place_order(
        instId="BTC-USDT", tdMode="cash", side="buy", ordType="limit", sz="0.01", px="50000"
    )
    assert placed["code"] == "0", placed
    (ack,) = placed["data"]
    assert ack["sCode"] == "0" and ack["ordId"], ack
    ord_id = ack["ordId"]

    details = okx_details(acc.get_account_balance(ccy="USDT"))
    _assert_money(details["USDT"], "10000", "9500", "500")

    pending = trade.get_order_list(instId="BTC-USDT")
    assert pending["code"] == "0", pending
    assert [o["ordId"] for o in pending["data"]] == [ord_id]
    resting = pending["data"][0]
    assert resting["state"] == "live"
    assert (resting["side"], resting["ordType"]) == ("buy", "limit")
    assert D(resting["px"]) == Decimal("50000") and D(resting["sz"]) == Decimal("0.01")

    got = trade.get_order(instId="BTC-USDT", ordId=ord_id)
    assert got["code"] == "0" and got["data"][0]["state"] == "live", got

    cancelled = trade.cancel_order(instId="BTC-USDT", ordId=ord_id)  # also sends "clOrdId": ""
    assert cancelled["code"] == "0", cancelled
    assert cancelled["data"][0]["ordId"] == ord_id
    assert cancelled["data"][0]["sCode"] == "0"

    assert trade.get_order_list(instId="BTC-USDT")["data"] == []
    assert trade.get_order(instId="BTC-USDT", ordId=ord_id)["data"][0]["state"] == "canceled"
    details = okx_details(acc.get_account_balance(ccy="USDT"))
    _assert_money(details["USDT"], "10000", "10000", "0")


def test_place_order_by_client_order_id_and_cancel_by_it(live_server, okx_sdk):
    key = live_server.new_key(perm=TRADE_PERMS)
    trade = okx_sdk(Trade.TradeAPI, key)
    placed = trade.place_order(
        instId="BTC-USDT",
        tdMode="cash",
        side="sell",
        ordType="limit",
        sz="0.3",
        px="80000",
        clOrdId="mybot0001",
    )
    assert placed["code"] == "0", placed
    assert placed["data"][0]["clOrdId"] == "mybot0001"
    details = okx_details(okx_sdk(Account.AccountAPI, key).get_account_balance(ccy="BTC"))
    _assert_money(details["BTC"], "1", "0.7", "0.3")

    cancelled = trade.cancel_order(instId="BTC-USDT", clOrdId="mybot0001")
    assert cancelled["code"] == "0", cancelled
    assert trade.get_order_list(instId="BTC-USDT")["data"] == []


# --------------------------------------------------------------------------------------------
# funding
# --------------------------------------------------------------------------------------------


def test_withdrawal_debits_balance(live_server, okx_sdk):
    key = live_server.new_key(perm=ALL_PERMS)
    fund = okx_sdk(Funding.FundingAPI, key)
    currencies = fund.get_currencies(ccy="BTC")
    assert currencies["code"] == "0", currencies
    fee = chain_fee(currencies["data"], "BTC-Bitcoin")

    resp = fund.withdrawal(ccy="BTC", amt="0.01", dest="4", toAddr=BTC_ADDRESS, chain="BTC-Bitcoin")
    assert resp["code"] == "0", resp
    (wd,) = resp["data"]
    assert wd["wdId"] and wd["ccy"] == "BTC" and D(wd["amt"]) == Decimal("0.01")
    assert wd.get("chain", "BTC-Bitcoin") == "BTC-Bitcoin"

    details = okx_details(okx_sdk(Account.AccountAPI, key).get_account_balance(ccy="BTC"))
    left = Decimal("0.99") - fee
    _assert_money(details["BTC"], str(left), str(left), "0")


def test_currencies_list_chains(live_server, okx_sdk):
    fund = okx_sdk(Funding.FundingAPI, live_server.new_key(perm="read_only"))
    resp = fund.get_currencies()
    assert resp["code"] == "0", resp
    chains = {row["chain"] for row in resp["data"]}
    assert {"BTC-Bitcoin", "ETH-ERC20", "USDT-TRC20"} <= chains


def test_public_instruments_unsigned(live_server):
    api = PublicData.PublicAPI(flag="0", domain=live_server.url, debug=False)
    try:
        resp = api.get_instruments(instType="SPOT")
    finally:
        api.close()
    assert resp["code"] == "0", resp
    by_id = {i["instId"]: i for i in resp["data"]}
    assert {"BTC-USDT", "ETH-USDT"} <= set(by_id)
    assert by_id["BTC-USDT"]["baseCcy"] == "BTC" and by_id["BTC-USDT"]["state"] == "live"


# --------------------------------------------------------------------------------------------
# demo (flag='1')
# --------------------------------------------------------------------------------------------


def test_demo_flag_with_demo_key(live_server, okx_sdk):
    key = live_server.new_key(perm=ALL_PERMS, demo=True)
    acc = okx_sdk(Account.AccountAPI, key, flag="1")
    trade = okx_sdk(Trade.TradeAPI, key, flag="1")
    fund = okx_sdk(Funding.FundingAPI, key, flag="1")

    _assert_money(okx_details(acc.get_account_balance())["USDT"], "10000", "10000", "0")
    placed = trade.place_order(
        instId="BTC-USDT", tdMode="cash", side="buy", ordType="limit", sz="0.1", px="30000"
    )
    assert placed["code"] == "0", placed
    _assert_money(okx_details(acc.get_account_balance())["USDT"], "10000", "7000", "3000")
    ord_id = placed["data"][0]["ordId"]
    assert trade.cancel_order(instId="BTC-USDT", ordId=ord_id)["code"] == "0"

    refused = fund.withdrawal(ccy="BTC", amt="0.01", dest="4", toAddr=BTC_ADDRESS)
    assert refused["code"] == "50038", refused
    _assert_money(okx_details(acc.get_account_balance())["BTC"], "1", "1", "0")


# --------------------------------------------------------------------------------------------
# WebSocket login (integer timestamp, json.dumps spacing)
# --------------------------------------------------------------------------------------------


async def _ws_session(url: str, key: dict):
    """Connect python-okx's private WS client and collect every frame into a queue."""
    frames: asyncio.Queue[str] = asyncio.Queue()
    client = WsPrivateAsync(
        apiKey=key["apiKey"], passphrase=key["passphrase"], secretKey=key["secretKey"], url=url
    )
    client.callback = frames.put_nowait
    consumer = await client.start()
    assert client.websocket is not None, "python-okx failed to connect"
    return client, consumer, frames


async def _close(client, consumer) -> None:
    await client.stop()
    consumer.cancel()
    await asyncio.gather(consumer, return_exceptions=True)


async def _next_json(frames: asyncio.Queue) -> dict:
    return json.loads(await asyncio.wait_for(frames.get(), 10))


async def test_ws_login_live_key_and_ping(live_server, plain_ws_transport):
    key = live_server.new_key(perm="read_only")
    client, consumer, frames = await _ws_session(live_server.ws_url, key)
    try:
        await client.login()
        reply = await _next_json(frames)
        assert reply["event"] == "login", reply
        assert reply["code"] == "0", reply
        assert reply.get("connId")

        await client.websocket.send("ping")
        assert await asyncio.wait_for(frames.get(), 10) == "pong"
    finally:
        await _close(client, consumer)


async def test_ws_login_demo_key_with_broker_id(live_server, plain_ws_transport):
    key = live_server.new_key(perm="read_only", demo=True)
    client, consumer, frames = await _ws_session(live_server.ws_url + "?brokerId=9999", key)
    try:
        await client.login()
        reply = await _next_json(frames)
        assert (reply["event"], reply["code"]) == ("login", "0"), reply
    finally:
        await _close(client, consumer)


async def test_ws_login_demo_key_on_live_url_is_refused(live_server, plain_ws_transport):
    key = live_server.new_key(perm="read_only", demo=True)
    client, consumer, frames = await _ws_session(live_server.ws_url, key)
    try:
        await client.login()
        reply = await _next_json(frames)
        assert reply["event"] == "error", reply
        assert reply["code"] in {"50101", "60009"}, reply
    finally:
        await _close(client, consumer)


async def test_ws_factory_without_patch_cannot_use_plain_ws(live_server):
    """Documents the client quirk the ``plain_ws_transport`` fixture works around."""
    key = live_server.new_key(perm="read_only")
    client = WsPrivateAsync(
        apiKey=key["apiKey"],
        passphrase=key["passphrase"],
        secretKey=key["secretKey"],
        url=live_server.ws_url,
    )
    await client.connect()
    assert client.websocket is None
