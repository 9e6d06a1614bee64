"""Bad and hostile input: always the OKX envelope with the right code, never a 500."""

from __future__ import annotations

import pytest

from keyseal.domain.commands import Owner
from keyseal.domain.keys import Environment
from keyseal.services import ledger
from keyseal.services.accounts import account_by_email
from tests.api.conftest import Api
from tests.conftest import envelope, make_account, make_key

ORDER = "/api/v5/trade/order"


async def test_unknown_path_is_404_envelope(api: Api) -> None:
    response = await api.client.get("/api/v5/nope")
    assert response.status_code == 404 and envelope(response)["code"] == "50005"
    # anything outside /api/, /ws/ and /openapi.json is the dashboard's: "/" leads to its login
    assert (await api.client.get("/")).headers["location"] == "/login"


async def test_wrong_method_is_50115_405(api: Api) -> None:
    response = await api.client.post("/api/v5/public/time")
    assert response.status_code == 405 and envelope(response)["code"] == "50115"
    response = await api.client.delete("/api/v5/account/balance")
    assert response.status_code == 405


@pytest.mark.parametrize("body", ["{not json", '{"instId":', "[1, 2", "\ufeff{}", "nul"])
async def test_malformed_json_is_50002(api: Api, body: str) -> None:
    response = await api.post(api.key(perm="trade"), ORDER, body)
    assert response.status_code == 400 and envelope(response)["code"] == "50002"


async def test_non_utf8_body_is_50002_and_signature_still_covers_its_bytes(api: Api) -> None:
    key = api.key(perm="trade")
    body = b'{"instId":"\xff\xfe"}'
    headers = api.headers(key, "POST", ORDER, body.decode("latin-1"))
    # the client signed other bytes (latin-1 text re-encoded as UTF-8): refused as a bad sign
    response = await api.client.post(ORDER, content=body, headers=headers)
    assert envelope(response)["code"] == "50113"
    from keyseal.signing import prehash, sign
    headers["OK-ACCESS-SIGN"] = sign(key["secretKey"], prehash(
        headers["OK-ACCESS-TIMESTAMP"], "POST", ORDER, body))
    response = await api.client.post(ORDER, content=body, headers=headers)
    assert response.status_code == 400 and envelope(response)["code"] == "50002"


async def test_empty_body_on_a_post_that_needs_one_is_50000(api: Api) -> None:
    response = await api.post(api.key(perm="trade"), ORDER, "")
    assert envelope(response)["code"] == "50000"


async def test_wrong_json_shape_is_refused(api: Api) -> None:
    key = api.key(perm="trade")
    assert envelope(await api.post(key, ORDER, "[]"))["code"] == "50002"
    assert envelope(await api.post(key, "/api/v5/trade/batch-orders", "{}"))["code"] == "51000"
    too_many = "[" + ",".join(["{}"] * 21) + "]"
    assert envelope(await api.post(key, "/api/v5/trade/batch-orders", too_many))["code"] == "51004"


async def test_huge_body_is_refused_before_it_is_read(api: Api) -> None:
    key = api.key(perm="trade")
    body = '{"x":"' + "a" * (1 << 20) + '"}'
    response = await api.post(key, ORDER, body)
    assert response.status_code == 413 and envelope(response)["code"] == "50002"


async def test_hostile_headers_and_queries(api: Api) -> None:
    key = api.key()
    headers = api.headers(key, "GET", "/api/v5/account/balance")
    headers["OK-ACCESS-KEY"] = "x" * 10_000
    assert envelope(await api.client.get("/api/v5/account/balance", headers=headers))["code"] == "50111"
    headers = api.headers(key, "GET", "/api/v5/account/balance")
    headers["OK-ACCESS-TIMESTAMP"] = "9" * 5000
    assert envelope(await api.client.get("/api/v5/account/balance", headers=headers))["code"] == "50112"
    target = "/api/v5/account/balance?ccy=" + ",".join(f"C{i}" for i in range(21))
    assert envelope(await api.get(key, target))["code"] == "51000"
    target = "/api/v5/account/balance?ccy=%ZZ%00&&=="
    assert envelope(await api.get(key, target))["code"] == "0"


async def test_a_refused_order_in_a_batch_changes_nothing_of_it(api: Api) -> None:
    email = make_account(api.rt, credit={"USDT": "1000"})
    key = make_key(api.rt, email, perm="trade")
    good = '{"instId":"BTC-USDT","tdMode":"cash","side":"buy","ordType":"limit","sz":"0.01","px":"50000"}'
    bad = '{"instId":"BTC-USDT","tdMode":"cash","side":"buy","ordType":"limit","sz":"1","px":"50000"}'
    response = await api.post(key, "/api/v5/trade/batch-orders", f"[{good},{bad}]")
    body = envelope(response)
    assert body["code"] == "2"
    assert [d["sCode"] for d in body["data"]] == ["0", "51008"]
    owner = Owner(account_by_email(api.rt, email).id, Environment.LIVE)
    assert ledger.balances(api.rt, owner)["USDT"].frozen == 500
    all_bad = envelope(await api.post(key, "/api/v5/trade/batch-orders", f"[{bad}]"))
    assert all_bad["code"] == "1" and all_bad["data"][0]["sCode"] == "51008"


async def test_the_openapi_document_lists_every_route(api: Api) -> None:
    document = (await api.client.get("/openapi.json")).json()
    assert "/api/v5/account/balance" in document["paths"]
    balance = document["paths"]["/api/v5/account/balance"]["get"]
    assert balance["x-okx-permission"] == "read_only" and "10 requests per 2" in balance["x-rate-limit"]
    assert document["paths"]["/api/v5/asset/withdrawal"]["post"]["x-okx-permission"] == "withdraw"


@pytest.mark.parametrize("limit", ["%C2%B2", "9" * 5000, "0", "101"])
async def test_hostile_numbers_in_queries_are_51000(api: Api, limit: str) -> None:
    response = await api.get(api.key(), f"/api/v5/trade/orders-pending?limit={limit}")
    assert envelope(response)["code"] == "51000"


@pytest.mark.parametrize("declared", ["\xb2", "9" * 5000, "-1"])
async def test_a_content_length_that_is_not_a_number_is_refused(api: Api, declared: str) -> None:
    async def receive():  # type: ignore[no-untyped-def]
        return {"type": "http.request", "body": b"", "more_body": False}

    sent: list[dict] = []

    async def send(message):  # type: ignore[no-untyped-def]
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": "/api/v5/trade/order",
             "raw_path": b"/api/v5/trade/order", "query_string": b"",
             "headers": [(b"content-length", declared.encode("latin-1"))],
             "client": ("127.0.0.1", 1)}
    await api.app(scope, receive, send)
    assert sent[0]["status"] == 400 and b'"50002"' in sent[1]["body"]
