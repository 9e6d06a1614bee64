"""Changes made by the CLI reach a running server within a second."""

from __future__ import annotations

import time

import httpx

from tests.conftest import LiveServer, signed_headers

BALANCE = "/api/v5/account/balance"


def code_of(live_server: LiveServer, key: dict[str, str]) -> str:
    response = httpx.get(live_server.url + BALANCE, headers=signed_headers(key, "GET", BALANCE))
    return str(response.json()["code"])


def seconds_until(live_server: LiveServer, key: dict[str, str], code: str) -> float:
    start = time.monotonic()
    while time.monotonic() - start < 5:
        if code_of(live_server, key) == code:
            return time.monotonic() - start
        time.sleep(0.02)  # polling a real process; there is no clock to inject here
    raise AssertionError(f"the server did not answer {code} within 5 s")


def test_disable_enable_delete_take_effect_within_a_second(live_server: LiveServer) -> None:
    key = live_server.new_key()
    assert code_of(live_server, key) == "0"
    live_server.cli("key", "disable", key["apiKey"])
    assert seconds_until(live_server, key, "50100") < 1.0
    live_server.cli("key", "enable", key["apiKey"])
    assert seconds_until(live_server, key, "0") < 1.0
    live_server.cli("key", "delete", key["apiKey"])
    assert seconds_until(live_server, key, "50111") < 1.0


def test_a_credit_by_the_cli_shows_in_the_served_balance(live_server: LiveServer) -> None:
    email = live_server.new_account(credit={})
    key = live_server.new_key(email)
    assert httpx.get(live_server.url + BALANCE, headers=signed_headers(key, "GET", BALANCE)
                     ).json()["data"][0]["details"] == []
    live_server.cli("ledger", "credit", "--account", email, "--ccy", "ETH", "--amount", "2.5")
    start = time.monotonic()
    while time.monotonic() - start < 5:
        details = httpx.get(live_server.url + BALANCE,
                            headers=signed_headers(key, "GET", BALANCE)).json()["data"][0]["details"]
        if details:
            assert details[0]["ccy"] == "ETH" and details[0]["cashBal"] == "2.5"
            assert time.monotonic() - start < 1.0
            return
        time.sleep(0.02)
    raise AssertionError("the credit never reached the server")


def test_a_key_probed_before_it_existed_works_once_created(live_server: LiveServer) -> None:
    email = live_server.new_account()
    key = live_server.new_key(email)
    ghost = dict(key, apiKey="22222222-3333-4444-8555-666666666666")
    assert code_of(live_server, ghost) == "50111"  # now cached as unknown
    assert code_of(live_server, key) == "0"


def test_a_restriction_set_by_the_cli_freezes_the_accounts_keys_within_a_second(
        live_server: LiveServer) -> None:
    email = live_server.new_account()
    key = live_server.new_key(email)
    assert code_of(live_server, key) == "0"
    live_server.cli("account", "restrict", email)
    assert seconds_until(live_server, key, "50100") < 1.0
    live_server.cli("account", "unrestrict", email)
    assert seconds_until(live_server, key, "0") < 1.0


def test_an_ip_allowlist_edited_by_the_cli_applies_within_a_second(live_server: LiveServer) -> None:
    key = live_server.new_key()
    live_server.cli("key", "edit", key["apiKey"], "--ip", "10.9.9.9")
    assert seconds_until(live_server, key, "50110") < 1.0
    live_server.cli("key", "edit", key["apiKey"], "--ip", "")
    assert seconds_until(live_server, key, "0") < 1.0
