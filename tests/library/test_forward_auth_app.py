"""The forward-auth verify endpoint in-process: what the proxy must state, and bad input
answered with OKX envelopes, never a 500 or a 200 it should not be."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from keyseal.clock import ManualClock
from keyseal.library import KeysealAuth
from keyseal.library.forward_auth import PASS_ON, ForwardAuthApp
from keyseal.library.route_rules import RouteRules, RulesError, parse_rate, route_path
from keyseal.services.runtime import Runtime
from keyseal.signing import format_timestamp
from tests.conftest import envelope, make_key, signed_headers
from tests.library.conftest import client_for
from tests.proxy.conftest import readme_block

NO_BODY = {"X-Keyseal-Body-Framing": "length=;te="}


@pytest.fixture
async def verify(sqlite_rt: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    rules = RouteRules.load(None, ["GET /orders=read", "/payouts/*=withdraw", "/health=public"])
    async with client_for(ForwardAuthApp(KeysealAuth(sqlite_rt), rules)) as client:
        yield client


def asked(key: dict[str, str], clock: ManualClock, method: str, target: str, body: str = "",
          **stated: str) -> dict[str, str]:
    """What the proxy sends: the client's signed headers and the original request."""
    headers = signed_headers(key, method, target, body, timestamp=format_timestamp(clock()))
    return {**headers, "X-Forwarded-Method": method, "X-Forwarded-Uri": target, **stated}


async def test_a_verified_request_is_200_with_the_callers_headers(
        verify: httpx.AsyncClient, sqlite_rt: Runtime, clock: ManualClock) -> None:
    key = make_key(sqlite_rt, perm="read_only,trade")
    reply = await verify.get("/verify", headers=asked(key, clock, "GET", "/orders?x=1", **NO_BODY))
    assert reply.status_code == 200, reply.text
    assert reply.headers["x-keyseal-key"] == key["apiKey"]
    assert reply.headers["x-keyseal-permissions"] == "read_only,trade"
    assert reply.headers["x-keyseal-account"].isdigit()


async def test_a_body_in_a_header_or_in_full_is_verified_over_it(
        verify: httpx.AsyncClient, sqlite_rt: Runtime, clock: ManualClock) -> None:
    key = make_key(sqlite_rt, perm="read_only,trade")
    body = '{"sz":"1"}'
    in_header = await verify.get("/verify", headers=asked(key, clock, "POST", "/orders", body,
                                                          **{"X-Keyseal-Body": body}))
    assert in_header.status_code == 200, in_header.text
    clock.advance(0.001)  # the same signed request twice would be a replay (70017)
    in_full = await verify.post("/", content=body, headers=asked(
        key, clock, "POST", "/orders", body, **{"X-Keyseal-Body-Framing": "in-full"}))
    assert in_full.status_code == PASS_ON and in_full.headers["x-keyseal-key"] == key["apiKey"]
    tampered = await verify.get("/verify", headers=asked(key, clock, "POST", "/orders", body,
                                                         **{"X-Keyseal-Body": body + " "}))
    assert tampered.status_code == 401 and envelope(tampered)["code"] == "50113"


@pytest.mark.parametrize("framing", ["length=12;te=", "length=;te=chunked", "LENGTH=3; te="])
async def test_a_body_the_proxy_did_not_pass_is_70031_never_200(
        verify: httpx.AsyncClient, sqlite_rt: Runtime, clock: ManualClock, framing: str) -> None:
    key = make_key(sqlite_rt, perm="read_only,trade")
    reply = await verify.get("/verify", headers=asked(key, clock, "POST", "/orders",
                                                      **{"X-Keyseal-Body-Framing": framing}))
    assert reply.status_code == 400 and envelope(reply)["code"] == "70031"
    assert envelope(httpx.Response(200, content=reply.headers["x-keyseal-refusal"]))["code"] == "70031"


@pytest.mark.parametrize(("stated", "named"), [
    ({"X-Forwarded-Method": "GET"}, "X-Forwarded-Uri"),
    ({"X-Forwarded-Uri": "/orders"}, "X-Forwarded-Method"),
    ({"X-Forwarded-Method": "GET", "X-Forwarded-Uri": "/orders"}, "whether the request has a body"),
    ({"X-Forwarded-Method": "GET", "X-Forwarded-Uri": "/orders", "X-Keyseal-Body": "",
      **NO_BODY}, "not both"),
    ({"X-Forwarded-Method": "GET", "X-Forwarded-Uri": "/orders",
      "X-Keyseal-Body-Framing": "12"}, "length=<Content-Length>"),
])
async def test_a_proxy_that_does_not_state_the_request_gets_70030(
        verify: httpx.AsyncClient, sqlite_rt: Runtime, clock: ManualClock,
        stated: dict[str, str], named: str) -> None:
    key = make_key(sqlite_rt)
    headers = {**signed_headers(key, "GET", "/orders", timestamp=format_timestamp(clock())),
               **stated}
    reply = await verify.get("/verify", headers=headers)
    assert reply.status_code == 500 and envelope(reply)["code"] == "70030"
    assert named in envelope(reply)["msg"]


@pytest.mark.parametrize("repeated", ["X-Forwarded-Uri", "X-Forwarded-Method",
                                      "X-Keyseal-Body-Framing", "X-Keyseal-Body"])
async def test_a_statement_made_twice_is_70030_not_the_last_one_believed(
        verify: httpx.AsyncClient, sqlite_rt: Runtime, clock: ManualClock, repeated: str) -> None:
    """A client's own X-Forwarded-Uri beside the proxy's would otherwise choose the route."""
    key = make_key(sqlite_rt, perm="read_only,trade")
    headers = list(asked(key, clock, "GET", "/orders", **NO_BODY).items())
    headers.insert(0, (repeated, {"X-Forwarded-Uri": "/health", "X-Forwarded-Method": "GET",
                                  "X-Keyseal-Body-Framing": "in-full",
                                  "X-Keyseal-Body": ""}[repeated]))
    if repeated == "X-Keyseal-Body":
        headers.append(("X-Keyseal-Body", ""))
        headers = [(k, v) for k, v in headers if k != "X-Keyseal-Body-Framing"]
    reply = await verify.get("/verify", headers=headers)
    assert reply.status_code == 500 and envelope(reply)["code"] == "70030", reply.text
    assert "twice" in envelope(reply)["msg"]


@pytest.mark.parametrize(("method", "target", "code", "status"), [
    ("get", "/orders", "50115", 405), ("G\u00c9T", "/orders", "50115", 405),
    ("GET", "http://elsewhere/orders", "50005", 404), ("GET", "*", "50005", 404),
    ("GET", "/orders?\u00ff=%zz", "50103", 401), ("GET", "/%ff%00/../..", "50103", 401),
])
async def test_bad_input_is_an_envelope_never_a_500(
        verify: httpx.AsyncClient, method: str, target: str, code: str, status: int) -> None:
    headers = [(b"x-forwarded-method", method.encode("latin-1")),
               (b"x-forwarded-uri", target.encode("latin-1")),
               (b"x-keyseal-body-framing", b"length=;te=")]
    reply = await verify.get("/verify", headers=headers)
    assert (reply.status_code, envelope(reply)["code"]) == (status, code)


async def test_a_public_route_is_200_with_empty_caller_headers(verify: httpx.AsyncClient) -> None:
    reply = await verify.get("/verify", headers={"X-Forwarded-Method": "GET",
                                                 "X-Forwarded-Uri": "/health", **NO_BODY})
    assert reply.status_code == 200 and reply.headers["x-keyseal-key"] == ""


async def test_50120_is_sent_with_403_so_no_proxy_reads_it_as_allowed(
        verify: httpx.AsyncClient, sqlite_rt: Runtime, clock: ManualClock) -> None:
    key = make_key(sqlite_rt, perm="read_only,trade")
    target = "/orders/%2e%2e/payouts//x"
    reply = await verify.get("/verify", headers=asked(key, clock, "GET", target, **NO_BODY))
    assert reply.status_code == 403 and envelope(reply)["code"] == "50120"


def test_unnamed_routes_need_read_for_get_and_head_and_trade_otherwise() -> None:
    rules = RouteRules.load(None, ["/payouts/*=withdraw"])
    assert rules.lookup("GET", "/anything").access.permission.name == "READ"  # type: ignore[union-attr]
    assert rules.lookup("HEAD", "/x").access.permission.name == "READ"  # type: ignore[union-attr]
    assert rules.lookup("DELETE", "/x").access.permission.name == "TRADE"  # type: ignore[union-attr]
    assert rules.lookup("GET", "/payouts/1").access.permission.name == "WITHDRAW"  # type: ignore[union-attr]
    assert RouteRules({}, default="public").lookup("POST", "/x") is None


def test_paths_are_judged_as_an_upstream_reads_them() -> None:
    assert route_path(b"/orders/%2E%2E//payouts/./x/") == "/payouts/x"
    assert route_path(b"/../../etc") == "/etc"
    assert route_path(b"/a%2Fb") == "/a/b"


def test_the_readme_rules_file_loads(tmp_path: Path) -> None:
    (tmp_path / "routes.toml").write_text(readme_block("toml"))
    rules = RouteRules.load(tmp_path / "routes.toml")
    post = rules.lookup("POST", "/orders")
    assert post is not None and post.access.rate == parse_rate("60/2s")
    assert rules.lookup("GET", "/health") is None


@pytest.mark.parametrize(("text", "flags", "said"), [
    ('default = "admin"', [], "default is one of"),
    ('rate = "fast"', [], "a rate is"),
    ('[routes]\n"GET /x" = "root"', [], "needs read, trade, withdraw or public"),
    ('[routes]\n"x" = "read"', [], "'/path' or 'METHOD /path'"),
    ("surprise = 1", [], "unknown setting"),
    ("not toml [", [], "is not TOML"),
    ("", ["POST /orders"], "--route is"),
])
def test_a_bad_rules_file_or_flag_says_what_is_wrong(tmp_path: Path, text: str, flags: list[str],
                                                   said: str) -> None:
    (tmp_path / "routes.toml").write_text(text)
    with pytest.raises(RulesError) as bad:
        RouteRules.load(tmp_path / "routes.toml", flags)
    assert said in str(bad.value)


