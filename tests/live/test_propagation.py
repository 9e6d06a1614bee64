"""Changes made by the CLI (another process) reach a running server without a restart.
How fast they do ("within a second", DESIGN.md) is a figure: benchmarks/propagation.py
measures it, since a wall-clock bound asserted here fails on a loaded machine."""

from __future__ import annotations

import time
import uuid
from types import SimpleNamespace

import httpx
import pytest

from keyseal.services import keys as key_service
from tests.conftest import LiveServer, signed_headers

BALANCE = "/api/v5/account/balance"
TRIES = 500


def code_of(live_server: LiveServer, key: dict[str, str]) -> str:
    response = httpx.get(live_server.url + BALANCE, headers=signed_headers(key, "GET", BALANCE))
    return str(response.json()["code"])


def wait_for_code(live_server: LiveServer, key: dict[str, str], code: str) -> None:
    """Poll until the server answers ``code``. The number of tries (10 s or more) only stops
    a broken server from hanging the suite; it is not the speed being tested."""
    for _ in range(TRIES):
        if code_of(live_server, key) == code:
            return
        time.sleep(0.02)  # polling a real process; there is no clock to inject here
    raise AssertionError(f"the server never answered {code}")


def test_disable_enable_delete_take_effect_without_a_restart(live_server: LiveServer) -> None:
    key = live_server.new_key()
    assert code_of(live_server, key) == "0"
    live_server.cli("key", "disable", key["apiKey"])
    wait_for_code(live_server, key, "50100")
    live_server.cli("key", "enable", key["apiKey"])
    wait_for_code(live_server, key, "0")
    live_server.cli("key", "delete", key["apiKey"])
    wait_for_code(live_server, key, "50111")


def test_a_credit_by_the_cli_shows_in_the_served_balance(live_server: LiveServer) -> None:
    email = live_server.new_account(credit={})
    key = live_server.new_key(email)
    assert httpx.get(live_server.url + BALANCE, headers=signed_headers(key, "GET", BALANCE)
                     ).json()["data"][0]["details"] == []
    live_server.cli("ledger", "credit", "--account", email, "--ccy", "ETH", "--amount", "2.5")
    for _ in range(TRIES):
        details = httpx.get(live_server.url + BALANCE,
                            headers=signed_headers(key, "GET", BALANCE)).json()["data"][0]["details"]
        if details:
            assert details[0]["ccy"] == "ETH" and details[0]["cashBal"] == "2.5"
            return
        time.sleep(0.02)
    raise AssertionError("the credit never reached the server")


def test_a_key_probed_before_it_existed_works_once_created(
        live_server: LiveServer, monkeypatch: pytest.MonkeyPatch) -> None:
    """A holder who called too early (or an id probed by a flood) must not find the key
    refused once it really exists: its first call after creation is served."""
    email = live_server.new_account()
    ghost_id = str(uuid.uuid4())
    probe = dict(live_server.new_key(email), apiKey=ghost_id)
    assert code_of(live_server, probe) == "50111"  # no such key yet
    monkeypatch.setattr(key_service, "uuid", SimpleNamespace(uuid4=lambda: uuid.UUID(ghost_id)))
    created = live_server.new_key(email)  # now it exists, created by another process
    assert created["apiKey"] == ghost_id
    assert code_of(live_server, created) == "0"  # at once: no wait for the change follower


def test_a_restriction_set_by_the_cli_freezes_the_accounts_keys(
        live_server: LiveServer) -> None:
    email = live_server.new_account()
    key = live_server.new_key(email)
    assert code_of(live_server, key) == "0"
    live_server.cli("account", "restrict", email)
    wait_for_code(live_server, key, "50100")
    live_server.cli("account", "unrestrict", email)
    wait_for_code(live_server, key, "0")


def test_an_ip_allowlist_edited_by_the_cli_applies(live_server: LiveServer) -> None:
    key = live_server.new_key()
    live_server.cli("key", "edit", key["apiKey"], "--ip", "10.9.9.9")
    wait_for_code(live_server, key, "50110")
    live_server.cli("key", "edit", key["apiKey"], "--ip", "")
    wait_for_code(live_server, key, "0")
