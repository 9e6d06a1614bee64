"""The sandbox surface through signed HTTP requests."""

from __future__ import annotations

import json

from tests.api.conftest import CLIENT_IP, Api
from tests.conftest import envelope, make_account, make_key


async def test_public_time_and_instruments(api: Api) -> None:
    time = envelope(await api.client.get("/api/v5/public/time"))
    assert time["data"] == [{"ts": str(int(api.clock() * 1000))}]
    spot = envelope(await api.client.get("/api/v5/public/instruments?instType=SPOT"))["data"]
    assert {i["instId"] for i in spot} >= {"BTC-USDT", "ETH-USDT"}
    assert all(i["state"] == "live" and i["instType"] == "SPOT" for i in spot)
    swaps = envelope(await api.client.get("/api/v5/public/instruments?instType=SWAP"))
    assert swaps["data"] == []
    missing = await api.client.get("/api/v5/public/instruments")
    assert envelope(missing)["code"] == "50014"


async def test_public_endpoints_are_limited_per_ip(api: Api) -> None:
    codes = [envelope(await api.client.get("/api/v5/public/time"))["code"] for _ in range(11)]
    assert codes[-1] == "50011" and codes[:10] == ["0"] * 10


async def test_balance_shows_credits_and_filters_by_currency(api: Api) -> None:
    key = api.key()
    data = envelope(await api.get(key, "/api/v5/account/balance"))["data"][0]
    by_ccy = {d["ccy"]: d for d in data["details"]}
    assert by_ccy["USDT"]["cashBal"] == "10000" and by_ccy["USDT"]["availBal"] == "10000"
    assert by_ccy["BTC"]["eq"] == "1" and by_ccy["BTC"]["frozenBal"] == "0"
    assert data["totalEq"] == "70000"  # 10000 USDT + 1 BTC at the configured 60000
    only_btc = envelope(await api.get(key, "/api/v5/account/balance?ccy=BTC"))["data"][0]
    assert [d["ccy"] for d in only_btc["details"]] == ["BTC"]
    funding = envelope(await api.get(key, "/api/v5/asset/balances?ccy=USDT"))["data"]
    assert funding == [{"availBal": "10000", "bal": "10000", "ccy": "USDT", "frozenBal": "0"}]


async def test_config_describes_the_calling_key(api: Api) -> None:
    email = make_account(api.rt, kyc_level=3)
    key = make_key(api.rt, email, perm="read_only,trade", ip="127.0.0.1,10.0.0.0/16", label="cfg1")
    data = envelope(await api.get(key, "/api/v5/account/config"))["data"][0]
    assert data["label"] == "cfg1" and data["perm"] == "read_only,trade"
    assert data["ip"] == "127.0.0.1,10.0.0.0/16" and data["kycLv"] == "3"
    assert data["uid"] == data["mainUid"] and len(data["uid"]) == 16 and data["type"] == "0"


async def test_config_says_how_the_servers_inactivity_rule_treats_the_key(api: Api) -> None:
    """Two fields OKX does not send: a health check reads the server's rule, not a guess."""
    unbound = envelope(await api.get(api.key(perm="read_only"), "/api/v5/account/config"))
    bound = envelope(await api.get(api.key(perm="read_only", ip=CLIENT_IP),
                                   "/api/v5/account/config"))
    policy = api.rt.settings.expiry
    assert unbound["data"][0]["keysealIdleExpiryDays"] == str(policy.idle_days)
    assert bound["data"][0]["keysealIdleExpiryDays"] == ""
    assert unbound["data"][0]["keysealExpiryRule"] == policy.describe()


async def test_order_lifecycle_moves_money(api: Api) -> None:
    key = api.key(perm="trade")
    order = json.dumps({"instId": "ETH-USDT", "tdMode": "cash", "side": "buy",
                        "ordType": "limit", "sz": "2", "px": "1000", "clOrdId": "e1"})
    ack = envelope(await api.post(key, "/api/v5/trade/order", order))
    assert ack["code"] == "0" and ack["data"][0]["sCode"] == "0"
    ord_id = ack["data"][0]["ordId"]
    usdt = {d["ccy"]: d for d in envelope(await api.get(key, "/api/v5/account/balance"))
            ["data"][0]["details"]}["USDT"]
    assert (usdt["availBal"], usdt["frozenBal"]) == ("8000", "2000")
    pending = envelope(await api.get(key, "/api/v5/trade/orders-pending?instId=ETH-USDT"))
    assert [o["ordId"] for o in pending["data"]] == [ord_id]
    details = envelope(await api.get(key, f"/api/v5/trade/order?instId=ETH-USDT&ordId={ord_id}"))
    assert details["data"][0]["state"] == "live" and details["data"][0]["clOrdId"] == "e1"
    cancel = envelope(await api.post(key, "/api/v5/trade/cancel-order",
                                     json.dumps({"instId": "ETH-USDT", "ordId": ord_id})))
    assert cancel["code"] == "0" and cancel["data"][0]["sCode"] == "0"
    api.clock.advance(0.001)  # a retry signed anew: the same bytes again would be a replay
    again = envelope(await api.post(key, "/api/v5/trade/cancel-order",
                                    json.dumps({"instId": "ETH-USDT", "ordId": ord_id})))
    assert again["code"] == "1" and again["data"][0]["sCode"] == "51400"
    assert envelope(await api.get(key, "/api/v5/trade/orders-pending"))["data"] == []
    missing = await api.get(key, "/api/v5/trade/order?instId=ETH-USDT&ordId=123")
    assert envelope(missing)["code"] == "51603"


async def test_withdrawal_debits_and_records(api: Api) -> None:
    key = api.key(perm="withdraw")
    body = json.dumps({"ccy": "USDT", "amt": "100", "dest": "4", "toAddr": "TXabc",
                       "chain": "USDT-TRC20"})
    result = envelope(await api.post(key, "/api/v5/asset/withdrawal", body))
    assert result["code"] == "0" and result["data"][0]["amt"] == "100"
    funding = envelope(await api.get(key, "/api/v5/asset/balances?ccy=USDT"))["data"][0]
    assert funding["bal"] == "9899"  # 100 plus the chain's fee of 1
    unknown = json.dumps({"ccy": "DOGE", "amt": "1", "dest": "4", "toAddr": "D"})
    assert envelope(await api.post(key, "/api/v5/asset/withdrawal", unknown))["code"] == "58004"


async def test_demo_withdrawals_are_unavailable_like_okx(api: Api) -> None:
    key = api.key(perm="withdraw", demo=True)
    body = json.dumps({"ccy": "BTC", "amt": "0.01", "dest": "4", "toAddr": "bc1q"})
    assert envelope(await api.post(key, "/api/v5/asset/withdrawal", body, demo=True))["code"] == "50038"
