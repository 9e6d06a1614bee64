"""``/ws/v5/private`` login on a real server, over a real WebSocket."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
import websockets

from keyseal.signing import sign_ws_login
from tests.conftest import LiveServer


def login(key: dict[str, str], *, timestamp: Any = None, secret: str | None = None,
          passphrase: str | None = None) -> str:
    ts = str(int(time.time())) if timestamp is None else timestamp
    return json.dumps({"op": "login", "args": [{
        "apiKey": key["apiKey"], "passphrase": passphrase or key["passphrase"],
        "timestamp": ts, "sign": sign_ws_login(secret or key["secretKey"], str(ts))}]})


async def exchange(url: str, *frames: str, headers: dict[str, str] | None = None) -> list[Any]:
    replies = []
    async with websockets.connect(url, additional_headers=headers) as ws:
        for frame in frames:
            await ws.send(frame)
            reply = await ws.recv()
            replies.append(reply if reply == "pong" else json.loads(reply))
    return replies


async def test_ping_pong_and_login_with_string_or_number_timestamp(live_server: LiveServer) -> None:
    key = live_server.new_key()
    pong, by_string, = await exchange(live_server.ws_url, "ping", login(key))
    assert pong == "pong"
    assert by_string["event"] == "login" and by_string["code"] == "0" and by_string["connId"]
    [by_number] = await exchange(live_server.ws_url, login(key, timestamp=int(time.time())))
    assert by_number["code"] == "0"


@pytest.mark.parametrize(("tamper", "code"), [
    ({"secret": "0" * 32}, "60007"),
    ({"passphrase": "Wrong-Pass1"}, "60024"),
    ({"timestamp": str(int(time.time()) - 120)}, "60006"),
    ({"timestamp": "soon"}, "60004"),
])
async def test_login_refusals(live_server: LiveServer, tamper: dict[str, Any], code: str) -> None:
    [reply] = await exchange(live_server.ws_url, login(live_server.new_key(), **tamper))
    assert reply["event"] == "error" and reply["code"] == code


async def test_unknown_key_and_bad_requests(live_server: LiveServer) -> None:
    ghost = {"apiKey": "11111111-2222-4333-8444-555555555555", "passphrase": "x",
             "secretKey": "s"}
    unknown, garbage, bad_op, early = await exchange(
        live_server.ws_url, login(ghost), "{nope", json.dumps({"op": "dance"}),
        json.dumps({"op": "subscribe", "args": [{"channel": "orders"}]}))
    assert unknown["code"] == "60032"
    assert garbage["code"] == "60012"
    assert bad_op["code"] == "60019"
    assert early["code"] == "60011"


async def test_demo_keys_log_in_on_the_demo_url_only(live_server: LiveServer) -> None:
    demo = live_server.new_key(demo=True)
    [live_attempt] = await exchange(live_server.ws_url, login(demo))
    assert live_attempt["code"] == "50101"
    [by_broker] = await exchange(live_server.ws_url + "?brokerId=9999", login(demo))
    assert by_broker["code"] == "0"
    [by_header] = await exchange(live_server.ws_url, login(demo),
                                 headers={"x-simulated-trading": "1"})
    assert by_header["code"] == "0"


async def test_subscribe_after_login(live_server: LiveServer) -> None:
    key = live_server.new_key()
    _, subscribed, unknown = await exchange(
        live_server.ws_url, login(key),
        json.dumps({"op": "subscribe", "args": [{"channel": "orders", "instType": "SPOT"}]}),
        json.dumps({"op": "subscribe", "args": [{"channel": "nope"}]}))
    assert subscribed["event"] == "subscribe" and subscribed["arg"]["channel"] == "orders"
    assert unknown["code"] == "60018"


async def test_a_login_counts_as_use_of_the_key(live_server: LiveServer) -> None:
    key = live_server.new_key()
    await exchange(live_server.ws_url, login(key))
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        listed = live_server.cli("key", "list", "--account", _email_of(live_server, key), "--json")
        [row] = json.loads(listed.stdout)
        if row["lastUsed"]:
            assert row["lastUsedIp"] == "127.0.0.1"
            return
    pytest.fail("the login was not recorded as a use of the key within 5 s")


def _email_of(live_server: LiveServer, key: dict[str, str]) -> str:
    from keyseal.services import keys as key_service
    from keyseal.store import accounts

    account_id = key_service.get_key(live_server.rt, key["apiKey"]).account_id
    with live_server.rt.db.read() as conn:
        account = accounts.by_id(conn, account_id)
    assert account is not None and account.email
    return account.email


async def test_a_session_is_closed_with_4007_when_its_key_is_disabled(
        live_server: LiveServer) -> None:
    import asyncio

    key = live_server.new_key()
    async with websockets.connect(live_server.ws_url) as ws:
        await ws.send(login(key))
        assert json.loads(await ws.recv())["code"] == "0"
        await asyncio.to_thread(live_server.cli, "key", "disable", key["apiKey"])
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await asyncio.wait_for(ws.recv(), timeout=5)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 4007
        assert "updated or deleted" in closed.value.rcvd.reason
    other = live_server.new_key()  # other sessions are untouched
    [reply] = await exchange(live_server.ws_url, login(other))
    assert reply["code"] == "0"
