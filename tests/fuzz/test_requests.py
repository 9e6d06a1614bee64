"""Whole requests and WebSocket frames of any shape, through the real app (in process, on a
real SQLite home): every HTTP answer is an OKX envelope below 500, every WebSocket reply a
JSON event with a code, whatever the headers, query, body or frame."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from keyseal.http.app import KeysealApp, create_app
from keyseal.http.ws import PRIVATE_CHANNELS, PrivateSession
from keyseal.services.runtime import Runtime
from keyseal.signing import format_timestamp, sign_request, sign_ws_login
from tests.conftest import make_key
from tests.fuzz.profiles import FUZZ


def dumps(value: object) -> bytes:
    """Python's encoder: big integers and NaN included, which orjson would not write."""
    return json.dumps(value).encode()


ROUTES = ["/api/v5/account/balance", "/api/v5/trade/order", "/api/v5/trade/batch-orders",
          "/api/v5/trade/cancel-order", "/api/v5/asset/withdrawal", "/api/v5/trade/order",
          "/api/v5/users/subaccount/apikey", "/api/v5/asset/subaccount/transfer",
          "/api/v5/public/instruments", "/api/v5/nowhere"]
FIELDS = ["instId", "tdMode", "side", "ordType", "px", "sz", "clOrdId", "ccy", "amt", "dest",
          "toAddr", "subAcct", "apiKey", "label", "passphrase", "perm", "ip", "from", "to",
          "fromSubAccount", "toSubAccount", "ordId", "limit", "instType", "tag", "tgtCcy"]
scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30) \
    | st.sampled_from(["BTC-USDT", "cash", "buy", "limit", "0.001", "1000", "USDT", "4", "6"])
json_values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=3)
                           | st.dictionaries(st.sampled_from(FIELDS), inner, max_size=6),
                           max_leaves=15)
#: 2 levels per step: 490-520 steps straddle orjson's 1,024-level limit
deep = st.integers(490, 520).map(lambda n: b'[0,{"a":0,"b":' * n + b"0" + b"}]" * n)
bodies = json_values.map(dumps) | st.binary(max_size=200) | deep \
    | st.dictionaries(st.sampled_from(FIELDS), scalars, max_size=8).map(dumps)
queries = st.dictionaries(st.sampled_from(FIELDS), st.text(max_size=20), max_size=5).map(
    lambda q: "&".join(f"{k}={v}" for k, v in q.items())) | st.text(max_size=60)
header_values = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=40)


@pytest.fixture
def app(sqlite_rt: Runtime) -> Iterator[tuple[KeysealApp, dict[str, str]]]:
    app = create_app(sqlite_rt)
    app.state.limiter.enabled = False
    app.state.gate.guessing = None  # bad signatures by the hundred are the point here
    yield app, make_key(sqlite_rt, perm="read_only,trade,withdraw",
                        credit={"USDT": "10000", "BTC": "1"})


def answer(app: KeysealApp, method: str, target: str, body: bytes,
           headers: dict[str, str]) -> httpx.Response:
    async def call() -> httpx.Response:
        transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50000))
        async with httpx.AsyncClient(transport=transport, base_url="http://k.test") as client:
            return await client.request(method, target, content=body, headers=headers)
    return asyncio.run(call())


def assert_envelope(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code < 500, response.text
    body = response.json()
    assert isinstance(body, dict) and isinstance(body.get("code"), str), body
    assert {"code", "msg", "data"} <= set(body) and isinstance(body["data"], list), body
    return body


@given(st.sampled_from(["GET", "POST", "PUT", "DELETE"]), st.sampled_from(ROUTES), queries,
       bodies, st.booleans(), st.booleans())
@FUZZ
def test_any_signed_request_gets_an_envelope(
        app: tuple[KeysealApp, dict[str, str]], method: str, path: str, query: str,
        body: bytes, signed_right: bool, demo: bool) -> None:
    the_app, key = app
    target = f"{path}?{query}" if query else path
    ts = format_timestamp(the_app.rt.clock())
    text = body.decode("latin-1")
    headers = {"OK-ACCESS-KEY": key["apiKey"], "OK-ACCESS-TIMESTAMP": ts,
               "OK-ACCESS-PASSPHRASE": key["passphrase"],
               "OK-ACCESS-SIGN": sign_request(key["secretKey"] if signed_right else "0" * 32,
                                              ts, method, target, text)}
    if demo:
        headers["x-simulated-trading"] = "1"
    try:
        request_target = httpx.URL(target)
    except httpx.InvalidURL:
        return  # the client cannot send it; the raw-socket tests cover such targets
    assert_envelope(answer(the_app, method, str(request_target), body, headers))


@given(st.dictionaries(st.sampled_from(["OK-ACCESS-KEY", "OK-ACCESS-SIGN",
                                        "OK-ACCESS-TIMESTAMP", "OK-ACCESS-PASSPHRASE",
                                        "x-simulated-trading", "X-Forwarded-For",
                                        "Content-Length"]), header_values),
       st.sampled_from(ROUTES), bodies)
@FUZZ
def test_any_headers_get_an_envelope(app: tuple[KeysealApp, dict[str, str]],
                                     headers: dict[str, str], path: str, body: bytes) -> None:
    the_app, _ = app
    headers.pop("Content-Length", None)  # the client frames the body; tests/hardening lie
    assert_envelope(answer(the_app, "POST", path, body, headers))


# -- WebSocket frames ----------------------------------------------------------------------
def login_args(key: dict[str, str], clock: float) -> st.SearchStrategy[dict[str, Any]]:
    ts = str(int(clock))
    good = {"apiKey": key["apiKey"], "passphrase": key["passphrase"], "timestamp": ts,
            "sign": sign_ws_login(key["secretKey"], ts)}
    return st.fixed_dictionaries({}, optional={
        "apiKey": st.just(good["apiKey"]) | scalars, "passphrase": st.just(good["passphrase"])
        | scalars, "timestamp": st.just(ts) | scalars | st.integers(), "sign": st.just(
            good["sign"]) | scalars})


def frames(key: dict[str, str], clock: float) -> st.SearchStrategy[str]:
    login = st.builds(lambda args: {"op": "login", "args": args},
                      st.lists(login_args(key, clock), max_size=2) | scalars)
    subscribe = st.builds(lambda op, args: {"op": op, "args": args},
                          st.sampled_from(["subscribe", "unsubscribe"]),
                          st.lists(st.dictionaries(st.sampled_from(["channel", "instType"]),
                                                   st.sampled_from(sorted(PRIVATE_CHANNELS))
                                                   | scalars, max_size=2), max_size=3)
                          | scalars)
    other = st.dictionaries(st.sampled_from(["op", "args", "id"]), json_values, max_size=3)
    as_text = (login | subscribe | other).map(json.dumps)
    return as_text | st.text(max_size=100) | st.just("ping") | st.binary(max_size=60).map(
        lambda b: b.decode("utf-8", "replace")) | as_text.map(lambda t: t[: len(t) // 2])


def test_any_websocket_frames_get_an_event_with_a_code(
        app: tuple[KeysealApp, dict[str, str]]) -> None:
    the_app, key = app
    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    @given(st.lists(frames(key, the_app.rt.clock()), min_size=1, max_size=6))
    @FUZZ
    def session_of(texts: list[str]) -> None:
        async def run() -> None:
            session = PrivateSession(the_app.state, {"headers": []}, "127.0.0.1", send)
            try:
                for text in texts:
                    reply = await session.handle(text)
                    if text == "ping":
                        assert reply == "pong"
                        continue
                    assert reply is not None
                    event = json.loads(reply)
                    assert event.get("event") in {"login", "error", "subscribe", "unsubscribe"}
                    if event["event"] in ("login", "error"):
                        assert isinstance(event["code"], str)
            finally:
                session.forget()
        asyncio.run(run())

    session_of()
    assert sent == []  # no frame made the session close itself


@pytest.mark.parametrize("steps", [400, 500, 505, 511, 520])
def test_a_deeply_nested_signed_body_is_50002_not_a_500(
        app: tuple[KeysealApp, dict[str, str]], steps: int) -> None:
    """What the parser fuzzing found, on the wire: 1,000-1,023 levels were a 500."""
    the_app, key = app
    body = b'[0,{"a":0,"b":' * steps + b"0" + b"}]" * steps
    ts = format_timestamp(the_app.rt.clock())
    headers = {"OK-ACCESS-KEY": key["apiKey"], "OK-ACCESS-TIMESTAMP": ts,
               "OK-ACCESS-PASSPHRASE": key["passphrase"],
               "OK-ACCESS-SIGN": sign_request(key["secretKey"], ts, "POST",
                                              "/api/v5/trade/batch-orders", body.decode())}
    reply = assert_envelope(answer(the_app, "POST", "/api/v5/trade/batch-orders", body,
                                   headers))
    assert reply["code"] in {"50002", "51000", "1"}, reply
