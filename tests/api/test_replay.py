"""Replay refusal: inside OKX's ±30 s window an exact repeat of a signed state-changing
request (same key, timestamp and signature) is refused with 70017 and changes nothing; reads
may repeat unless ``KEYSEAL_REFUSE_REPEATED_READS`` says otherwise."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from keyseal.clock import ManualClock
from keyseal.domain.commands import Owner
from keyseal.domain.keys import Environment
from keyseal.gate.replay import ReplayGuard
from keyseal.http.app import create_app
from keyseal.services import ledger
from keyseal.services.accounts import account_by_email
from keyseal.services.runtime import open_runtime
from keyseal.settings import Settings
from tests.api.conftest import CLIENT_IP, Api
from tests.conftest import envelope, make_account, make_key

ORDER = "/api/v5/trade/order"
BALANCE = "/api/v5/account/balance"
BUY = json.dumps({"instId": "BTC-USDT", "tdMode": "cash", "side": "buy", "ordType": "limit",
                  "sz": "0.01", "px": "50000"})


def frozen_usdt(api: Api, email: str) -> object:
    owner = Owner(account_by_email(api.rt, email).id, Environment.LIVE)
    return ledger.balances(api.rt, owner)["USDT"].frozen


async def test_a_captured_order_sent_again_is_refused_and_places_nothing(api: Api) -> None:
    email = make_account(api.rt, credit={"USDT": "10000"})
    key = make_key(api.rt, email, perm="trade")
    headers = api.headers(key, "POST", ORDER, BUY)
    first = await api.client.post(ORDER, content=BUY.encode(), headers=headers)
    assert envelope(first)["code"] == "0"
    assert frozen_usdt(api, email) == 500
    api.clock.advance(20)  # still inside the ±30 s window: the signature would verify
    again = await api.client.post(ORDER, content=BUY.encode(), headers=headers)
    reply = envelope(again)
    assert (again.status_code, reply["code"]) == (401, "70017"), reply
    assert "sign each request anew" in reply["msg"]
    assert frozen_usdt(api, email) == 500  # one order, not two
    # the same order signed anew is a new request
    assert envelope(await api.post(key, ORDER, BUY))["code"] == "0"
    assert frozen_usdt(api, email) == 1000


async def test_a_refused_forgery_does_not_use_up_the_real_request(api: Api) -> None:
    """Only a request the gate lets through is remembered: an attacker who guesses at the
    headers (a wrong passphrase here) cannot block the client's own request."""
    email = make_account(api.rt, credit={"USDT": "10000"})
    key = make_key(api.rt, email, perm="trade")
    headers = api.headers(key, "POST", ORDER, BUY)
    wrong = {**headers, "OK-ACCESS-PASSPHRASE": key["passphrase"] + "x"}
    assert envelope(await api.client.post(ORDER, content=BUY.encode(), headers=wrong))[
        "code"] == "50105"
    real = await api.client.post(ORDER, content=BUY.encode(), headers=headers)
    assert envelope(real)["code"] == "0"


async def test_repeated_reads_are_allowed_by_default(api: Api) -> None:
    key = api.key()
    headers = api.headers(key, "GET", BALANCE)
    for _ in range(3):  # two identical polls in one millisecond are normal
        assert envelope(await api.client.get(BALANCE, headers=headers))["code"] == "0"


@pytest.fixture
async def strict_api(tmp_path: Path, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
                     ) -> AsyncIterator[Api]:
    monkeypatch.setenv("KEYSEAL_REFUSE_REPEATED_READS", "1")
    rt = open_runtime(Settings(home=tmp_path / "home"), clock=clock)
    transport = httpx.ASGITransport(app=(app := create_app(rt)), client=(CLIENT_IP, 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://keyseal.test") as client:
        yield Api(app, client, rt, clock)
    rt.close()


async def test_the_setting_refuses_repeated_reads_too(strict_api: Api) -> None:
    api = strict_api
    key = api.key()
    headers = api.headers(key, "GET", BALANCE)
    assert envelope(await api.client.get(BALANCE, headers=headers))["code"] == "0"
    assert envelope(await api.client.get(BALANCE, headers=headers))["code"] == "70017"


def test_a_signature_is_remembered_only_while_its_timestamp_could_verify() -> None:
    guard = ReplayGuard(30.0)
    assert guard.first_use("k", "t", "s", sent_at=1000.0, now=1000.0)
    assert not guard.first_use("k", "t", "s", sent_at=1000.0, now=1029.0)
    # past the window the request is refused as expired (50102) anyway: forgotten here
    assert guard.first_use("k", "t2", "s2", sent_at=1100.0, now=1100.0)
    assert len(guard) == 1
    # another key's identical signature text is another request
    assert guard.first_use("other", "t2", "s2", sent_at=1100.0, now=1100.0)
    assert guard.applies_to("POST") and not guard.applies_to("GET")
    assert ReplayGuard(30.0, refuse_repeated_reads=True).applies_to("GET")
