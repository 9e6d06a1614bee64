"""Forward-auth through real nginx and Caddy: what reaches the upstream, what the client is
told, with the README's configuration blocks as written."""

from __future__ import annotations

import json
from typing import Any

import httpx

from keyseal.client import Client, Credentials
from tests.conftest import envelope
from tests.proxy.conftest import Proxy, Upstream, Verifier, signed

ORDER = '{"instId":"BTC-USDT","side":"buy","sz":"0.01"}'


def reached(upstream: Upstream, target: str) -> list[dict[str, Any]]:
    return [seen for seen in upstream.seen if seen["target"] == target]


def keyseal_headers(seen: dict[str, Any]) -> dict[str, str]:
    return {k: v for k, v in seen["headers"].items() if k.startswith("x-keyseal-")}


def test_a_signed_get_reaches_the_upstream_with_the_callers_headers(
        proxy: Proxy, verifier: Verifier) -> None:
    key = verifier.key(perm="read_only,trade")
    client = Client(Credentials(key["apiKey"], key["secretKey"], key["passphrase"]),
                    base_url=proxy.url)
    [seen] = client.get("/orders", {"instId": "BTC-USDT", "state": "live"})
    assert seen["method"] == "GET" and seen["target"] == "/orders?instId=BTC-USDT&state=live"
    uid = seen["headers"]["x-keyseal-account"]
    assert uid and uid.isdigit()
    assert keyseal_headers(seen) == {"x-keyseal-account": uid, "x-keyseal-key": key["apiKey"],
                                     "x-keyseal-permissions": "read_only,trade"}
    assert "ok-access-passphrase" not in seen["headers"]
    assert key["secretKey"] not in json.dumps(seen), seen
    assert key["passphrase"] not in json.dumps(seen), seen


def test_a_signed_body_is_verified_over_that_body_and_reaches_the_upstream(
        proxy: Proxy, verifier: Verifier, upstream: Upstream) -> None:
    key = verifier.key(perm="read_only,trade")
    target = f"/orders?via={proxy.name}-body"
    with proxy.client() as http:
        reply = http.post(target, content=ORDER, headers=signed(key, "POST", target, ORDER))
    assert reply.status_code == 200, reply.text
    [seen] = reached(upstream, target)
    assert seen["method"] == "POST" and seen["body"] == ORDER
    assert seen["headers"]["x-keyseal-key"] == key["apiKey"]


def test_a_tampered_body_is_refused_with_50113(proxy: Proxy, verifier: Verifier,
                                                upstream: Upstream) -> None:
    key = verifier.key(perm="read_only,trade")
    target = f"/orders?via={proxy.name}-tampered"
    tampered = ORDER.replace("0.01", "100")
    with proxy.client() as http:
        reply = http.post(target, content=tampered, headers=signed(key, "POST", target, ORDER))
    assert reply.status_code == 401
    assert envelope(reply) == {"code": "50113", "msg": "Invalid Sign", "data": []}
    assert reached(upstream, target) == []


def test_a_wrong_signature_is_50113_with_401_from_the_proxy(proxy: Proxy,
                                                            verifier: Verifier) -> None:
    key = verifier.key()
    with proxy.client() as http:
        reply = http.get("/orders", headers=signed(key, "GET", "/orders", secret="wrong"))
    assert reply.status_code == 401
    assert reply.headers["content-type"].startswith("application/json")
    assert envelope(reply) == {"code": "50113", "msg": "Invalid Sign", "data": []}
    assert key["secretKey"] not in reply.text and key["secretKey"] not in verifier.log()


def test_an_unsigned_request_is_refused_in_okx_order(proxy: Proxy,
                                                     upstream: Upstream) -> None:
    with proxy.client() as http:
        reply = http.get("/orders?unsigned=1")
    assert reply.status_code == 401 and envelope(reply)["code"] == "50103"
    assert reached(upstream, "/orders?unsigned=1") == []


def test_a_key_without_the_routes_permission_is_50120_with_403(proxy: Proxy,
                                                               verifier: Verifier) -> None:
    reader = verifier.key(perm="read_only")
    with proxy.client() as http:
        trade = http.post("/orders", content=ORDER, headers=signed(reader, "POST", "/orders",
                                                                    ORDER))
        target = "/orders/%2E%2E//payouts/btc"  # judged as /payouts/btc: withdraw
        payout = http.get(target, headers=signed(reader, "GET", target))
    for reply in (trade, payout):
        assert reply.status_code == 403 and envelope(reply)["code"] == "50120", reply.text


def test_a_routes_rate_limit_is_50011_with_429(proxy: Proxy, verifier: Verifier) -> None:
    key = verifier.key()  # GET /limited: 2 per hour and account
    with proxy.client() as http:
        codes = [http.get("/limited", headers=signed(key, "GET", "/limited")).status_code
                 for _ in range(3)]
        refused = http.get("/limited", headers=signed(key, "GET", "/limited"))
    assert codes == [200, 200, 429]
    assert envelope(refused) == {"code": "50011", "msg": "Too Many Requests", "data": []}


def test_the_ip_allow_list_sees_the_clients_address_the_proxy_forwards(
        proxy: Proxy, verifier: Verifier) -> None:
    key = verifier.key(ip="127.0.0.2")
    with proxy.client("127.0.0.2") as allowed, proxy.client("127.0.0.3") as other:
        assert allowed.get("/orders", headers=signed(key, "GET", "/orders")).status_code == 200
        refused = other.get("/orders", headers=signed(key, "GET", "/orders"))
        forged = other.get("/orders", headers={**signed(key, "GET", "/orders"),
                                               "X-Forwarded-For": "127.0.0.2"})
    for reply in (refused, forged):
        assert reply.status_code == 401 and envelope(reply)["code"] == "50110", reply.text
        assert "127.0.0.3" in envelope(reply)["msg"]


def test_a_clients_own_x_keyseal_headers_never_reach_the_upstream(
        proxy: Proxy, verifier: Verifier, upstream: Upstream) -> None:
    forged = {"X-Keyseal-Account": "1", "X-Keyseal-Key": "forged",
              "X-Keyseal-Permissions": "read_only,trade,withdraw"}
    key = verifier.key()
    with proxy.client() as http:
        public = http.get(f"/health?via={proxy.name}", headers=forged)
        target = f"/orders?via={proxy.name}-forged"
        keyed = http.get(target, headers={**signed(key, "GET", target), **forged})
    assert public.status_code == 200 and keyed.status_code == 200
    [on_public] = reached(upstream, f"/health?via={proxy.name}")
    assert set(keyseal_headers(on_public).values()) <= {""}  # Caddy may pass them empty
    [on_keyed] = reached(upstream, target)
    assert keyseal_headers(on_keyed)["x-keyseal-key"] == key["apiKey"]
    assert keyseal_headers(on_keyed)["x-keyseal-permissions"] == "read_only"


def test_nginx_auth_request_alone_refuses_a_body_it_cannot_pass_with_70031(
        nginx: Proxy, verifier: Verifier, upstream: Upstream) -> None:
    key = verifier.key(perm="read_only,trade")
    assert nginx.auth_request_only_url is not None
    target = "/orders?via=auth-request-only"
    for extra in ({}, {"Transfer-Encoding": "chunked"}):
        headers = {**signed(key, "POST", target, ORDER), **extra}
        content = iter([ORDER.encode()]) if extra else ORDER
        reply = httpx.post(nginx.auth_request_only_url + target, content=content,
                           headers=headers, timeout=10)
        assert reply.status_code == 400, reply.text
        assert envelope(reply)["code"] == "70031"
    assert reached(upstream, target) == []
    # what has no body still passes through the same location
    reply = httpx.get(nginx.auth_request_only_url + "/orders",
                      headers=signed(key, "GET", "/orders"), timeout=10)
    assert reply.status_code == 200


def test_a_chunked_body_through_nginx_is_verified_over_it(nginx: Proxy, verifier: Verifier,
                                                          upstream: Upstream) -> None:
    key = verifier.key(perm="read_only,trade")
    target = "/orders?via=nginx-chunked"
    reply = httpx.post(nginx.url + target, content=iter([ORDER[:10].encode(), ORDER[10:].encode()]),
                       headers=signed(key, "POST", target, ORDER), timeout=10)
    assert reply.status_code == 200, reply.text
    [seen] = reached(upstream, target)
    assert seen["body"] == ORDER


def test_caddy_refuses_a_body_it_cannot_put_in_a_header(caddy: Proxy, verifier: Verifier,
                                                        upstream: Upstream) -> None:
    key = verifier.key(perm="read_only,trade")
    target = "/orders?via=caddy-multiline"
    body = '{\n  "instId": "BTC-USDT"\n}'
    reply = httpx.post(caddy.url + target, content=body,
                       headers=signed(key, "POST", target, body), timeout=10)
    assert reply.status_code == 502  # Go will not send a header with a line break in it
    assert reached(upstream, target) == []
    # a chunked body on one line is read and verified
    target = "/orders?via=caddy-chunked"
    reply = httpx.post(caddy.url + target, content=iter([ORDER[:10].encode(), ORDER[10:].encode()]),
                       headers=signed(key, "POST", target, ORDER), timeout=10)
    assert reply.status_code == 200, reply.text
    assert reached(upstream, target)[0]["body"] == ORDER
