"""Rotation seen by real OKX clients against a real `keyseal serve`: ccxt and python-okx work
with the rotated secret and, during the overlap, with the old one; `keyseal key rotate
--finish` run as another process stops the old secret in the server within a second (the
server follows the change log)."""

from __future__ import annotations

import json
import time

import ccxt
import okx.Account as Account
import pytest

from ._support import okx_code

pytestmark = pytest.mark.compat


def _rotate(live_server, key: dict, *args: str) -> dict:
    done = live_server.cli("key", "rotate", key["apiKey"], "--json", *args,
                           input="Rotated-Pass2\n" if "--new-passphrase" in args else None)
    rotated = json.loads(done.stdout)
    return {**key, "secretKey": rotated["secretKey"],
            "passphrase": rotated["passphrase"] or key["passphrase"]}


def test_ccxt_with_the_rotated_secret_and_the_old_one_until_finished(live_server, ccxt_factory):
    old = live_server.new_key(perm="read_only")
    new = _rotate(live_server, old, "--new-passphrase")
    assert new["passphrase"] == "Rotated-Pass2"
    assert ccxt_factory(new).fetch_balance()["USDT"]["total"] == 10000
    logged = (live_server.home / "server.log").read_text()
    for secret in (old["secretKey"], new["secretKey"], new["passphrase"]):
        assert secret not in logged
    assert ccxt_factory(old).fetch_balance()["USDT"]["total"] == 10000

    live_server.cli("key", "rotate", old["apiKey"], "--finish")
    deadline = time.monotonic() + 5
    while True:  # the server follows the change log every 0.2 s
        try:
            ccxt_factory(old).fetch_balance()
        except ccxt.AuthenticationError as refused:
            assert okx_code(refused) == "50113"
            break
        assert time.monotonic() < deadline, "the old secret still verifies"
        time.sleep(0.1)
    assert ccxt_factory(new).fetch_balance()["USDT"]["total"] == 10000


def test_python_okx_with_the_rotated_secret(live_server, okx_sdk):
    old = live_server.new_key(perm="read_only")
    new = _rotate(live_server, old, "--grace", "1h")
    config = okx_sdk(Account.AccountAPI, new).get_account_config()
    assert config["code"] == "0" and config["data"][0]["label"]
    assert okx_sdk(Account.AccountAPI, old).get_account_config()["code"] == "0"
