"""KeysealMiddleware in front of a bare ASGI app: the gate's checks, codes and side
effects, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest

from keyseal.clock import ManualClock
from keyseal.domain.commands import SetKeyStatus
from keyseal.domain.keys import KeyStatus
from keyseal.library import Access, KeysealAuth, KeysealMiddleware, Permission, Rate
from keyseal.services import keys as key_service
from keyseal.services.runtime import Runtime, open_runtime
from keyseal.settings import Settings
from tests.conftest import envelope
from tests.library.conftest import CLIENT_IP, Own, client_for, echo

pytestmark = pytest.mark.asyncio


async def test_a_signed_request_reaches_the_handler_with_its_caller(own: Own) -> None:
    email, uid = own.account()
    key = own.key(email, perm="read_only,trade")
    reply = await own.get(key, "/orders?instId=BTC-USDT&state=live")
    assert reply.status_code == 200, reply.text
    answer = reply.json()
    assert answer["caller"] == {
        "uid": uid, "main_uid": uid, "api_key": key["apiKey"], "label": key["label"],
        "permissions": ["read_only", "trade"], "environment": "live", "client_ip": CLIENT_IP}
    assert answer["in_state"] is True
    assert key["secretKey"] not in reply.text and key["passphrase"] not in reply.text


async def test_the_body_reaches_the_handler_as_signed(own: Own) -> None:
    key = own.key(perm="read_only,trade")
    body = '{"instId":"BTC-USDT","sz":"0.5"}'
    reply = await own.post(key, "/orders", body)
    assert reply.status_code == 200, reply.text
    assert reply.json()["body"] == body


async def test_a_demo_key_is_a_demo_caller(own: Own) -> None:
    key = own.key(demo=True)
    reply = await own.get(key, "/orders", demo=True)
    assert reply.json()["caller"]["environment"] == "demo"
    refused = await own.get(key, "/orders")  # a demo key without the demo header
    assert refused.status_code == 401 and envelope(refused)["code"] == "50101"


async def test_a_wrong_signature_is_50113_with_http_401(own: Own, caplog: Any) -> None:
    key = own.key()
    with caplog.at_level(logging.INFO, "keyseal.library"):
        reply = await own.get(key, "/orders", secret="not-the-secret")
    assert reply.status_code == 401
    assert envelope(reply) == {"code": "50113", "msg": "Invalid Sign", "data": []}
    assert "50113" in caplog.text and key["secretKey"] not in caplog.text


async def test_missing_headers_are_refused_in_okx_order(own: Own) -> None:
    reply = await own.client.get("/orders")
    assert reply.status_code == 401 and envelope(reply)["code"] == "50103"


async def test_a_repeated_auth_header_is_refused_as_on_keyseals_own_routes(own: Own) -> None:
    key, other = own.key(), own.key()
    headers = list(own.headers(key, "GET", "/orders").items())
    headers.insert(0, ("OK-ACCESS-KEY", other["apiKey"]))
    reply = await own.client.get("/orders", headers=headers)
    assert (reply.status_code, envelope(reply)["code"]) == (400, "70016")


async def test_a_read_key_on_a_trade_route_is_50120(own: Own) -> None:
    key = own.key(perm="read_only")
    reply = await own.post(key, "/orders", '{"instId":"BTC-USDT"}')
    assert envelope(reply)["code"] == "50120"
    assert reply.json()["data"] == []


async def test_a_prefix_rule_covers_every_path_under_it(own: Own) -> None:
    trader = own.key(perm="read_only,trade")
    assert envelope(await own.post(trader, "/payouts/btc", "{}"))["code"] == "50120"
    withdrawer = own.key(perm="read_only,withdraw")
    assert (await own.post(withdrawer, "/payouts/btc", "{}")).json()["caller"] is not None


async def test_public_and_unmapped_paths_pass_unverified(own: Own) -> None:
    for path in ("/public/health", "/elsewhere"):
        reply = await own.client.get(path)
        assert reply.status_code == 200 and reply.json()["caller"] is None


async def test_a_key_disabled_in_this_process_is_refused_at_once(own: Own) -> None:
    key = own.key()
    assert (await own.get(key, "/orders")).status_code == 200  # now cached
    await asyncio.to_thread(key_service.set_key_status, own.auth.rt,
                            SetKeyStatus(key["apiKey"], KeyStatus.DISABLED))
    reply = await own.get(key, "/orders")
    assert envelope(reply)["code"] == "50100"


async def test_a_key_disabled_elsewhere_is_refused_once_the_change_follower_runs(
        own: Own, rt: Runtime, clock: ManualClock) -> None:
    key = own.key()
    assert (await own.get(key, "/orders")).status_code == 200  # now cached
    other = open_runtime(Settings(home=rt.settings.home, db_url=rt.settings.db_url), clock=clock)
    try:  # another process (keyseal serve, the CLI) disables the key
        key_service.set_key_status(other, SetKeyStatus(key["apiKey"], KeyStatus.DISABLED))
    finally:
        other.close()
    await own.auth.follower.catch_up()
    reply = await own.get(key, "/orders")
    assert envelope(reply)["code"] == "50100"


async def test_the_rate_limit_is_50011_with_http_429(rt: Runtime, clock: ManualClock,
                                                     own: Own) -> None:
    auth = KeysealAuth(rt, routes={"GET /orders": Access(Permission.READ, Rate(2, 1.0))})
    key = own.key()
    async with client_for(KeysealMiddleware(echo, auth)) as client:
        limited = Own(auth, client, rt, clock)
        assert [(await limited.get(key, "/orders")).status_code for _ in range(3)] == [200, 200, 429]
        assert envelope(await limited.get(key, "/orders"))["code"] == "50011"
        clock.advance(1.0)
        assert (await limited.get(key, "/orders")).status_code == 200


async def test_usage_is_recorded_after_a_flush(own: Own, clock: ManualClock) -> None:
    key = own.key()
    assert key_service.get_key(own.rt, key["apiKey"]).last_used_ms is None
    assert (await own.get(key, "/orders")).status_code == 200
    assert await own.auth.flush_usage() == 1
    used = key_service.get_key(own.rt, key["apiKey"])
    assert used.last_used_ms == int(clock() * 1000) and used.last_used_ip == CLIENT_IP


async def test_the_lifespan_starts_and_stops_keyseal_with_the_host(own: Own) -> None:
    seen: list[str] = []

    async def host(scope: Any, receive: Any, send: Any) -> None:  # a framework's lifespan
        assert scope["type"] == "lifespan"
        while True:
            message = await receive()
            seen.append(message["type"])
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            else:
                await send({"type": "lifespan.shutdown.complete"})
                return

    key = own.key()
    events = iter([{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}])
    sent: list[str] = []
    tasks_while_running: list[int] = []

    async def receive() -> dict[str, str]:
        if sent:  # the host has started: Keyseal's loops run, a request leaves usage
            tasks_while_running.append(len(own.auth._tasks))
            assert (await own.get(key, "/orders")).status_code == 200
        return next(events)

    async def send(message: dict[str, str]) -> None:
        sent.append(message["type"])

    await KeysealMiddleware(host, own.auth)({"type": "lifespan"}, receive, send)
    assert seen == ["lifespan.startup", "lifespan.shutdown"]
    assert sent == ["lifespan.startup.complete", "lifespan.shutdown.complete"]
    assert tasks_while_running == [3] and own.auth._tasks == []
    assert key_service.get_key(own.rt, key["apiKey"]).last_used_ms is not None  # flushed at stop


async def test_a_body_over_the_limit_is_refused_before_the_gate(own: Own) -> None:
    key = own.key(perm="read_only,trade")
    body = "x" * (own.rt.settings.max_body_bytes + 1)
    reply = await own.post(key, "/orders", body)
    assert reply.status_code == 413 and envelope(reply)["code"] == "50002"
