"""The REST client against a scripted endpoint that verifies like OKX: signing, envelopes,
clock skew and rate-limit retries. Time is injected; nothing here sleeps."""

from __future__ import annotations

from decimal import Decimal

import httpx
import pytest

from keyseal.client import (
    AsyncClient,
    Backoff,
    Client,
    Credentials,
    InvalidSignature,
    MissingCredentials,
    OkxApiError,
    PassphraseIncorrect,
    RateLimited,
    TimestampExpired,
    UnexpectedResponse,
)
from keyseal.signing import parse_timestamp, sign_request
from tests.client.okx_fake import FakeOkx, envelope

BASE = "https://okx.test"


def client_for(okx: FakeOkx, creds: Credentials | None = None, **kwargs: object) -> Client:
    kwargs.setdefault("clock", okx.time)
    kwargs.setdefault("sleep", okx.time.sleep)
    return Client(creds or okx.creds, base_url=BASE, transport=httpx.MockTransport(okx),
                  **kwargs)  # type: ignore[arg-type]


def test_get_signs_the_encoded_query_exactly_as_sent(okx: FakeOkx) -> None:
    with client_for(okx) as client:
        client.get("/api/v5/account/balance", {"ccy": "BTC,ETH", "note": "a b", "skip": None})
    sent = okx.requests[-1]
    assert sent.url.raw_path == b"/api/v5/account/balance?ccy=BTC%2CETH&note=a%20b"
    stamp = sent.headers["OK-ACCESS-TIMESTAMP"]
    assert stamp == "2027-01-15T08:00:00.000Z"
    assert sent.headers["OK-ACCESS-SIGN"] == sign_request(
        okx.creds.secret_key, stamp, "GET", "/api/v5/account/balance?ccy=BTC%2CETH&note=a%20b")
    assert sent.headers["OK-ACCESS-PASSPHRASE"] == okx.creds.passphrase
    assert sent.headers["x-simulated-trading"] == "0"
    assert "content-type" not in sent.headers
    assert sent.content == b""


def test_post_sends_the_compact_json_it_signed(okx: FakeOkx) -> None:
    with client_for(okx) as client:
        client.post("/api/v5/trade/order", {"instId": "BTC-USDT", "tag": "café"})
    sent = okx.requests[-1]
    assert sent.content == '{"instId":"BTC-USDT","tag":"café"}'.encode()
    assert sent.headers["Content-Type"] == "application/json"
    assert sent.headers["OK-ACCESS-SIGN"] == sign_request(
        okx.creds.secret_key, sent.headers["OK-ACCESS-TIMESTAMP"], "POST",
        "/api/v5/trade/order", sent.content)


def test_post_without_body_sends_an_empty_object(okx: FakeOkx) -> None:
    with client_for(okx) as client:
        client.post("/api/v5/account/activate-option")
    assert okx.requests[-1].content == b"{}"


def test_demo_flag_selects_demo_keys(okx: FakeOkx) -> None:
    okx.demo = True
    with client_for(okx, demo=True) as client:
        client.balance()
    assert okx.requests[-1].headers["x-simulated-trading"] == "1"
    with client_for(okx) as live, pytest.raises(OkxApiError) as refused:
        live.balance()
    assert refused.value.code == "50101"


@pytest.mark.parametrize(("wrong", "error"), [
    ("secret", InvalidSignature), ("passphrase", PassphraseIncorrect)])
def test_refusals_raise_typed_errors_without_leaking_secrets(
        okx: FakeOkx, wrong: str, error: type[OkxApiError]) -> None:
    creds = okx.creds
    bad = Credentials(creds.api_key, "0" * 32 if wrong == "secret" else creds.secret_key,
                      "not-it" if wrong == "passphrase" else creds.passphrase)
    with client_for(okx, bad) as client, pytest.raises(error) as refused:
        client.balance()
    assert refused.value.http_status == 401
    text = str(refused.value) + repr(refused.value) + repr(client)
    assert "GET /api/v5/account/balance" in str(refused.value)
    for secret in (creds.secret_key, creds.passphrase, bad.secret_key, bad.passphrase):
        assert secret not in text


def test_credentials_repr_shows_only_a_masked_key(creds: Credentials) -> None:
    shown = repr(creds) + str(creds)
    assert creds.secret_key not in shown and creds.passphrase not in shown
    assert creds.api_key not in shown and creds.api_key[:8] in shown


def test_failed_order_raises_the_inner_scode(okx: FakeOkx) -> None:
    okx.refuse.append(envelope("1", "", [{"ordId": "", "sCode": "51008",
                                          "sMsg": "Order failed. Insufficient USDT balance"}]))
    with client_for(okx) as client, pytest.raises(OkxApiError) as refused:
        client.place_order("BTC-USDT", "cash", "buy", "limit", "1", px="100")
    assert refused.value.code == "51008"
    assert refused.value.data[0]["sCode"] == "51008"


def test_a_non_envelope_answer_is_reported_as_such(okx: FakeOkx) -> None:
    okx.refuse.append(httpx.Response(502, text="<html>Bad Gateway</html>"))
    with client_for(okx) as client, pytest.raises(UnexpectedResponse) as refused:
        client.balance()
    assert refused.value.http_status == 502 and "Bad Gateway" in str(refused.value)


def test_signed_call_without_credentials_fails_before_sending(okx: FakeOkx) -> None:
    with Client(base_url=BASE, transport=httpx.MockTransport(okx)) as client:
        with pytest.raises(MissingCredentials):
            client.balance()
        assert client.server_time() == okx.time.now
    assert [r.url.path for r in okx.requests] == ["/api/v5/public/time"]


# -- clock skew -------------------------------------------------------------------------------

def test_skewed_clock_is_measured_and_the_retry_is_signed_afresh(okx: FakeOkx, skewed) -> None:
    with client_for(okx, clock=skewed(120)) as client:
        balance = client.balance()
        assert client.clock_offset == pytest.approx(-120)
        client.balance()
    assert balance.details == ()
    paths = [r.url.path for r in okx.requests]
    assert paths == ["/api/v5/account/balance", "/api/v5/public/time",
                     "/api/v5/account/balance", "/api/v5/account/balance"]
    first, retry = okx.requests[0], okx.requests[2]
    assert parse_timestamp(first.headers["OK-ACCESS-TIMESTAMP"]) == okx.time.now + 120
    assert parse_timestamp(retry.headers["OK-ACCESS-TIMESTAMP"]) == okx.time.now
    assert first.headers["OK-ACCESS-SIGN"] != retry.headers["OK-ACCESS-SIGN"]


def test_without_auto_sync_a_skewed_clock_raises_timestamp_expired(okx: FakeOkx,
                                                                   skewed) -> None:
    with client_for(okx, clock=skewed(-45), auto_sync_clock=False) as client:
        with pytest.raises(TimestampExpired) as refused:
            client.balance()
        assert refused.value.code == "50102"
        assert len(okx.requests) == 1
        reading = client.sync_clock()
        assert reading.offset == pytest.approx(45)
        client.balance()


def test_measuring_the_clock_accounts_for_the_round_trip(okx: FakeOkx) -> None:
    ticks = iter([100.0, 100.4])  # sent at 100.0, answer read at 100.4
    okx.time.now = 150.2          # server stamped half-way through
    with client_for(okx, clock=lambda: next(ticks)) as client:
        reading = client.measure_clock()
        assert client.clock_offset == 0
    assert reading.offset == pytest.approx(50.0)
    assert reading.round_trip == pytest.approx(0.4)


def test_a_persistent_50102_is_not_retried_forever(okx: FakeOkx) -> None:
    okx.refuse.extend(envelope("50102", "Timestamp request expired", status=401)
                      for _ in range(5))
    with client_for(okx) as client, pytest.raises(TimestampExpired):
        client.balance()
    assert len(okx.signed()) == 2


# -- rate limits ------------------------------------------------------------------------------

def rate_limited() -> httpx.Response:
    return envelope("50011", "Too Many Requests", status=429)


def test_rate_limit_backs_off_exponentially_then_succeeds(okx: FakeOkx) -> None:
    okx.refuse.extend([rate_limited(), rate_limited(), rate_limited()])
    backoff = Backoff(max_retries=4, base=0.2, random=lambda: 0.0)
    with client_for(okx, backoff=backoff) as client:
        client.balance()
    assert okx.time.slept == [0.1, 0.2, 0.4]
    stamps = [r.headers["OK-ACCESS-TIMESTAMP"] for r in okx.signed()]
    assert len(stamps) == 4 and len(set(stamps)) == 4, "every retry is signed anew"


def test_rate_limit_gives_up_after_the_bounded_retries(okx: FakeOkx) -> None:
    okx.refuse.extend(rate_limited() for _ in range(10))
    backoff = Backoff(max_retries=3, base=0.5, cap=1.0, random=lambda: 0.999)
    with client_for(okx, backoff=backoff) as client, pytest.raises(RateLimited) as refused:
        client.balance()
    assert refused.value.code == "50011" and refused.value.http_status == 429
    assert len(okx.signed()) == 4
    assert len(okx.time.slept) == 3 and max(okx.time.slept) <= 1.0


def test_retry_after_is_respected(okx: FakeOkx) -> None:
    okx.refuse.append(httpx.Response(429, headers={"Retry-After": "2"}, text="slow down"))
    with client_for(okx, backoff=Backoff(base=0.1, random=lambda: 0.0)) as client:
        client.balance()
    assert okx.time.slept == [2.0]


# -- typed helpers ----------------------------------------------------------------------------

def test_typed_helpers_parse_and_build_okx_shapes(okx: FakeOkx) -> None:
    okx.results.update({
        "/api/v5/account/balance": [{"totalEq": "101.5", "uTime": "1700000000000", "details": [
            {"ccy": "USDT", "eq": "100", "cashBal": "100", "availBal": "90", "frozenBal": "10"},
            {"ccy": "BTC", "eq": "", "cashBal": "0.01", "availBal": "", "frozenBal": ""}]}],
        "/api/v5/account/config": [{"uid": "7", "mainUid": "7", "label": "bot",
                                    "perm": "read_only,trade", "ip": "1.2.3.4,10.0.0.0/8"}],
        "/api/v5/asset/balances": [{"ccy": "ETH", "bal": "2", "availBal": "2",
                                    "frozenBal": "0"}],
        "/api/v5/trade/order": [{"ordId": "42", "sCode": "0", "sMsg": ""}],
    })
    with client_for(okx) as client:
        balance = client.balance(ccy="USDT")
        config = client.account_config()
        funding = client.asset_balances()
        ack = client.place_order("BTC-USDT", "cash", "buy", "market", "5", tgtCcy="quote_ccy")
        order_body = okx.body()
        client.cancel_order("BTC-USDT", "42")
        cancel_body = okx.body()
        with pytest.raises(ValueError, match="ord_id or cl_ord_id"):
            client.cancel_order("BTC-USDT")
    assert balance.total_eq == Decimal("101.5")
    assert balance.get("USDT").avail_bal == Decimal("90")
    assert balance.get("BTC").eq is None
    assert config.perms == {"read_only", "trade"} and config.ips == ("1.2.3.4", "10.0.0.0/8")
    assert not config.is_sub_account
    assert funding[0].ccy == "ETH" and funding[0].bal == Decimal("2")
    assert ack["ordId"] == "42"
    assert order_body == {"instId": "BTC-USDT", "tdMode": "cash", "side": "buy",
                          "ordType": "market", "sz": "5", "tgtCcy": "quote_ccy"}
    assert cancel_body == {"instId": "BTC-USDT", "ordId": "42"}


def test_public_helpers_are_not_signed(okx: FakeOkx) -> None:
    okx.results["/api/v5/public/instruments"] = [{"instId": "BTC-USDT"}]
    with client_for(okx) as client:
        assert client.instruments("SPOT") == [{"instId": "BTC-USDT"}]
    sent = okx.requests[-1]
    assert sent.url.raw_path == b"/api/v5/public/instruments?instType=SPOT"
    assert "OK-ACCESS-KEY" not in sent.headers


# -- async ------------------------------------------------------------------------------------

def async_client_for(okx: FakeOkx, **kwargs: object) -> AsyncClient:
    kwargs.setdefault("clock", okx.time)
    kwargs.setdefault("sleep", okx.time.async_sleep)
    return AsyncClient(okx.creds, base_url=BASE, transport=httpx.MockTransport(okx),
                       **kwargs)  # type: ignore[arg-type]


async def test_async_client_syncs_a_skewed_clock(okx: FakeOkx, skewed) -> None:
    async with async_client_for(okx, clock=skewed(90)) as client:
        await client.balance()
        assert client.clock_offset == pytest.approx(-90)
    assert [r.url.path for r in okx.requests][1] == "/api/v5/public/time"


async def test_async_client_backs_off_on_rate_limits(okx: FakeOkx) -> None:
    okx.refuse.extend([rate_limited(), rate_limited()])
    async with async_client_for(okx, backoff=Backoff(base=0.3, random=lambda: 0.0)) as client:
        await client.balance()
    assert okx.time.slept == [0.15, 0.3]


async def test_async_client_raises_typed_errors(okx: FakeOkx) -> None:
    wrong = Credentials(okx.creds.api_key, "x" * 32, okx.creds.passphrase)
    async with AsyncClient(wrong, base_url=BASE, clock=okx.time,
                           transport=httpx.MockTransport(okx)) as client:
        with pytest.raises(InvalidSignature):
            await client.balance()
