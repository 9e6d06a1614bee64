"""Crossing: a walk of every route in ``all_routes()`` with the other party's ids.

Account A's key (every permission, sub-account access, bound to the test client's address)
calls each route with account B's order ids, client order ids, sub-account names, API keys
and transfer ends, in every parameter the route reads; then the same walk from A's demo key
against A's live ids, and from A's live key against its demo ids. Nothing of the other party
may be read (no answer carries a value of theirs that the request did not itself send) or
changed (their balances, orders, sub-accounts and keys, as their own key reads them, are the
same after the walk). A route missing from the walk fails the test, so a new route joins it.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from argon2 import PasswordHasher

from keyseal.clock import ManualClock
from keyseal.crypto import passwords
from keyseal.domain.commands import CreateKey, CreateSubAccount, Credit
from keyseal.domain.keys import Environment
from keyseal.http.app import create_app
from keyseal.http.okx import all_routes
from keyseal.http.okx.subaccount import created_key_fields
from keyseal.services import accounts as account_service
from keyseal.services import keys as key_service
from keyseal.services import ledger
from keyseal.services.runtime import Runtime
from tests.api.conftest import CLIENT_IP, Api
from tests.conftest import PASSPHRASE, envelope, make_account

ALL = "read_only,trade,withdraw"


@pytest.fixture(autouse=True)
def cheap_argon2(monkeypatch: pytest.MonkeyPatch) -> None:
    """Real argon2id, at its lowest cost: the walk makes and uses many keys."""
    monkeypatch.setattr(passwords, "_hasher", PasswordHasher(time_cost=1, memory_cost=64,
                                                             parallelism=1))


@pytest.fixture
async def api(sqlite_rt: Runtime, clock: ManualClock) -> AsyncIterator[Api]:
    app = create_app(sqlite_rt)
    app.state.limiter.enabled = False  # the walk is about crossing, not about rate limits
    transport = httpx.ASGITransport(app=app, client=(CLIENT_IP, 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://keyseal.test") as client:
        yield Api(app, client, sqlite_rt, clock)


@dataclass
class Party:
    """One side of the walk: a key, its sub-account, a live order, a sub-account key, and
    marker values (odd balances, labels) that appear nowhere else."""

    key: dict[str, str]
    demo: bool
    sub: str
    sub_key: dict[str, str]
    ord_id: str
    cl_ord_id: str
    markers: set[str]

    async def call(self, api: Api, method: str, path: str, params: dict[str, Any]
                   ) -> httpx.Response:
        api.clock.advance(0.001)  # each request its own timestamp: no replay refusals
        if method == "GET":
            target = path + ("?" + "&".join(f"{k}={v}" for k, v in params.items())
                             if params else "")
            return await api.get(self.key, target, demo=self.demo)
        return await api.post(self.key, path, json.dumps(params), demo=self.demo)


async def make_party(api: Api, tag: str, *, email: str | None = None, demo: bool = False
                     ) -> Party:
    environment = Environment.DEMO if demo else Environment.LIVE
    cash = f"{31337 + len(tag)}.{4242 + len(tag)}"  # a balance no one else has
    if email is None:
        email = make_account(api.rt)
        account_service.create_sub_account(api.rt, CreateSubAccount(email, f"{tag}sub01"))
    [sub_account] = account_service.sub_accounts(api.rt, account_service.account_by_email(
        api.rt, email))
    sub = sub_account.sub_name
    ledger.credit(api.rt, Credit(email, "USDT", cash, environment=environment))
    ledger.credit(api.rt, Credit(email, "BTC", "1", environment=environment))
    sub_cash = "777.1717" if not demo else "888.1818"
    ledger.credit(api.rt, Credit(email, "USDT", sub_cash, sub=sub, environment=environment))
    key = created_key_fields(key_service.create_key(api.rt, CreateKey(
        email, label=f"{tag}master", passphrase=PASSPHRASE, perm=ALL, ip=CLIENT_IP,
        sub_account_access=True, demo=demo)))
    sub_key = created_key_fields(key_service.create_key(api.rt, CreateKey(
        email, label=f"{tag}subkeylabel", passphrase=PASSPHRASE, perm="read_only", sub=sub,
        demo=demo)))
    cl_ord_id = f"{tag}clord{'d' if demo else 'l'}"
    placed = envelope(await api.post(key, "/api/v5/trade/order", json.dumps({
        "instId": "BTC-USDT", "tdMode": "cash", "side": "buy", "ordType": "limit",
        "px": "1234.5", "sz": "0.001", "clOrdId": cl_ord_id}), demo=demo))
    assert placed["code"] == "0", placed
    ord_id = placed["data"][0]["ordId"]
    markers = {cash, key["apiKey"], sub_key["apiKey"], ord_id, cl_ord_id, f"{tag}subkeylabel",
               "1234.5"}
    # a sub-account is the account's in both environments: its name is shared, not theirs
    markers |= {sub_cash, sub}
    return Party(key, demo, sub, sub_key, ord_id, cl_ord_id, markers)


def requests_with(victim: Party, mine: Party) -> dict[tuple[str, str], list[dict[str, Any]]]:
    """For every route, the parameter sets that name the victim's things."""
    order = {"instId": "BTC-USDT", "tdMode": "cash", "side": "buy", "ordType": "limit",
             "px": "1", "sz": "0.001"}
    theirs = victim.sub
    return {
        ("GET", "/api/v5/public/time"): [{}],
        ("GET", "/api/v5/public/instruments"): [{"instType": "SPOT"}],
        ("GET", "/api/v5/account/balance"): [{}, {"ccy": "USDT,BTC"}],
        ("GET", "/api/v5/account/config"): [{}],
        ("GET", "/api/v5/asset/currencies"): [{}],
        ("GET", "/api/v5/asset/balances"): [{}, {"ccy": "USDT"}],
        ("POST", "/api/v5/asset/withdrawal"): [
            {"ccy": "USDT", "amt": "1", "dest": "3", "toAddr": victim.key["apiKey"]},
            {"ccy": "USDT", "amt": "1", "dest": "4", "toAddr": theirs}],
        ("POST", "/api/v5/trade/order"): [{**order, "clOrdId": victim.cl_ord_id}],
        ("POST", "/api/v5/trade/batch-orders"): [
            [{**order, "clOrdId": victim.cl_ord_id}, {**order, "clOrdId": "x" + mine.cl_ord_id}]],
        ("POST", "/api/v5/trade/cancel-order"): [
            {"instId": "BTC-USDT", "ordId": victim.ord_id},
            {"instId": "BTC-USDT", "clOrdId": victim.cl_ord_id}],
        ("GET", "/api/v5/trade/orders-pending"): [{}, {"instId": "BTC-USDT"}],
        ("GET", "/api/v5/trade/order"): [
            {"instId": "BTC-USDT", "ordId": victim.ord_id},
            {"instId": "BTC-USDT", "clOrdId": victim.cl_ord_id}],
        ("GET", "/api/v5/users/subaccount/list"): [{}, {"subAcct": theirs}],
        ("GET", "/api/v5/account/subaccount/balances"): [{"subAcct": theirs}],
        ("POST", "/api/v5/asset/subaccount/transfer"): [
            {"ccy": "USDT", "amt": "1", "from": "6", "to": "6", "fromSubAccount": theirs,
             "toSubAccount": mine.sub},
            {"ccy": "USDT", "amt": "1", "from": "6", "to": "6", "fromSubAccount": mine.sub,
             "toSubAccount": theirs},
            {"ccy": "USDT", "amt": "1", "from": "6", "to": "6", "fromSubAccount": theirs,
             "toSubAccount": theirs}],
        ("POST", "/api/v5/users/subaccount/apikey"): [
            {"subAcct": theirs, "label": "walker1", "passphrase": "Walk-Pass1", "perm": "trade"}],
        ("GET", "/api/v5/users/subaccount/apikey"): [
            {"subAcct": theirs}, {"subAcct": theirs, "apiKey": victim.sub_key["apiKey"]},
            {"subAcct": mine.sub, "apiKey": victim.sub_key["apiKey"]},
            {"subAcct": mine.sub, "apiKey": victim.key["apiKey"]}],
        ("POST", "/api/v5/users/subaccount/modify-apikey"): [
            {"subAcct": theirs, "apiKey": victim.sub_key["apiKey"], "label": "walked",
             "perm": "trade", "ip": "10.0.0.1"},
            {"subAcct": mine.sub, "apiKey": victim.sub_key["apiKey"], "label": "walked"},
            {"subAcct": mine.sub, "apiKey": victim.key["apiKey"], "label": "walked"}],
        ("POST", "/api/v5/users/subaccount/delete-apikey"): [
            {"subAcct": theirs, "apiKey": victim.sub_key["apiKey"]},
            {"subAcct": mine.sub, "apiKey": victim.sub_key["apiKey"]},
            {"subAcct": mine.sub, "apiKey": victim.key["apiKey"]}],
    }


async def seen_by_owner(api: Api, party: Party) -> list[Any]:
    """Everything the party's own key can read of its own things."""
    seen = []
    for path, params in [("/api/v5/account/balance", {}), ("/api/v5/asset/balances", {}),
                         ("/api/v5/trade/orders-pending", {}),
                         ("/api/v5/trade/order", {"instId": "BTC-USDT", "ordId": party.ord_id}),
                         ("/api/v5/users/subaccount/list", {}),
                         ("/api/v5/account/subaccount/balances", {"subAcct": party.sub}),
                         ("/api/v5/users/subaccount/apikey", {"subAcct": party.sub})]:
        body = envelope(await party.call(api, "GET", path, params))
        for row in body["data"]:  # times of the reading itself are not state
            if isinstance(row, dict):
                row.pop("uTime", None)
                row.pop("ts", None)
        seen.append((path, body["code"], body["data"]))
    api.clock.advance(-0.001 * len(seen))
    return seen


async def walk(api: Api, attacker: Party, victim: Party) -> int:
    table = requests_with(victim, attacker)
    routes = {(r.method, r.path) for r in all_routes()}
    assert routes == set(table), f"routes not walked: {routes - set(table)}"
    before = await seen_by_owner(api, victim)
    cases, codes = 0, dict[str, int]()
    for (method, path), param_sets in table.items():
        for params in param_sets:
            response = await attacker.call(api, method, path, params)
            body = envelope(response)
            assert response.status_code < 500, (path, params, body)
            sent = json.dumps(params)
            leaked = {m for m in victim.markers - attacker.markers
                      if m in response.text and m not in sent}
            assert not leaked, f"{method} {path} {params} shows {leaked}: {body}"
            codes[body["code"]] = codes.get(body["code"], 0) + 1
            cases += 1
    assert await seen_by_owner(api, victim) == before
    # the walk reached the handlers: the gate let the attacker in (their own reads pass)
    assert codes.get("0", 0) >= 10 and not {"50111", "50113", "50105", "50120", "50035",
                                            "70017"} & set(codes), codes
    print(sorted(codes.items()))
    return cases


async def test_account_a_cannot_read_or_change_anything_of_account_b(api: Api) -> None:
    a, b = await make_party(api, "alice"), await make_party(api, "bob")
    cases = await walk(api, a, b) + await walk(api, b, a)
    print(f"route walk across accounts: {cases} requests over {len(all_routes())} routes")


async def test_one_environment_cannot_read_or_change_the_other(api: Api) -> None:
    live = await make_party(api, "carol")
    owner = account_service.account_by_id(
        api.rt, key_service.get_key(api.rt, live.key["apiKey"]).account_id)
    assert owner.email is not None
    demo = await make_party(api, "dave", email=owner.email, demo=True)
    cases = await walk(api, demo, live) + await walk(api, live, demo)
    print(f"route walk across environments: {cases} requests")
