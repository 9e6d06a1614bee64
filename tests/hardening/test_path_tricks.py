"""A read-only key cannot reach a trade route, nor a trade key the withdrawal route, by any
spelling of the request: method-override headers, trailing slashes, ``//``, percent-encoded
paths (``%2F``, ``%2e``), dot segments, case, or the batch endpoint. Raw sockets against a
real ``keyseal serve``, so the HTTP server's own path handling is part of what is tested;
each request is signed over exactly the target sent, so only the route decides."""

from __future__ import annotations

import json
import time

import pytest

from keyseal.services.runtime import open_runtime
from keyseal.settings import Settings
from keyseal.signing import format_timestamp, sign_request
from tests.conftest import make_key
from tests.hardening.conftest import Served
from tests.hardening.wire import Answer, exchange

ORDER = json.dumps({"instId": "BTC-USDT", "tdMode": "cash", "side": "buy", "ordType": "limit",
                    "px": "1000", "sz": "0.001"})
WITHDRAW = json.dumps({"ccy": "USDT", "amt": "1", "dest": "4", "toAddr": "somewhere"})
OVERRIDES = ("X-HTTP-Method-Override", "X-Method-Override", "X-HTTP-Method", "X-Original-Method")


def spellings(path: str) -> list[str]:
    """Ways of writing ``path`` that a lenient server or proxy might take for it."""
    head, _, last = path.rpartition("/")
    return [
        path, path + "/", "/" + path, path.replace("/v5/", "/v5//"), path + "//",
        path.replace("/", "%2F"), head + "%2F" + last, head + "/%2e/" + last,
        head + "/./" + last, "/api/v5/account/../" + path.split("/api/v5/", 1)[1],
        "/api/v5/account/%2e%2e/" + path.split("/api/v5/", 1)[1],
        head + "/" + "".join(f"%{ord(c):02X}" for c in last), path.upper(),
        path + ";x=1", path + "%00", path + "%20", path + "?", path + "#x",
    ]


def request(key: dict[str, str], method: str, target: str, body: str = "",
            extra: dict[str, str] | None = None) -> bytes:
    ts = format_timestamp(time.time())
    headers = {"Host": "127.0.0.1", "OK-ACCESS-KEY": key["apiKey"],
               "OK-ACCESS-SIGN": sign_request(key["secretKey"], ts, method, target, body),
               "OK-ACCESS-TIMESTAMP": ts, "OK-ACCESS-PASSPHRASE": key["passphrase"],
               "Content-Type": "application/json", "Content-Length": str(len(body)),
               "Connection": "close", **(extra or {})}
    head = f"{method} {target} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    return head.encode("latin-1") + b"\r\n" + body.encode()


def tries(key: dict[str, str], path: str, body: str, read_back: str) -> list[bytes]:
    """Every way tried of sending ``body`` to ``path`` (a route ``key`` may not use)."""
    sent = [request(key, "POST", target, body) for target in spellings(path)]
    for name in OVERRIDES:  # a read the key may make, asking to be taken as the write
        sent.append(request(key, "GET", read_back, body, {name: "POST"}))
        sent.append(request(key, "POST", path, body, {name: "GET"}))
        sent.append(request(key, "PUT", path, body, {name: "POST"}))
    return sent


def send(served: Served, raw: bytes) -> Answer:
    answer, _ = exchange(served.port, raw)
    return answer


@pytest.mark.parametrize(("perm", "path", "body", "read_back"), [
    ("read_only", "/api/v5/trade/order", ORDER,
     "/api/v5/trade/order?instId=BTC-USDT&ordId=1"),
    ("read_only", "/api/v5/trade/batch-orders", f"[{ORDER}]", "/api/v5/trade/orders-pending"),
    ("read_only", "/api/v5/trade/cancel-order",
     json.dumps({"instId": "BTC-USDT", "ordId": "1"}), "/api/v5/trade/orders-pending"),
    ("read_only,trade", "/api/v5/asset/withdrawal", WITHDRAW, "/api/v5/asset/balances"),
], ids=["order", "batch", "cancel", "withdraw"])
def test_no_spelling_of_a_forbidden_route_gets_past_the_permission(
        guarded: Served, perm: str, path: str, body: str, read_back: str) -> None:
    rt = open_runtime(Settings(home=guarded.home))
    try:
        key = make_key(rt, perm=perm, credit={"USDT": "10000", "BTC": "1"})
    finally:
        rt.close()
    attempts = tries(key, path, body, read_back)
    answers = [send(guarded, raw) for raw in attempts]
    codes = []
    for raw, answer in zip(attempts, answers, strict=True):
        assert answer.status is not None and answer.status < 500, raw[:80]
        reply = json.loads(answer.body)
        assert {"code", "msg", "data"} <= set(reply), reply
        code = reply["code"]
        codes.append(code)
        if code == "0":  # only the read-back itself may pass, and it is a read
            assert raw.startswith(b"GET "), raw[:120]
    assert "50120" in codes  # the plain request is refused for its permission
    # and nothing was written: no order, no withdrawal, the balances as credited
    pending = json.loads(send(guarded, request(key, "GET", "/api/v5/trade/orders-pending")).body)
    assert pending["code"] == "0" and pending["data"] == []
    balances = json.loads(send(guarded, request(key, "GET", "/api/v5/asset/balances")).body)
    assert {b["ccy"]: b["bal"] for b in balances["data"]} == {"USDT": "10000", "BTC": "1"}
    print(f"{path}: {len(attempts)} spellings, codes {sorted(set(codes))}")
