"""On 50113 a demo key, or a key whose owner switched it on, is told what the server hashed:
the prehash and its parts, never the secret (issue 11, item 3)."""

from __future__ import annotations

import hashlib

import httpx

from keyseal.client._protocol import read_envelope
from keyseal.client.errors import InvalidSignature
from keyseal.domain.commands import EditKey
from keyseal.services import keys as key_service
from keyseal.signing import explain, format_timestamp, sign_request
from tests.api.conftest import Api
from tests.conftest import envelope

BALANCE = "/api/v5/account/balance"
CANCEL = "/api/v5/trade/cancel-order"
WRONG_SECRET = "0" * 32


def assert_no_secret(response: httpx.Response, key: dict[str, str]) -> None:
    everything = response.text + repr(response.headers.raw)
    assert key["secretKey"] not in everything and key["passphrase"] not in everything


async def test_a_demo_key_with_a_wrong_secret_is_told_what_the_server_hashed(api: Api) -> None:
    key = api.key(demo=True, perm="read_only,trade")
    body = '{"instId":"BTC-USDT","ordId":"1"}'
    timestamp = format_timestamp(api.clock())
    headers = api.headers(key, "POST", CANCEL, body, secret=WRONG_SECRET, demo=True,
                          timestamp=timestamp)
    response = await api.client.post(CANCEL + "?x=a%20b", content=body, headers=headers)
    answer = envelope(response)
    assert (response.status_code, answer["code"], answer["msg"], answer["data"]) == (
        401, "50113", "Invalid Sign", [])
    target = CANCEL + "?x=a%20b"
    assert answer["explain"] == {
        "timestamp": timestamp, "method": "POST", "target": target,
        "decodedTarget": CANCEL + "?x=a b", "bodyLength": str(len(body)),
        "bodySha256": hashlib.sha256(body.encode()).hexdigest(),
        "prehash": timestamp + "POST" + target + body,
    }
    assert_no_secret(response, key)


async def test_a_live_key_gets_no_explanation_unless_its_owner_switched_it_on(api: Api) -> None:
    key = api.key()
    refused = await api.get(key, BALANCE, secret=WRONG_SECRET)
    assert envelope(refused)["code"] == "50113" and "explain" not in envelope(refused)
    key_service.edit_key(api.rt, EditKey(key["apiKey"], explain_signatures=True))
    api.app.state.key_cache.evict(key["apiKey"])  # what the change follower does
    explained = await api.get(key, BALANCE + "?ccy=BTC", secret=WRONG_SECRET)
    answer = envelope(explained)
    assert answer["code"] == "50113" and answer["msg"] == "Invalid Sign"
    assert answer["explain"]["target"] == BALANCE + "?ccy=BTC"
    assert answer["explain"]["bodyLength"] == "0"
    assert_no_secret(explained, key)
    key_service.edit_key(api.rt, EditKey(key["apiKey"], explain_signatures=False))
    api.app.state.key_cache.evict(key["apiKey"])
    assert "explain" not in envelope(await api.get(key, BALANCE, secret=WRONG_SECRET))


async def test_a_good_signature_and_other_refusals_carry_no_explanation(api: Api) -> None:
    key = api.key(demo=True)
    assert set(envelope(await api.get(key, BALANCE, demo=True))) == {"code", "msg", "data"}
    wrong_pass = await api.get(key, BALANCE, demo=True, passphrase="Wrong-Pass1")
    assert set(envelope(wrong_pass)) == {"code", "msg", "data"}


async def test_the_client_names_the_part_that_differs(api: Api) -> None:
    """A client that signed the path without its query string: the comparison says target."""
    key = api.key(demo=True)
    timestamp = format_timestamp(api.clock())
    headers = api.headers(key, "GET", BALANCE, demo=True, timestamp=timestamp)
    response = await api.client.get(BALANCE + "?ccy=BTC", headers=headers)
    try:
        read_envelope(response, "GET " + BALANCE)
    except InvalidSignature as refused:
        error = refused
    assert error.explain is not None
    local = explain(timestamp, "GET", BALANCE, "")
    assert error.compare(local) == ["target"]
    assert "target" in error.describe(local) and "?ccy=BTC" in error.describe(local)
    # the same request signed right, but with a wrong secret: every part matches
    signed_right = explain(timestamp, "GET", BALANCE + "?ccy=BTC", "")
    assert error.compare(signed_right) == []
    assert "secret" in error.describe(signed_right)


async def test_the_percent_decoded_target_counts_as_a_match(api: Api) -> None:
    """python-okx signs ``a b`` and sends ``a%20b``: the server accepts either form."""
    key = api.key(demo=True)
    timestamp = format_timestamp(api.clock())
    headers = api.headers(key, "GET", BALANCE, demo=True, timestamp=timestamp,
                          secret=WRONG_SECRET)
    response = await api.client.get(BALANCE + "?note=a%20b", headers=headers)
    try:
        read_envelope(response, "GET " + BALANCE)
    except InvalidSignature as refused:
        error = refused
    assert error.compare(explain(timestamp, "GET", BALANCE + "?note=a b")) == []
    assert error.compare(explain(timestamp, "get", BALANCE + "?note=a b", "{}")) == ["body"]
    later = format_timestamp(api.clock() + 1)
    assert error.compare(explain(later, "POST", BALANCE + "?note=a%20b")) == [
        "timestamp", "method"]


async def test_keyseal_client_raises_invalid_signature_with_what_it_signed(api: Api) -> None:
    from keyseal.client import AsyncClient, Credentials

    key = api.key(demo=True)
    creds = Credentials(key["apiKey"], WRONG_SECRET, key["passphrase"])
    transport = httpx.ASGITransport(app=api.app, client=("127.0.0.1", 50001))
    async with AsyncClient(creds, base_url="http://keyseal.test", demo=True, clock=api.clock,
                           transport=transport) as client:
        try:
            await client.balance(ccy="BTC")
        except InvalidSignature as refused:
            error = refused
    assert error.explain is not None and error.local is not None
    assert error.local["target"] == BALANCE + "?ccy=BTC"
    assert error.compare() == []  # every part matches: the secret is wrong
    assert "secret" in str(error)
    assert WRONG_SECRET not in str(error) + repr(error.explain) + repr(error.local)
    assert sign_request(WRONG_SECRET, error.local["timestamp"], "GET",
                        error.local["target"]) not in str(error)
