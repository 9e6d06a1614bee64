"""Ambiguity is refused, not resolved: a request that two readers could read two ways (a
repeated auth header, a repeated JSON key or query parameter, a number that only a lenient
parser calls a number) is refused with 70016 or 51000 and changes nothing."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest

from keyseal.domain.commands import Owner
from keyseal.domain.keys import Environment
from keyseal.services import ledger
from keyseal.services.accounts import account_by_email
from tests.api.conftest import Api
from tests.conftest import envelope, make_account, make_key

BALANCE = "/api/v5/account/balance"
ORDER = "/api/v5/trade/order"
ORDER_FIELDS = {"instId": "BTC-USDT", "tdMode": "cash", "side": "buy", "ordType": "limit",
                "px": "50000"}


def trader(api: Api) -> tuple[str, dict[str, str]]:
    email = make_account(api.rt, credit={"USDT": "10000"})
    return email, make_key(api.rt, email, perm="trade")


def order_code(reply: dict[str, Any]) -> str:
    """A single order's refusal is OKX's code 1 with the reason in ``data[0].sCode``."""
    return str(reply["data"][0]["sCode"]) if reply["code"] == "1" else str(reply["code"])


def usdt(api: Api, email: str) -> tuple[Decimal, Decimal]:
    owner = Owner(account_by_email(api.rt, email).id, Environment.LIVE)
    balance = ledger.balances(api.rt, owner)["USDT"]
    return balance.cash, balance.frozen


@pytest.mark.parametrize("header", ["OK-ACCESS-KEY", "OK-ACCESS-SIGN", "OK-ACCESS-TIMESTAMP",
                                    "OK-ACCESS-PASSPHRASE", "x-simulated-trading"])
async def test_a_repeated_auth_header_is_refused_not_last_one_wins(api: Api, header: str) -> None:
    key, other = api.key(), api.key()
    headers = api.headers(key, "GET", BALANCE)
    decoy = {"OK-ACCESS-KEY": other["apiKey"], "OK-ACCESS-SIGN": "x" * 44,
             "OK-ACCESS-TIMESTAMP": "2020-01-01T00:00:00.000Z",
             "OK-ACCESS-PASSPHRASE": other["passphrase"] + "x", "x-simulated-trading": "0"}[header]
    pairs = [(k, v) for k, v in headers.items() if k.lower() != header.lower()]
    pairs += [(header, decoy), (header, headers.get(header, "0"))]
    response = await api.client.get(BALANCE, headers=pairs)
    body = envelope(response)
    assert (response.status_code, body["code"]) == (400, "70016"), body
    assert header.lower() in body["msg"].lower()


async def test_repeated_forwarded_for_headers_are_one_list_not_a_refusal(api: Api) -> None:
    """Proxies may add their own X-Forwarded-For line; HTTP joins repeated lines with commas."""
    headers = list(api.headers(api.key(), "GET", BALANCE).items())
    headers += [("X-Forwarded-For", "10.0.0.1"), ("X-Forwarded-For", "10.0.0.2")]
    response = await api.client.get(BALANCE, headers=headers)
    assert envelope(response)["code"] == "0"


async def test_a_repeated_json_key_is_refused_and_orders_nothing(api: Api) -> None:
    email, key = trader(api)
    before = usdt(api, email)
    body = ('{"instId":"BTC-USDT","tdMode":"cash","side":"buy","ordType":"limit",'
            '"sz":"0.001","px":"50000","sz":"0.1"}')
    response = await api.post(key, ORDER, body)
    reply = envelope(response)
    assert (response.status_code, reply["code"]) == (400, "70016"), reply
    assert '"sz"' in reply["msg"]
    assert usdt(api, email) == before


async def test_a_repeated_key_nested_in_a_batch_is_refused(api: Api) -> None:
    email, key = trader(api)
    before = usdt(api, email)
    one = json.dumps(dict(ORDER_FIELDS, sz="0.001"))
    body = f'[{one}, {one[:-1]}, "px": "1"}}]'
    response = await api.post(key, "/api/v5/trade/batch-orders", body)
    assert envelope(response)["code"] == "70016"
    assert usdt(api, email) == before


async def test_a_repeated_query_parameter_is_refused(api: Api) -> None:
    target = BALANCE + "?ccy=BTC&ccy=USDT"
    response = await api.get(api.key(), target)
    reply = envelope(response)
    assert (response.status_code, reply["code"]) == (400, "70016"), reply
    assert "ccy" in reply["msg"]


@pytest.mark.parametrize("sz", ["０.００１", "١٠٠٠", "0.00_1", " 0.001 ", "0.001\n", "1e-3",
                                "+0.001", ".001", "1.", "0x10", "1,5", "Infinity"])
async def test_amounts_outside_plain_ascii_decimals_are_51000(api: Api, sz: str) -> None:
    email, key = trader(api)
    before = usdt(api, email)
    response = await api.post(key, ORDER, json.dumps(dict(ORDER_FIELDS, sz=sz)))
    reply = envelope(response)
    assert order_code(reply) == "51000" and "sz" in str(reply), reply
    assert usdt(api, email) == before


async def test_plain_decimals_and_json_numbers_are_still_amounts(api: Api) -> None:
    key = api.key(perm="trade")
    for sz in ("0.001", "007", "1"):
        response = await api.post(key, ORDER, json.dumps(dict(ORDER_FIELDS, sz=sz, px="10")))
        assert order_code(envelope(response)) == "0", envelope(response)
    # a JSON number is machine-written: 1e-05 is how JSON and Python write 0.00001
    response = await api.post(key, ORDER, json.dumps(dict(ORDER_FIELDS, sz=0.00001, px=10)))
    assert order_code(envelope(response)) == "0", envelope(response)
