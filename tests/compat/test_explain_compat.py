"""Real clients with Keyseal's extra fields present (issue 11): a 50113 carrying ``explain``
and a 50102 carrying ``skewMs`` still raise (ccxt) or return (python-okx) their usual errors,
and every response's ``x-keyseal-server-time`` header disturbs neither."""

from __future__ import annotations

import ccxt
import httpx
import okx.Account as Account
import okx.Trade as Trade
import okx.utils
import pytest

from ._support import TRADE_PERMS, okx_code, okx_error, with_secret
from .test_refusals import _okx_ts, _wrong_secret

pytestmark = pytest.mark.compat


def test_ccxt_wrong_secret_on_a_demo_key_is_still_authentication_error(live_server,
                                                                       ccxt_factory):
    key = live_server.new_key(perm=TRADE_PERMS, demo=True)
    ex = ccxt_factory(_wrong_secret(key), sandbox=True)
    with pytest.raises(ccxt.AuthenticationError) as err:
        ex.fetch_balance()
    assert okx_code(err.value) == "50113"
    explained = okx_error(err.value)["explain"]
    assert explained["method"] == "GET" and explained["target"].startswith(
        "/api/v5/account/balance")
    with pytest.raises(ccxt.AuthenticationError) as err:
        ex.create_order("BTC/USDT", "limit", "buy", 0.01, 50000)
    assert okx_error(err.value)["explain"]["method"] == "POST"
    assert key["secretKey"] not in str(err.value)


def test_ccxt_stale_clock_is_still_invalid_nonce_with_the_skew(live_server, ccxt_factory):
    ex = ccxt_factory(live_server.new_key(perm="read_only"),
                      options={"timeDifference": 120_000})  # signs 120 s late
    with pytest.raises(ccxt.InvalidNonce) as err:
        ex.fetch_balance()
    body = okx_error(err.value)
    assert body["code"] == "50102" and -125_000 < int(body["skewMs"]) < -115_000


def test_python_okx_returns_the_usual_envelope_with_the_explanation(live_server, okx_sdk):
    key = live_server.new_key(perm=TRADE_PERMS, demo=True)
    resp = okx_sdk(Account.AccountAPI, _wrong_secret(key), flag="1").get_account_balance()
    assert (resp["code"], resp["msg"], resp["data"]) == ("50113", "Invalid Sign", []), resp
    assert resp["explain"]["target"] == "/api/v5/account/balance"
    trade = okx_sdk(Trade.TradeAPI, _wrong_secret(key), flag="1")
    resp = trade.place_order(instId="BTC-USDT", tdMode="cash", side="buy", ordType="limit",
                             sz="0.01", px="50000")
    assert resp["code"] == "50113" and resp["explain"]["bodyLength"] != "0", resp
    assert key["secretKey"] not in str(resp)


def test_python_okx_stale_clock_returns_50102_with_the_skew(live_server, okx_sdk, monkeypatch):
    monkeypatch.setattr(okx.utils, "get_timestamp", lambda: _okx_ts(120))
    resp = okx_sdk(Account.AccountAPI, live_server.new_key(perm="read_only")
                   ).get_account_balance()
    assert resp["code"] == "50102" and 115_000 < int(resp["skewMs"]) < 125_000, resp


def test_a_live_key_explains_nothing_to_real_clients(live_server, okx_sdk):
    key = with_secret(live_server.new_key(perm="read_only"), secretKey="0" * 32)
    resp = okx_sdk(Account.AccountAPI, key).get_account_balance()
    assert resp["code"] == "50113" and "explain" not in resp, resp


def test_every_answer_to_a_real_client_carries_the_server_time(live_server):
    for path in ("/api/v5/public/time", "/api/v5/account/balance", "/nowhere"):
        assert httpx.get(live_server.url + path).headers["x-keyseal-server-time"].isdigit()
