"""OKX's sub-account and key-management endpoints (okx-v5-spec.md §6, codes §3.4), seen the
way a client sees them: signed requests to the in-process app, and what the answers say.

Setup goes through the services (accounts, keys, ledger); every assertion is on an HTTP
response, except where the operator's view is the point: the audit trail, and what the
sweeper (``keyseal key sweep``) deletes.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from argon2 import PasswordHasher

from keyseal import errors
from keyseal.crypto import passwords
from keyseal.domain.accounts import Account
from keyseal.domain.actors import Actor
from keyseal.domain.commands import (
    CreateKey,
    CreateSubAccount,
    CreateSubKey,
    Credit,
    EditSubKey,
    SetExpiryPolicy,
    SetKycLevel,
    SetRestricted,
    SweepIdleKeys,
)
from keyseal.domain.expiry import DAY_MS, ExpiryPolicy
from keyseal.domain.keys import Environment
from keyseal.http.background import ChangeFollower, flush_usage
from keyseal.http.okx.subaccount import created_key_fields
from keyseal.services import accounts as account_service
from keyseal.services import audit as audit_service
from keyseal.services import keys as key_service
from keyseal.services import ledger
from keyseal.services.runtime import open_runtime
from keyseal.settings import Settings
from tests.api.conftest import CLIENT_IP, Api
from tests.conftest import PASSPHRASE, envelope, make_account

SUB_APIKEY = "/api/v5/users/subaccount/apikey"
MODIFY = "/api/v5/users/subaccount/modify-apikey"
DELETE = "/api/v5/users/subaccount/delete-apikey"
SUB_LIST = "/api/v5/users/subaccount/list"
SUB_BALANCES = "/api/v5/account/subaccount/balances"
TRANSFER = "/api/v5/asset/subaccount/transfer"
BALANCE = "/api/v5/account/balance"
CONFIG = "/api/v5/account/config"

SUB_PASS = "Sub-Pass1!"
CREATE_FIELDS = {"subAcct", "label", "apiKey", "secretKey", "passphrase", "perm", "ip", "ts"}
QUERY_FIELDS = {"label", "apiKey", "perm", "ip", "ts"}
MODIFY_FIELDS = {"subAcct", "label", "apiKey", "perm", "ip", "ts"}


# -- helpers -------------------------------------------------------------------------------
@pytest.fixture(autouse=True)
def cheap_argon2(monkeypatch: pytest.MonkeyPatch) -> None:
    """Real argon2id hashing and checking of every password and passphrase, at the lowest
    cost: these tests make and use hundreds of keys, and the cost is not their subject."""
    monkeypatch.setattr(passwords, "_hasher", PasswordHasher(time_cost=1, memory_cost=64,
                                                             parallelism=1))


@dataclass
class Family:
    """A master account with sub-accounts ``alpha01`` and ``bravo02`` and an admin key:
    a master key with sub-account access, bound to the test client's IP."""

    api: Api
    email: str
    master: Account
    admin: dict[str, str]
    subs: dict[str, Account]

    async def get(self, target: str, key: dict[str, str] | None = None, *,
                  wait: bool = True) -> httpx.Response:
        if wait:  # stay clear of every endpoint's rate limit (1 per second at most)
            self.api.clock.advance(1.1)
        return await self.api.get(key or self.admin, target)

    async def post(self, target: str, body: dict[str, Any] | str,
                   key: dict[str, str] | None = None, *, wait: bool = True) -> httpx.Response:
        if wait:
            self.api.clock.advance(1.1)
        text = body if isinstance(body, str) else json.dumps(body)
        return await self.api.post(key or self.admin, target, text)

    async def create(self, sub: str = "alpha01", **fields: Any) -> dict[str, str]:
        """Create a sub-account key through the endpoint; returns the created object."""
        body = {"subAcct": sub, "label": f"k{uuid.uuid4().hex[:8]}", "passphrase": SUB_PASS,
                "perm": "trade", **fields}
        return ok(await self.post(SUB_APIKEY, body))[0]

    async def keys_of(self, sub: str = "alpha01") -> list[dict[str, str]]:
        return ok(await self.get(f"{SUB_APIKEY}?subAcct={sub}"))

    def credit(self, sub: str, ccy: str, amount: str) -> None:
        ledger.credit(self.api.rt, Credit(self.email, ccy, amount, sub=sub))

    def master_key(self, *, ip: str | None = CLIENT_IP, access: bool = True,
                   perm: str = "read_only,trade") -> dict[str, str]:
        return created_key_fields(key_service.create_key(
            self.api.rt, CreateKey(self.email, label=f"m{uuid.uuid4().hex[:8]}", passphrase=PASSPHRASE,
            perm=perm, ip=ip, sub_account_access=access)))

    def sub_key(self, sub: str = "alpha01", *, perm: str = "read_only,trade",
                ip: str | None = None) -> dict[str, str]:
        return created_key_fields(key_service.create_key(
            self.api.rt, CreateKey(self.email, label=f"s{uuid.uuid4().hex[:8]}", passphrase=PASSPHRASE,
            perm=perm, ip=ip, sub=sub)))


def family(api: Api, subs: tuple[str, ...] = ("alpha01", "bravo02"), *,
           credit: dict[str, str] | None = None, kyc_level: int = 2) -> Family:
    email = make_account(api.rt, kyc_level=kyc_level,
                         credit={"USDT": "10000"} if credit is None else credit)
    created = {name: account_service.create_sub_account(api.rt, CreateSubAccount(email, name)) for name in subs}
    admin = created_key_fields(key_service.create_key(
        api.rt, CreateKey(email, label="admin", passphrase=PASSPHRASE, perm="read_only,trade",
        ip=CLIENT_IP, sub_account_access=True)))
    master = account_service.account_by_email(api.rt, email)
    return Family(api, email, master, admin, created)


def ok(response: httpx.Response) -> list[Any]:
    body = envelope(response)
    assert (response.status_code, body["code"]) == (200, "0"), body
    return list(body["data"])


def refused(response: httpx.Response, code: str, http_status: int = 200) -> dict[str, Any]:
    body = envelope(response)
    assert (response.status_code, body["code"]) == (http_status, code), body
    assert body["data"] == []
    return body


def holdings(response: httpx.Response) -> dict[str, str]:
    """``account/balance`` (or ``subaccount/balances``) → {ccy: cashBal}."""
    [balance] = ok(response)
    return {row["ccy"]: row["cashBal"] for row in balance["details"]}


def new_uuid() -> str:
    return str(uuid.uuid4())


# -- create ------------------------------------------------------------------------------
async def test_create_answers_okx_fields_and_the_new_key_sees_only_its_sub_account(api: Api
                                                                                     ) -> None:
    fam = family(api, credit={"USDT": "10000"})
    fam.credit("alpha01", "BTC", "0.25")
    fam.credit("bravo02", "ETH", "3")
    response = await fam.post(SUB_APIKEY, {"subAcct": "alpha01", "label": "bot1",
                                           "passphrase": SUB_PASS, "perm": "trade",
                                           "ip": CLIENT_IP})
    [created] = ok(response)
    assert set(created) == CREATE_FIELDS
    assert created["subAcct"] == "alpha01" and created["label"] == "bot1"
    assert created["perm"] == "read_only,trade"  # read is always implied
    assert created["ip"] == CLIENT_IP and created["passphrase"] == SUB_PASS
    assert created["ts"] == str(int(api.clock() * 1000))
    uuid.UUID(created["apiKey"])
    assert created["secretKey"]

    # the new key signs like any OKX key, and sees the sub-account's money only
    assert holdings(await api.get(created, BALANCE)) == {"BTC": "0.25"}
    [config] = ok(await api.get(created, CONFIG))
    [master_config] = ok(await api.get(fam.admin, CONFIG))
    assert config["type"] == "1" and config["uid"] == fam.subs["alpha01"].uid
    assert config["mainUid"] == master_config["uid"] == fam.master.uid != config["uid"]
    assert config["label"] == "bot1" and config["perm"] == "read_only,trade"
    # and the master's own key still sees the master's money, not the sub's
    assert holdings(await api.get(fam.admin, BALANCE)) == {"USDT": "10000"}


async def test_perm_defaults_to_read_only_and_read_only_is_always_implied(api: Api) -> None:
    fam = family(api)
    no_perm = ok(await fam.post(SUB_APIKEY, {"subAcct": "alpha01", "label": "noperm",
                                             "passphrase": SUB_PASS}))[0]
    assert no_perm["perm"] == "read_only" and no_perm["ip"] == ""
    both = await fam.create(perm="read_only,trade")
    assert both["perm"] == "read_only,trade"
    read = await fam.create(perm="read_only")
    assert read["perm"] == "read_only"
    assert [k["perm"] for k in await fam.keys_of()] == ["read_only", "read_only,trade",
                                                         "read_only"]


async def test_query_lists_keys_without_secret_or_passphrase(api: Api) -> None:
    fam = family(api)
    first = await fam.create(label="bot1", ip="10.0.0.1 10.0.0.2")
    second = await fam.create(label="bot2", perm="read_only")
    other = await fam.create(sub="bravo02", label="bot1")  # labels are unique per account

    response = await fam.get(f"{SUB_APIKEY}?subAcct=alpha01")
    listed = ok(response)
    assert [set(k) for k in listed] == [QUERY_FIELDS, QUERY_FIELDS]
    assert [(k["apiKey"], k["label"], k["perm"], k["ip"], k["ts"]) for k in listed] == [
        (first["apiKey"], "bot1", "read_only,trade", "10.0.0.1,10.0.0.2", first["ts"]),
        (second["apiKey"], "bot2", "read_only", "", second["ts"])]
    for created in (first, second, other):
        assert created["secretKey"] not in response.text
    assert SUB_PASS not in response.text and "secretKey" not in response.text
    assert other["apiKey"] not in response.text  # the other sub's key is not listed

    one = await fam.get(f"{SUB_APIKEY}?subAcct=alpha01&apiKey={second['apiKey']}")
    assert [k["apiKey"] for k in ok(one)] == [second["apiKey"]]
    assert second["secretKey"] not in one.text and SUB_PASS not in one.text
    assert ok(await fam.get(f"{SUB_APIKEY}?subAcct=bravo02"))[0]["apiKey"] == other["apiKey"]


async def test_the_secret_appears_in_the_create_response_only(api: Api) -> None:
    fam = family(api)
    created = await fam.create(label="bot1", ip=CLIENT_IP)
    secret = created["secretKey"]
    ident = {"subAcct": "alpha01", "apiKey": created["apiKey"]}
    answers = [
        await fam.get(f"{SUB_APIKEY}?subAcct=alpha01"),
        await fam.get(f"{SUB_APIKEY}?subAcct=alpha01&apiKey={created['apiKey']}"),
        await fam.post(MODIFY, {**ident, "label": "bot2"}),
        await fam.get(CONFIG, created),
        await fam.post(DELETE, ident),
    ]
    for response in answers:
        assert envelope(response)["code"] == "0", response.text
        assert secret not in response.text and SUB_PASS not in response.text


async def test_create_for_a_demo_master_key_makes_a_demo_key(api: Api) -> None:
    fam = family(api)
    demo_admin = created_key_fields(key_service.create_key(
        api.rt, CreateKey(fam.email, label="demoadmin", passphrase=PASSPHRASE, perm="read_only,trade",
        ip=CLIENT_IP, demo=True, sub_account_access=True)))
    api.clock.advance(1.1)
    response = await api.post(demo_admin, SUB_APIKEY, json.dumps(
        {"subAcct": "alpha01", "label": "demo1", "passphrase": SUB_PASS, "perm": "trade"}),
        demo=True)
    [created] = ok(response)
    assert envelope(await api.get(created, BALANCE, demo=True))["code"] == "0"
    refused(await api.get(created, BALANCE), "50101", 401)


@pytest.mark.parametrize("caller_demo", [True, False], ids=["demo-master", "live-master"])
async def test_a_master_key_cannot_touch_the_other_environments_sub_keys(
        api: Api, caller_demo: bool) -> None:
    """A demo master key must not list, re-bind or delete a live sub-account key (today it
    could re-bind a live key to its own IPs), nor a live master key a demo one: 59506."""
    fam = family(api)
    caller = created_key_fields(key_service.create_key(api.rt, CreateKey(
        fam.email, label="caller", passphrase=PASSPHRASE, perm="read_only,trade", ip=CLIENT_IP,
        demo=caller_demo, sub_account_access=True)))
    target = created_key_fields(key_service.create_key(api.rt, CreateKey(
        fam.email, label="target", passphrase=PASSPHRASE, perm="read_only,trade",
        ip="203.0.113.7", demo=not caller_demo, sub="alpha01")))
    ident = {"subAcct": "alpha01", "apiKey": target["apiKey"]}

    async def call(method: str, target_path: str, body: dict[str, Any] | None = None
                   ) -> httpx.Response:
        api.clock.advance(1.1)
        if method == "GET":
            return await api.get(caller, target_path, demo=caller_demo)
        return await api.post(caller, target_path, json.dumps(body), demo=caller_demo)

    assert ok(await call("GET", f"{SUB_APIKEY}?subAcct=alpha01")) == []
    refused(await call("GET", f"{SUB_APIKEY}?subAcct=alpha01&apiKey={target['apiKey']}"), "59506")
    refused(await call("POST", MODIFY, {**ident, "ip": "198.51.100.0/24"}), "59506")
    refused(await call("POST", MODIFY, {**ident, "label": "stolen"}), "59506")
    refused(await call("POST", DELETE, ident), "59506")
    untouched = key_service.get_key(api.rt, target["apiKey"])
    assert (untouched.label, untouched.allowlist.wire()) == ("target", "203.0.113.7")
    assert [e.event for e in audit_service.events(api.rt, api_key=target["apiKey"])] == [
        "key_created"]


# -- who may call ------------------------------------------------------------------------
def _calls(fam: Family, sub_key: str = "") -> list[tuple[str, str, dict[str, Any] | None]]:
    key = sub_key or new_uuid()
    return [
        ("GET", SUB_LIST, None),
        ("GET", f"{SUB_BALANCES}?subAcct=alpha01", None),
        ("GET", f"{SUB_APIKEY}?subAcct=alpha01", None),
        ("POST", TRANSFER, {"ccy": "BTC", "amt": "0.01", "from": "18", "to": "18",
                            "fromSubAccount": "alpha01", "toSubAccount": "bravo02"}),
        ("POST", SUB_APIKEY, {"subAcct": "bravo02", "label": "x1", "passphrase": SUB_PASS,
                              "perm": "trade"}),
        ("POST", MODIFY, {"subAcct": "alpha01", "apiKey": key, "label": "renamed"}),
        ("POST", DELETE, {"subAcct": "alpha01", "apiKey": key}),
    ]


ENDPOINTS = ["list", "balances", "query", "transfer", "create", "modify", "delete"]


async def _send(fam: Family, method: str, target: str, body: dict[str, Any] | None,
                key: dict[str, str]) -> httpx.Response:
    if method == "GET":
        return await fam.get(target, key)
    assert body is not None
    return await fam.post(target, body, key)


@pytest.mark.parametrize("which", range(len(ENDPOINTS)), ids=ENDPOINTS)
async def test_a_sub_account_key_is_refused_59500(api: Api, which: int) -> None:
    fam = family(api)
    fam.credit("alpha01", "BTC", "1")
    sub_key = fam.sub_key("alpha01", perm="read_only,trade", ip=CLIENT_IP)
    method, target, body = _calls(fam, sub_key["apiKey"])[which]
    refused(await _send(fam, method, target, body, sub_key), "59500")
    # nothing happened: the sub's own key and money are as they were
    assert holdings(await fam.get(BALANCE, sub_key)) == {"BTC": "1"}
    assert [k["apiKey"] for k in await fam.keys_of()] == [sub_key["apiKey"]]
    assert await fam.keys_of("bravo02") == []


@pytest.mark.parametrize("which", range(len(ENDPOINTS)), ids=ENDPOINTS)
async def test_a_master_key_without_sub_account_access_is_refused_70010(api: Api, which: int
                                                                       ) -> None:
    fam = family(api)
    fam.credit("alpha01", "BTC", "1")
    plain = fam.master_key(ip=CLIENT_IP, access=False)
    method, target, body = _calls(fam)[which]
    body_text = refused(await _send(fam, method, target, body, plain), "70010")
    assert "sub-account access" in body_text["msg"]
    assert holdings(await fam.get(f"{SUB_BALANCES}?subAcct=alpha01")) == {"BTC": "1"}
    assert await fam.keys_of("bravo02") == []


@pytest.mark.parametrize("target", [SUB_APIKEY, MODIFY, DELETE], ids=["create", "modify", "delete"])
async def test_key_changes_need_an_ip_bound_master_key_50035(api: Api, target: str) -> None:
    fam = family(api)
    existing = await fam.create(label="keep1", ip=CLIENT_IP)
    unbound = fam.master_key(ip=None)
    body = {"subAcct": "alpha01", "apiKey": existing["apiKey"], "label": "bot9",
            "passphrase": SUB_PASS, "perm": "trade", "ip": ""}
    refused(await fam.post(target, body, unbound), "50035", 403)
    # refused before the rate limit (okx-v5-spec.md §1.9): a retry in the same second is
    # still told what to fix, not 50011
    refused(await fam.post(target, body, unbound), "50035", 403)
    assert [(k["apiKey"], k["label"], k["ip"]) for k in await fam.keys_of()] == [
        (existing["apiKey"], "keep1", CLIENT_IP)]


async def test_reading_endpoints_do_not_need_an_ip_bound_key(api: Api) -> None:
    fam = family(api)
    fam.credit("alpha01", "BTC", "1")
    unbound = fam.master_key(ip=None)
    assert len(ok(await fam.get(SUB_LIST, unbound))) == 2
    assert ok(await fam.get(f"{SUB_APIKEY}?subAcct=alpha01", unbound)) == []
    assert holdings(await fam.get(f"{SUB_BALANCES}?subAcct=alpha01", unbound)) == {"BTC": "1"}


# -- unknown sub-accounts and keys ---------------------------------------------------------
@pytest.mark.parametrize("which", range(1, len(ENDPOINTS)), ids=ENDPOINTS[1:])
async def test_an_unknown_sub_account_is_59510(api: Api, which: int) -> None:
    fam = family(api)
    fam.credit("alpha01", "BTC", "1")
    stranger = family(api, subs=("zulu0001",))  # a sub-account, but of another master
    for name in ("nosuch01", "zulu0001"):
        method, target, body = _calls(fam)[which]
        target = target.replace("alpha01", name)
        if body is not None:
            body = {k: (name if k in ("subAcct", "toSubAccount") else v) for k, v in body.items()}
        refused(await _send(fam, method, target, body, fam.admin), "59510")
    assert ok(await fam.get(f"{SUB_APIKEY}?subAcct=zulu0001", stranger.admin)) == []
    assert holdings(await fam.get(f"{SUB_BALANCES}?subAcct=alpha01")) == {"BTC": "1"}


async def test_an_unknown_key_or_another_sub_accounts_key_is_59506(api: Api) -> None:
    fam = family(api)
    mine = await fam.create(label="mine1", ip=CLIENT_IP)
    sibling = await fam.create(sub="bravo02", label="sib1", ip=CLIENT_IP)
    for api_key in (new_uuid(), sibling["apiKey"], "not-a-key"):
        refused(await fam.get(f"{SUB_APIKEY}?subAcct=alpha01&apiKey={api_key}"), "59506")
        ident = {"subAcct": "alpha01", "apiKey": api_key}
        refused(await fam.post(MODIFY, {**ident, "label": "stolen"}), "59506")
        refused(await fam.post(DELETE, ident), "59506")
    # the sibling's key was neither renamed nor deleted, and still works
    assert [(k["apiKey"], k["label"]) for k in await fam.keys_of("bravo02")] == [
        (sibling["apiKey"], "sib1")]
    assert envelope(await fam.get(BALANCE, sibling))["code"] == "0"
    assert [k["apiKey"] for k in await fam.keys_of()] == [mine["apiKey"]]


# -- create refusals -----------------------------------------------------------------------
@pytest.mark.parametrize(("fields", "code"), [
    ({"perm": "withdraw"}, "59504"),
    ({"perm": "read_only,trade,withdraw"}, "59504"),
    ({"passphrase": "Sh0rt!a"}, "59505"),  # 7 characters
    ({"passphrase": "A1!" + "a" * 30}, "59505"),  # 33 characters
    ({"passphrase": "NoSpecial12"}, "59505"),
    ({"passphrase": "no-upper-12"}, "59505"),
    ({"passphrase": "NO-LOWER-12"}, "59505"),
    ({"passphrase": "No-Digits-x"}, "59505"),
    ({"label": "taken1"}, "59502"),  # already used in this sub-account
    ({"label": "bad-label"}, "70012"),  # format errors have codes of their own
    ({"label": "bad label"}, "70012"),
    ({"label": "a" * 51}, "70012"),
    # hostile labels: SQL-looking, look-alike letters and digits, a newline, a NUL
    ({"label": "x'; DROP TABLE api_keys;--"}, "70012"),
    ({"label": "bot1' OR '1'='1"}, "70012"),
    ({"label": "\uff42\uff4f\uff54\uff11"}, "70012"),  # fullwidth "bot1"
    ({"label": "bot\u0661\u0662"}, "70012"),  # Arabic-Indic digits
    ({"label": "bot1\n"}, "70012"),
    ({"label": "bot1\x00"}, "70012"),
    ({"ip": ",".join(f"10.0.0.{i}" for i in range(1, 22))}, "59503"),  # 21 entries
    ({"ip": "10.0.0.1,1.2.3.999"}, "70013"),
    ({"ip": "10.0.0.1,example.com"}, "70013"),
    ({"ip": "10.0.0.1,10.0.0.0/8"}, "70014"),
], ids=lambda v: v if isinstance(v, str) else next(iter(v)) + ":" + str(next(iter(v.values())))[:20])
async def test_create_refusals_change_nothing(api: Api, fields: dict[str, str], code: str) -> None:
    fam = family(api)
    taken = await fam.create(label="taken1")
    body = {"subAcct": "alpha01", "label": "fresh1", "passphrase": SUB_PASS, "perm": "trade",
            **fields}
    refused(await fam.post(SUB_APIKEY, body), code)
    assert [k["apiKey"] for k in await fam.keys_of()] == [taken["apiKey"]]


@pytest.mark.parametrize("ip", [["127.0.0.1"], 5, {"ip": "127.0.0.1"}, True],
                         ids=["array", "number", "object", "bool"])
async def test_create_with_a_non_string_ip_is_refused_70013(api: Api, ip: object) -> None:
    fam = family(api)
    refused(await fam.post(SUB_APIKEY, {"subAcct": "alpha01", "label": "bot1",
                                        "passphrase": SUB_PASS, "ip": ip}), "70013")
    assert await fam.keys_of() == []


async def test_modify_with_a_non_string_label_is_refused_70012(api: Api) -> None:
    fam = family(api)
    created = await fam.create(label="bot1")
    refused(await fam.post(MODIFY, {"subAcct": "alpha01", "apiKey": created["apiKey"],
                                    "label": ["bot2"]}), "70012")
    assert [k["label"] for k in await fam.keys_of()] == ["bot1"]


async def test_create_accepts_ipv4_ipv6_cidr_comma_or_space_and_twenty_entries(api: Api) -> None:
    fam = family(api)
    mixed = await fam.create(label="mixed1", ip="10.0.0.1, 2001:db8::1 192.168.0.0/16")
    assert mixed["ip"] == "10.0.0.1,2001:db8::1,192.168.0.0/16"
    twenty = ",".join(f"10.0.1.{i}" for i in range(1, 21))
    assert (await fam.create(label="twenty1", ip=twenty))["ip"] == twenty
    assert (await fam.create(label="a" * 50))["label"] == "a" * 50
    assert (await fam.create(label="pass32", passphrase="A1!" + "b" * 29))["perm"]
    # a passphrase like the one python-okx's own test used (a "." as its special character)
    dotted = await fam.create(label="dotted", passphrase="114514A.bc")
    assert envelope(await fam.get(BALANCE, dotted))["code"] == "0"
    # the same label may be used in another sub-account
    assert (await fam.create(sub="bravo02", label="mixed1"))["label"] == "mixed1"


async def test_fifty_keys_per_account_then_59501(api: Api) -> None:
    fam = family(api)
    for _ in range(49):
        fam.sub_key("alpha01", perm="read_only")
    fiftieth = await fam.create(label="fiftieth")
    assert fiftieth["label"] == "fiftieth"
    refused(await fam.post(SUB_APIKEY, {"subAcct": "alpha01", "label": "fiftyfirst",
                                        "passphrase": SUB_PASS}), "59501")
    assert len(await fam.keys_of()) == 50
    assert (await fam.create(sub="bravo02", label="other1"))["label"] == "other1"


async def test_creating_a_key_needs_kyc_level_2_70001(api: Api) -> None:
    fam = family(api)
    account_service.set_kyc_level(api.rt, SetKycLevel(fam.email, 1))
    body = refused(await fam.post(SUB_APIKEY, {"subAcct": "alpha01", "label": "bot1",
                                               "passphrase": SUB_PASS}), "70001")
    assert "level 2" in body["msg"]
    assert await fam.keys_of() == []  # the master key still reads; nothing was created
    account_service.set_kyc_level(api.rt, SetKycLevel(fam.email, 2))
    assert (await fam.create(label="bot1"))["label"] == "bot1"


# -- modify --------------------------------------------------------------------------------
async def test_modify_with_python_okx_body_label_and_perm_empty_mean_not_set(api: Api) -> None:
    fam = family(api)
    created = await fam.create(label="bot1", perm="trade", ip="10.0.0.1")
    # python-okx's reset_subaccount_apikey(subAcct, apiKey, ip=...) sends label "" and perm ""
    response = await fam.post(MODIFY, {"subAcct": "alpha01", "apiKey": created["apiKey"],
                                       "label": "", "perm": "", "ip": "127.0.0.1,10.0.0.2"})
    [edited] = ok(response)
    assert set(edited) == MODIFY_FIELDS
    assert edited == {"subAcct": "alpha01", "label": "bot1", "apiKey": created["apiKey"],
                      "perm": "read_only,trade", "ip": "127.0.0.1,10.0.0.2",
                      "ts": created["ts"]}
    [listed] = await fam.keys_of()
    assert (listed["label"], listed["perm"], listed["ip"]) == (
        "bot1", "read_only,trade", "127.0.0.1,10.0.0.2")


async def test_modify_absent_ip_keeps_it_and_empty_ip_unbinds_every_ip(api: Api) -> None:
    fam = family(api)
    created = await fam.create(label="bot1", ip="10.9.9.9")
    ident = {"subAcct": "alpha01", "apiKey": created["apiKey"]}
    refused(await fam.get(BALANCE, created), "50110", 401)  # the test client is 127.0.0.1

    [renamed] = ok(await fam.post(MODIFY, {**ident, "label": "bot2"}))  # no "ip" at all
    assert (renamed["label"], renamed["ip"]) == ("bot2", "10.9.9.9")
    refused(await fam.get(BALANCE, created), "50110", 401)

    [unbound] = ok(await fam.post(MODIFY, {**ident, "ip": ""}))
    assert (unbound["label"], unbound["ip"]) == ("bot2", "")
    assert envelope(await fam.get(BALANCE, created))["code"] == "0"  # any IP now

    [rebound] = ok(await fam.post(MODIFY, {**ident, "ip": "10.9.9.9 10.9.9.8"}))
    assert rebound["ip"] == "10.9.9.9,10.9.9.8"
    refused(await fam.get(BALANCE, created), "50110", 401)
    assert [(k["label"], k["ip"]) for k in await fam.keys_of()] == [("bot2", "10.9.9.9,10.9.9.8")]


@pytest.mark.parametrize(("key_perm", "sent"), [
    ("trade", "read_only"), ("read_only", "trade"), ("read_only", "read_only,trade"),
    ("trade", "withdraw"), ("trade", "read_only,trade,withdraw"),
])
async def test_modify_with_a_different_perm_is_70005_and_changes_nothing(
        api: Api, key_perm: str, sent: str) -> None:
    fam = family(api)
    created = await fam.create(label="bot1", perm=key_perm, ip="10.0.0.1")
    before = await fam.keys_of()
    body = refused(await fam.post(MODIFY, {"subAcct": "alpha01", "apiKey": created["apiKey"],
                                           "label": "bot2", "perm": sent, "ip": ""}), "70005")
    assert "create a new key" in body["msg"]
    assert await fam.keys_of() == before  # neither the label nor the IP changed


@pytest.mark.parametrize("sent", ["trade", "read_only,trade", "trade,read_only", "read_only trade"])
async def test_modify_with_the_keys_own_perm_is_not_a_change(api: Api, sent: str) -> None:
    fam = family(api)
    created = await fam.create(label="bot1", perm="trade")
    [edited] = ok(await fam.post(MODIFY, {"subAcct": "alpha01", "apiKey": created["apiKey"],
                                          "label": "bot2", "perm": sent}))
    assert (edited["label"], edited["perm"]) == ("bot2", "read_only,trade")


@pytest.mark.parametrize(("fields", "code"), [
    ({"label": "taken1"}, "59502"),
    ({"label": "bad-label"}, "70012"),
    ({"ip": " ".join(f"10.0.0.{i}" for i in range(1, 22))}, "59503"),
    ({"ip": "300.1.1.1"}, "70013"),
], ids=["duplicate-label", "bad-label", "21-ips", "bad-ip"])
async def test_modify_refusals_change_nothing(api: Api, fields: dict[str, str], code: str
                                              ) -> None:
    fam = family(api)
    await fam.create(label="taken1")
    created = await fam.create(label="bot1", ip="10.0.0.1")
    before = await fam.keys_of()
    refused(await fam.post(MODIFY, {"subAcct": "alpha01", "apiKey": created["apiKey"],
                                    **fields}), code)
    assert await fam.keys_of() == before


# -- delete --------------------------------------------------------------------------------
async def test_delete_answers_the_sub_account_and_the_key_stops_working(api: Api) -> None:
    fam = family(api)
    doomed = await fam.create(label="doomed")
    kept = await fam.create(label="kept1")
    assert envelope(await fam.get(BALANCE, doomed))["code"] == "0"
    response = await fam.post(DELETE, {"subAcct": "alpha01", "apiKey": doomed["apiKey"]})
    assert ok(response) == [{"subAcct": "alpha01"}]
    assert [k["apiKey"] for k in await fam.keys_of()] == [kept["apiKey"]]
    refused(await fam.get(BALANCE, doomed), "50111", 401)
    refused(await fam.post(DELETE, {"subAcct": "alpha01", "apiKey": doomed["apiKey"]}), "59506")
    assert envelope(await fam.get(BALANCE, kept))["code"] == "0"


# -- sub-account list, balances, transfer -------------------------------------------------
async def test_subaccount_list_shows_the_masters_sub_accounts_only(api: Api) -> None:
    fam = family(api)
    family(api, subs=("zulu0001",))  # another master's sub-account
    listed = ok(await fam.get(SUB_LIST))
    assert [(s["subAcct"], s["uid"], s["type"]) for s in listed] == [
        ("alpha01", fam.subs["alpha01"].uid, "1"), ("bravo02", fam.subs["bravo02"].uid, "1")]
    one = ok(await fam.get(f"{SUB_LIST}?subAcct=bravo02"))
    assert [s["subAcct"] for s in one] == ["bravo02"]
    # what a sub-account's own key reports as its uid is the uid the master sees
    [config] = ok(await fam.get(CONFIG, fam.sub_key("bravo02")))
    assert config["uid"] == one[0]["uid"]


async def test_subaccount_balances_show_the_named_sub_accounts_money(api: Api) -> None:
    fam = family(api, credit={"USDT": "10000"})
    fam.credit("alpha01", "BTC", "0.25")
    fam.credit("bravo02", "ETH", "3")
    assert holdings(await fam.get(f"{SUB_BALANCES}?subAcct=alpha01")) == {"BTC": "0.25"}
    assert holdings(await fam.get(f"{SUB_BALANCES}?subAcct=bravo02")) == {"ETH": "3"}
    refused(await fam.get(SUB_BALANCES), "50014", 400)


async def test_transfer_moves_money_between_two_sub_accounts(api: Api) -> None:
    fam = family(api, credit={"USDT": "10000"})
    fam.credit("alpha01", "BTC", "0.25")
    alpha_key, bravo_key = fam.sub_key("alpha01"), fam.sub_key("bravo02")
    assert holdings(await fam.get(BALANCE, bravo_key)) == {}
    [moved] = ok(await fam.post(TRANSFER, {"ccy": "BTC", "amt": "0.1", "from": "18", "to": "6",
                                           "fromSubAccount": "alpha01",
                                           "toSubAccount": "bravo02"}))
    assert set(moved) == {"transId"} and moved["transId"].isdigit()
    # both the master's view and each sub's own key agree
    assert holdings(await fam.get(f"{SUB_BALANCES}?subAcct=alpha01")) == {"BTC": "0.15"}
    assert holdings(await fam.get(f"{SUB_BALANCES}?subAcct=bravo02")) == {"BTC": "0.1"}
    assert holdings(await fam.get(BALANCE, alpha_key)) == {"BTC": "0.15"}
    assert holdings(await fam.get(BALANCE, bravo_key)) == {"BTC": "0.1"}
    assert holdings(await fam.get(BALANCE)) == {"USDT": "10000"}  # the master's own: untouched


@pytest.mark.parametrize(("change", "code"), [
    ({"amt": "0.26"}, "58350"),  # more than alpha01 holds
    ({"ccy": "ETH"}, "58350"),  # a currency alpha01 does not hold
    ({"toSubAccount": "alpha01"}, "51000"),  # to itself
    ({"from": "1"}, "51000"),
    ({"amt": "-1"}, "51000"),
    ({"toSubAccount": "zulu0001"}, "59510"),  # another master's sub-account
], ids=["too-much", "not-held", "to-itself", "bad-from", "negative", "foreign-sub"])
async def test_a_refused_transfer_moves_nothing(api: Api, change: dict[str, str], code: str
                                               ) -> None:
    fam = family(api)
    stranger = family(api, subs=("zulu0001",))
    fam.credit("alpha01", "BTC", "0.25")
    body = {"ccy": "BTC", "amt": "0.1", "from": "18", "to": "18", "fromSubAccount": "alpha01",
            "toSubAccount": "bravo02", **change}
    refused(await fam.post(TRANSFER, body), code)
    assert holdings(await fam.get(f"{SUB_BALANCES}?subAcct=alpha01")) == {"BTC": "0.25"}
    assert holdings(await fam.get(f"{SUB_BALANCES}?subAcct=bravo02")) == {}
    assert holdings(await fam.get(f"{SUB_BALANCES}?subAcct=zulu0001", stranger.admin)) == {}


async def test_a_sub_accounts_key_never_sees_another_accounts_data(api: Api) -> None:
    fam = family(api, credit={"USDT": "10000"})
    fam.credit("alpha01", "BTC", "0.25")
    fam.credit("bravo02", "ETH", "3")
    alpha = fam.sub_key("alpha01", ip=CLIENT_IP)
    assert holdings(await fam.get(BALANCE, alpha)) == {"BTC": "0.25"}
    assert ok(await fam.get("/api/v5/asset/balances", alpha)) == [
        {"availBal": "0.25", "bal": "0.25", "ccy": "BTC", "frozenBal": "0"}]
    for target in (f"{SUB_BALANCES}?subAcct=bravo02", f"{SUB_APIKEY}?subAcct=bravo02",
                   f"{SUB_LIST}?subAcct=bravo02"):
        refused(await fam.get(target, alpha), "59500")


# -- restriction, rate limits --------------------------------------------------------------
async def test_restricting_the_master_freezes_its_and_its_subs_keys(api: Api) -> None:
    fam = family(api)
    sub_key = await fam.create(label="bot1")
    assert envelope(await fam.get(BALANCE, sub_key))["code"] == "0"  # now cached in the gate

    account_service.set_restricted(api.rt, SetRestricted(fam.email, True))
    # the services refuse key changes whatever a gate has cached, with the gate's own code
    actor = Actor.api(fam.admin["apiKey"], fam.master.id, Environment.LIVE, CLIENT_IP)
    with pytest.raises(errors.OkxError) as create:
        key_service.create_sub_key(api.rt, CreateSubKey(actor, "alpha01", label="bot2",
                                                        passphrase=SUB_PASS))
    assert create.value.code == "50100"
    with pytest.raises(errors.OkxError) as edit:
        key_service.edit_sub_key(api.rt, EditSubKey(actor, "alpha01", sub_key["apiKey"],
                                                    label="bot3"))
    assert edit.value.code == "50100"
    # and a process that committed the restriction forgets its cached keys at once
    refused(await fam.get(BALANCE, sub_key), "50100", 400)
    refused(await fam.get(BALANCE), "50100", 400)
    refused(await fam.post(SUB_APIKEY, {"subAcct": "alpha01", "label": "bot2",
                                        "passphrase": SUB_PASS}), "50100", 400)

    account_service.set_restricted(api.rt, SetRestricted(fam.email, False))
    api.app.state.key_cache.evict_account(fam.master.id)
    assert envelope(await fam.get(BALANCE, sub_key))["code"] == "0"
    assert (await fam.create(label="bot2"))["label"] == "bot2"
    assert [k["label"] for k in await fam.keys_of()] == ["bot1", "bot2"]


async def test_create_is_limited_to_one_request_per_second_per_account(api: Api) -> None:
    fam = family(api)
    second_admin = fam.master_key()  # another key of the same account shares the limit
    body = {"subAcct": "alpha01", "passphrase": SUB_PASS, "perm": "trade"}
    ok(await fam.post(SUB_APIKEY, {**body, "label": "first"}))
    refused(await fam.post(SUB_APIKEY, {**body, "label": "second"}, wait=False), "50011", 429)
    refused(await fam.post(SUB_APIKEY, {**body, "label": "second"}, second_admin, wait=False),
            "50011", 429)
    api.clock.advance(1.1)
    ok(await fam.post(SUB_APIKEY, {**body, "label": "second"}, wait=False))
    assert [k["label"] for k in await fam.keys_of()] == ["first", "second"]
    # another account has its own limit
    other = family(api)
    ok(await other.post(SUB_APIKEY, {**body, "label": "first"}, wait=False))


@pytest.mark.parametrize(("method", "target", "limit", "period"), [
    ("GET", f"{SUB_APIKEY}?subAcct=alpha01", 20, 2),
    ("GET", SUB_LIST, 2, 2),
    ("GET", f"{SUB_BALANCES}?subAcct=alpha01", 6, 2),
    ("POST", TRANSFER, 1, 1),
    ("POST", MODIFY, 1, 1),
    ("POST", DELETE, 1, 1),
], ids=["query", "list", "balances", "transfer", "modify", "delete"])
async def test_rate_limits_of_the_sub_account_endpoints(
        api: Api, method: str, target: str, limit: int, period: float) -> None:
    fam = family(api)
    fam.credit("alpha01", "BTC", "1")
    key = await fam.create(label="bot1", ip=CLIENT_IP)
    calls = iter(range(1, 100))

    def body() -> dict[str, str]:  # each call its own: an exact repeat is a replay (70017)
        n = next(calls)
        return {TRANSFER: {"ccy": "BTC", "amt": f"0.00{n}", "from": "18", "to": "18",
                           "fromSubAccount": "alpha01", "toSubAccount": "bravo02"},
                MODIFY: {"subAcct": "alpha01", "apiKey": key["apiKey"], "ip": CLIENT_IP,
                         "label": f"bot{n}"},
                DELETE: {"subAcct": "alpha01", "apiKey": new_uuid()}}[target]
    api.clock.advance(period + 0.1)

    async def call() -> httpx.Response:
        if method == "GET":
            return await fam.get(target, wait=False)
        return await fam.post(target, body(), wait=False)

    answers = [envelope(await call())["code"] for _ in range(limit)]
    assert "50011" not in answers
    refused(await call(), "50011", 429)
    api.clock.advance(period + 0.1)
    assert envelope(await call())["code"] != "50011"


# -- audit ---------------------------------------------------------------------------------
async def test_endpoint_key_changes_are_audited_with_the_calling_key_and_ip(api: Api) -> None:
    fam = family(api)
    created = await fam.create(label="bot1", ip="10.0.0.1")
    ident = {"subAcct": "alpha01", "apiKey": created["apiKey"]}
    ok(await fam.post(MODIFY, {**ident, "ip": ""}))
    ok(await fam.post(DELETE, ident))
    events = audit_service.events(api.rt, api_key=created["apiKey"])
    assert [e.event for e in events] == ["key_deleted", "key_edited", "key_created"]
    for event in events:
        assert event.actor == f"api:{fam.admin['apiKey']}" and event.source_ip == CLIENT_IP
        assert event.account_id == fam.subs["alpha01"].id
    assert events[1].details["ip"] == ["10.0.0.1", ""]
    text = json.dumps([e.details for e in events])
    assert created["secretKey"] not in text and SUB_PASS not in text


# -- the inactivity rule, as stored in the database ----------------------------------------
def follow(follower: ChangeFollower) -> None:
    """One pass of the serving process's change follower (it runs every 0.2 s in a server)."""
    polled = follower.poll()
    if isinstance(polled, tuple):
        follower.apply(*polled)
    else:
        follower.apply(polled)


async def test_a_key_created_by_the_server_follows_the_policy_stored_by_the_cli(api: Api
                                                                                ) -> None:
    fam = family(api)
    follower = ChangeFollower(api.app.state)
    operator = open_runtime(Settings(home=api.rt.settings.home), clock=api.clock)
    try:
        key_service.set_expiry_policy(operator, SetExpiryPolicy(ExpiryPolicy.okx()))  # `key expiry-policy --okx`
        follow(follower)
        reader = await fam.create(label="reader", perm="read_only")  # no IP: never expires
        trader = await fam.create(label="trader", perm="trade")  # no IP: 14 idle days
        swept = key_service.sweep(operator, SweepIdleKeys(as_of_ms=int(api.clock() * 1000) + 15 * DAY_MS))
    finally:
        operator.close()
    assert [k.api_key for k in swept] == [trader["apiKey"]]
    assert [k["apiKey"] for k in await fam.keys_of()] == [reader["apiKey"]]


async def test_usage_pushes_expiry_by_the_policy_stored_by_the_cli(api: Api) -> None:
    fam = family(api)
    trader = fam.sub_key("alpha01", perm="read_only,trade")  # no IP: the rule applies
    follower = ChangeFollower(api.app.state)
    operator = open_runtime(Settings(home=api.rt.settings.home), clock=api.clock)
    try:
        key_service.set_expiry_policy(operator, SetExpiryPolicy(ExpiryPolicy.okx()))
        follow(follower)
        api.clock.advance(DAY_MS / 1000)
        assert envelope(await api.get(trader, BALANCE))["code"] == "0"
        flush_usage(api.app.state)  # the server's usage writer
        used_at = int(api.clock() * 1000)
        assert key_service.sweep(operator, SweepIdleKeys(as_of_ms=used_at + 13 * DAY_MS)) == []
        swept = key_service.sweep(operator, SweepIdleKeys(as_of_ms=used_at + 15 * DAY_MS))
    finally:
        operator.close()
    assert [k.api_key for k in swept] == [trader["apiKey"]]
