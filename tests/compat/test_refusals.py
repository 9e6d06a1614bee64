"""Every refusal a real client can provoke, as that client surfaces it.

ccxt turns OKX codes into exception classes (50113/50105/50101/50111 -> AuthenticationError,
50102 -> InvalidNonce, 50110 -> PermissionDenied, 50120/50038 -> plain ExchangeError);
python-okx never raises and returns the OKX envelope.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import threading
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import ccxt
import okx.Account as Account
import okx.Funding as Funding
import okx.Trade as Trade
import okx.utils
import pytest
from okx.websocket import WsUtils
from okx.websocket.WsPrivateAsync import WsPrivateAsync

from ._support import (
    BTC_ADDRESS,
    TRADE_PERMS,
    ccxt_balance,
    okx_code,
    okx_details,
    okx_error,
    with_secret,
)

pytestmark = pytest.mark.compat

WRONG_PASSPHRASE = "Wrong-Passphrase-1"


def burst(call, count: int) -> list[str]:
    """``count`` calls at once, released together: a rate limit is met as a real burst is,
    not spread over however long a loaded machine takes to send them one by one."""
    start = threading.Barrier(count)

    def one(_: int) -> str:
        start.wait(timeout=30)
        return call()

    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(one, range(count)))


def _wrong_secret(key: dict) -> dict:
    return with_secret(key, secretKey="0" * len(key["secretKey"]))


def _okx_ts(offset_s: float) -> str:
    """python-okx's timestamp format, shifted by ``offset_s`` seconds."""
    now = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=offset_s)
    return now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z"


# ============================================================================================
# ccxt
# ============================================================================================


class TestCcxt:
    def test_wrong_secret_is_invalid_sign(self, live_server, ccxt_factory):
        ex = ccxt_factory(_wrong_secret(live_server.new_key(perm="read_only")))
        with pytest.raises(ccxt.AuthenticationError) as err:
            ex.fetch_balance()
        assert okx_code(err.value) == "50113"

    def test_wrong_secret_on_post(self, live_server, ccxt_factory):
        key = live_server.new_key(perm=TRADE_PERMS)
        ex = ccxt_factory(_wrong_secret(key))
        with pytest.raises(ccxt.AuthenticationError) as err:
            ex.create_order("BTC/USDT", "limit", "buy", 0.01, 50000)
        assert okx_code(err.value) == "50113"
        assert ccxt_factory(key).fetch_open_orders("BTC/USDT") == []

    def test_wrong_passphrase(self, live_server, ccxt_factory):
        key = live_server.new_key(perm="read_only")
        ex = ccxt_factory(with_secret(key, passphrase=WRONG_PASSPHRASE))
        with pytest.raises(ccxt.AuthenticationError) as err:
            ex.fetch_balance()
        assert okx_code(err.value) == "50105"

    def test_unknown_api_key(self, live_server, ccxt_factory):
        key = live_server.new_key(perm="read_only")
        ex = ccxt_factory(with_secret(key, apiKey="00000000-0000-4000-8000-000000000000"))
        with pytest.raises(ccxt.AuthenticationError) as err:
            ex.fetch_balance()
        assert okx_code(err.value) in {"50111", "50119"}

    @pytest.mark.parametrize("time_difference_ms", [120_000, -120_000], ids=["late", "early"])
    def test_stale_clock_is_invalid_nonce(self, live_server, ccxt_factory, time_difference_ms):
        # ccxt signs with milliseconds() - options['timeDifference']
        ex = ccxt_factory(
            live_server.new_key(perm="read_only"),
            options={"timeDifference": time_difference_ms},
        )
        with pytest.raises(ccxt.InvalidNonce) as err:
            ex.fetch_balance()
        assert okx_code(err.value) == "50102"

    def test_stale_clock_recovered_by_adjust_for_time_difference(self, live_server, ccxt_factory):
        """What a user does about 50102: let ccxt sync with GET /public/time."""
        ex = ccxt_factory(live_server.new_key(perm="read_only"), options={"timeDifference": 120_000})
        with pytest.raises(ccxt.InvalidNonce):
            ex.fetch_balance()
        ex.load_time_difference()
        assert abs(ex.options["timeDifference"]) < 5_000
        assert ccxt_balance(ex.fetch_balance(), "USDT")[2] == Decimal("10000")

    def test_ip_not_in_allow_list(self, live_server, ccxt_factory):
        ex = ccxt_factory(live_server.new_key(perm=TRADE_PERMS, ip="10.9.8.7"))
        with pytest.raises(ccxt.PermissionDenied) as err:
            ex.fetch_balance()
        assert okx_code(err.value) == "50110"
        assert "127.0.0.1" in okx_error(err.value)["msg"]  # "Your IP {ip} is not included ..."

    def test_ip_in_allow_list_is_served(self, live_server, ccxt_factory):
        ex = ccxt_factory(live_server.new_key(perm="read_only", ip="10.9.8.7,127.0.0.1"))
        assert ccxt_balance(ex.fetch_balance(), "USDT")[2] == Decimal("10000")

    @pytest.mark.parametrize(
        "create_order_method", [None, "privatePostTradeOrder"], ids=["batch-orders", "trade-order"]
    )
    def test_read_only_key_cannot_place_order(self, live_server, ccxt_factory, create_order_method):
        options = {"createOrder": create_order_method} if create_order_method else {}
        ex = ccxt_factory(live_server.new_key(perm="read_only"), options=options)
        with pytest.raises(ccxt.ExchangeError) as err:
            ex.create_order("BTC/USDT", "limit", "buy", 0.01, 50000)
        assert okx_code(err.value) == "50120"
        # nothing happened: no order, nothing frozen
        assert ex.fetch_open_orders("BTC/USDT") == []
        assert ccxt_balance(ex.fetch_balance(), "USDT") == (
            Decimal("10000"),
            Decimal(0),
            Decimal("10000"),
        )

    def test_trade_key_cannot_withdraw(self, live_server, ccxt_factory):
        ex = ccxt_factory(live_server.new_key(perm=TRADE_PERMS))
        with pytest.raises(ccxt.ExchangeError) as err:
            ex.withdraw("BTC", 0.01, BTC_ADDRESS, params={"network": "BTC"})
        assert okx_code(err.value) == "50120"
        assert ccxt_balance(ex.fetch_balance(), "BTC")[2] == Decimal("1")

    def test_demo_key_without_demo_header(self, live_server, ccxt_factory):
        ex = ccxt_factory(live_server.new_key(perm="read_only", demo=True))  # no sandbox mode
        assert "x-simulated-trading" not in ex.headers
        with pytest.raises(ccxt.AuthenticationError) as err:
            ex.fetch_balance()
        assert okx_code(err.value) == "50101"

    def test_rate_limit_is_per_account_and_surfaces_as_rate_limit_exceeded(self, live_server, ccxt_factory):
        """account/config allows 5 requests per 2 s per account (OKX's figure, rule: User ID).
        The calls go out at once, so a slow machine cannot refill the bucket between them."""
        email = live_server.new_account()
        first = ccxt_factory(live_server.new_key(email=email), markets=False, enableRateLimit=False)
        second = ccxt_factory(live_server.new_key(email=email), markets=False, enableRateLimit=False)
        stranger = ccxt_factory(live_server.new_key(), markets=False, enableRateLimit=False)
        for client in (first, second, stranger):
            client.privateGetAccountBalance()  # the passphrase's argon2 check, out of the way

        def config() -> str:
            try:
                return str(first.privateGetAccountConfig()["code"])
            except ccxt.RateLimitExceeded as refused:
                return okx_code(refused)

        codes = burst(config, 12)
        assert "50011" in codes and 5 <= codes.count("0") <= 6, codes
        # the budget belongs to the account, not the key
        with pytest.raises(ccxt.RateLimitExceeded):
            second.privateGetAccountConfig()
        # ... and another account is not affected
        assert stranger.privateGetAccountConfig()["code"] == "0"

    def test_refusals_are_not_rate_limited_into_success(self, live_server, ccxt_factory):
        """Repeated refusals keep their code (no accidental 50011 / no leak of a later 0)."""
        ex = ccxt_factory(_wrong_secret(live_server.new_key(perm="read_only")))
        for _ in range(3):
            with pytest.raises(ccxt.AuthenticationError) as err:
                ex.fetch_balance()
            assert okx_code(err.value) == "50113"


# ============================================================================================
# python-okx
# ============================================================================================


class TestPythonOkx:
    def test_wrong_secret(self, live_server, okx_sdk):
        acc = okx_sdk(Account.AccountAPI, _wrong_secret(live_server.new_key(perm="read_only")))
        resp = acc.get_account_balance()
        assert resp["code"] == "50113", resp
        assert resp.get("data", []) == []

    def test_wrong_secret_on_post(self, live_server, okx_sdk):
        key = live_server.new_key(perm=TRADE_PERMS)
        trade = okx_sdk(Trade.TradeAPI, _wrong_secret(key))
        resp = trade.place_order(
            instId="BTC-USDT", tdMode="cash", side="buy", ordType="limit", sz="0.01", px="50000"
        )
        assert resp["code"] == "50113", resp
        assert okx_sdk(Trade.TradeAPI, key).get_order_list(instId="BTC-USDT")["data"] == []

    def test_wrong_passphrase(self, live_server, okx_sdk):
        key = with_secret(live_server.new_key(perm="read_only"), passphrase=WRONG_PASSPHRASE)
        resp = okx_sdk(Account.AccountAPI, key).get_account_balance()
        assert resp["code"] == "50105", resp

    @pytest.mark.parametrize("offset_s", [-120, 120], ids=["late", "early"])
    def test_stale_clock(self, live_server, okx_sdk, monkeypatch, offset_s):
        # okxclient._request calls utils.get_timestamp() through the module attribute
        monkeypatch.setattr(okx.utils, "get_timestamp", lambda: _okx_ts(offset_s))
        acc = okx_sdk(Account.AccountAPI, live_server.new_key(perm="read_only"))
        resp = acc.get_account_balance()
        assert resp["code"] == "50102", resp

    def test_clock_within_window_is_accepted(self, live_server, okx_sdk, monkeypatch):
        monkeypatch.setattr(okx.utils, "get_timestamp", lambda: _okx_ts(-10))
        acc = okx_sdk(Account.AccountAPI, live_server.new_key(perm="read_only"))
        assert acc.get_account_balance()["code"] == "0"

    def test_ip_not_in_allow_list(self, live_server, okx_sdk):
        key = live_server.new_key(perm=TRADE_PERMS, ip="10.9.8.7")
        resp = okx_sdk(Account.AccountAPI, key).get_account_balance()
        assert resp["code"] == "50110", resp

    def test_read_only_key_cannot_place_order(self, live_server, okx_sdk):
        key = live_server.new_key(perm="read_only")
        trade = okx_sdk(Trade.TradeAPI, key)
        resp = trade.place_order(
            instId="BTC-USDT", tdMode="cash", side="buy", ordType="limit", sz="0.01", px="50000"
        )
        assert resp["code"] == "50120", resp
        assert trade.get_order_list(instId="BTC-USDT")["data"] == []
        details = okx_details(okx_sdk(Account.AccountAPI, key).get_account_balance(ccy="USDT"))
        assert Decimal(details["USDT"]["availBal"]) == Decimal("10000")
        assert Decimal(details["USDT"]["frozenBal"]) == 0

    def test_read_only_key_cannot_cancel(self, live_server, okx_sdk):
        email = live_server.new_account()
        trader = live_server.new_key(email=email, perm=TRADE_PERMS)
        reader = live_server.new_key(email=email, perm="read_only")
        placed = okx_sdk(Trade.TradeAPI, trader).place_order(
            instId="BTC-USDT", tdMode="cash", side="buy", ordType="limit", sz="0.01", px="50000"
        )
        assert placed["code"] == "0", placed
        ord_id = placed["data"][0]["ordId"]
        resp = okx_sdk(Trade.TradeAPI, reader).cancel_order(instId="BTC-USDT", ordId=ord_id)
        assert resp["code"] == "50120", resp
        pending = okx_sdk(Trade.TradeAPI, reader).get_order_list(instId="BTC-USDT")
        assert [o["ordId"] for o in pending["data"]] == [ord_id]

    def test_trade_key_cannot_withdraw(self, live_server, okx_sdk):
        key = live_server.new_key(perm=TRADE_PERMS)
        resp = okx_sdk(Funding.FundingAPI, key).withdrawal(
            ccy="BTC", amt="0.01", dest="4", toAddr=BTC_ADDRESS, chain="BTC-Bitcoin"
        )
        assert resp["code"] == "50120", resp
        details = okx_details(okx_sdk(Account.AccountAPI, key).get_account_balance(ccy="BTC"))
        assert Decimal(details["BTC"]["availBal"]) == Decimal("1")

    def test_rate_limit(self, live_server, okx_sdk):
        acc = okx_sdk(Account.AccountAPI, live_server.new_key(perm="read_only"))
        assert acc.get_account_balance()["code"] == "0"  # argon2 once, before the burst
        codes = burst(lambda: acc.get_account_config()["code"], 12)
        assert "50011" in codes and 5 <= codes.count("0") <= 6, codes

    def test_demo_key_with_live_flag(self, live_server, okx_sdk):
        key = live_server.new_key(perm="read_only", demo=True)
        resp = okx_sdk(Account.AccountAPI, key, flag="0").get_account_balance()  # header "0"
        assert resp["code"] == "50101", resp

    def test_live_key_with_default_demo_flag(self, live_server):
        """python-okx's default flag is '1' (demo): a live key then gets 50101, as on OKX."""
        key = live_server.new_key(perm="read_only")
        acc = Account.AccountAPI(
            key["apiKey"], key["secretKey"], key["passphrase"], domain=live_server.url, debug=False
        )
        try:
            assert acc.flag == "1"
            assert acc.get_account_balance()["code"] == "50101"
        finally:
            acc.close()


# ============================================================================================
# python-okx WebSocket login refusals
# ============================================================================================


async def _ws_login_reply(url: str, key: dict) -> dict:
    client = WsPrivateAsync(
        apiKey=key["apiKey"], passphrase=key["passphrase"], secretKey=key["secretKey"], url=url
    )
    await client.connect()
    assert client.websocket is not None
    try:
        await client.login()
        return json.loads(await asyncio.wait_for(client.websocket.recv(), 10))
    finally:
        await client.stop()


@pytest.mark.usefixtures("plain_ws_transport")
class TestWsLogin:
    async def test_wrong_secret(self, live_server):
        reply = await _ws_login_reply(
            live_server.ws_url, _wrong_secret(live_server.new_key(perm="read_only"))
        )
        assert reply["event"] == "error", reply
        assert reply["code"] in {"60007", "60009"}, reply

    async def test_wrong_passphrase(self, live_server):
        key = with_secret(live_server.new_key(perm="read_only"), passphrase=WRONG_PASSPHRASE)
        reply = await _ws_login_reply(live_server.ws_url, key)
        assert reply["event"] == "error", reply
        assert reply["code"] in {"60024", "60009"}, reply

    async def test_stale_timestamp(self, live_server, monkeypatch):
        real = WsUtils.getLocalTime
        monkeypatch.setattr(WsUtils, "getLocalTime", lambda: real() - 120)
        reply = await _ws_login_reply(live_server.ws_url, live_server.new_key(perm="read_only"))
        assert reply["event"] == "error", reply
        assert reply["code"] in {"60006", "60009"}, reply
