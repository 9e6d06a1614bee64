"""Sub-account endpoints, and OKX's key management for sub-accounts (okx-v5-spec.md §6).

Only a master account's key created with sub-account access may call them (a sub-account
key: 59500; a master key without the access: 70010), and the key-changing ones need that key
to be bound to an IP (50035), as OKX requires. The route table declares this and the gate
checks it, before the rate limit, as okx-v5-spec.md §1.9 orders the checks.
"""

from __future__ import annotations

import asyncio
from typing import Any

from keyseal import errors
from keyseal.domain.accounts import Account
from keyseal.domain.keys import Environment
from keyseal.domain.money import parse_amount
from keyseal.domain.orders import given
from keyseal.domain.permissions import Permission
from keyseal.gate.ratelimit import Rate
from keyseal.http.okx.account import trading_balance
from keyseal.http.routes import Call, RouteTable
from keyseal.services import accounts as account_service
from keyseal.services import keys as key_service
from keyseal.services import ledger
from keyseal.services.audit import Actor

table = RouteTable()


async def _master(call: Call) -> Account:
    """The calling master account (the gate has checked the key may manage sub-accounts)."""
    return await asyncio.to_thread(account_service.account_by_id, call.state.rt,
                                   call.caller.key.account_id)


async def _sub(call: Call, master: Account, name: Any) -> Account:
    if not name:
        raise errors.PARAM_EMPTY("subAcct")
    return await asyncio.to_thread(account_service.sub_account, call.state.rt, master, str(name))


def _actor(call: Call) -> Actor:
    return Actor("api", call.caller.key.api_key, call.client_ip)


def _key_view(sub: Account, key: Any) -> dict[str, str]:
    return {"subAcct": sub.sub_name or "", "label": key.label, "apiKey": key.api_key,
            "perm": key.permission.wire(), "ip": key.allowlist.wire(), "ts": str(key.created_ms)}


@table.private("GET", "/api/v5/users/subaccount/list", Permission.READ, Rate(2, 2), manages_subs=True)
async def list_subaccounts(call: Call) -> list[Any]:
    """The master account's sub-accounts."""
    master = await _master(call)
    subs = await asyncio.to_thread(account_service.sub_accounts, call.state.rt, master)
    wanted = call.query.get("subAcct")
    return [{"canTransOut": True, "enable": True, "firstLvSubAcct": s.sub_name,
             "frozenFunc": [], "gAuth": False, "ifDma": False, "label": "", "mobile": "",
             "subAcct": s.sub_name, "subAcctLv": "1", "ts": str(s.created_ms), "type": "1",
             "uid": s.uid}
            for s in subs if not wanted or s.sub_name == wanted]


@table.private("GET", "/api/v5/account/subaccount/balances", Permission.READ, Rate(6, 2), manages_subs=True)
async def subaccount_balances(call: Call) -> list[Any]:
    """A sub-account's trading balance, seen by its master."""
    sub = await _sub(call, await _master(call), call.query.get("subAcct"))
    held = await call.state.balances.get(ledger.Owner(sub.id, call.caller.environment))
    return [trading_balance(call, held, None)]


@table.private("POST", "/api/v5/asset/subaccount/transfer", Permission.TRADE, Rate(1, 1), manages_subs=True)
async def subaccount_transfer(call: Call) -> list[Any]:
    """Move funds from one sub-account to another of the same master."""
    body = call.json_object()
    master = await _master(call)
    for field in ("ccy", "amt", "from", "to", "fromSubAccount", "toSubAccount"):
        if given(body, field) is None:
            raise errors.PARAM_EMPTY(field)
    for field in ("from", "to"):
        if str(body[field]) not in ("6", "18"):
            raise errors.PARAM_ERROR(field)
    source = await _sub(call, master, body["fromSubAccount"])
    target = await _sub(call, master, body["toSubAccount"])
    if source.id == target.id:
        raise errors.PARAM_ERROR("toSubAccount", detail="the same sub-account")
    environment: Environment = call.caller.environment
    trans_id = await asyncio.to_thread(
        ledger.transfer, call.state.rt, ledger.Owner(source.id, environment),
        ledger.Owner(target.id, environment), str(body["ccy"]), parse_amount(body["amt"], "amt"))
    call.state.balances.evict(source.id)
    call.state.balances.evict(target.id)
    return [{"transId": trans_id}]


@table.private("POST", "/api/v5/users/subaccount/apikey", Permission.TRADE, Rate(1, 1),
               manages_subs=True, needs_ip_binding=True)
async def create_subaccount_key(call: Call) -> list[Any]:
    """Create an API key for a sub-account; the only response that carries the secret."""
    body = call.json_object()
    master = await _master(call)
    sub = await _sub(call, master, given(body, "subAcct"))
    for field in ("label", "passphrase"):
        if given(body, field) is None:
            raise errors.PARAM_EMPTY(field)
    created = await asyncio.to_thread(
        key_service.create_key_for, call.state.rt, sub, label=str(body["label"]),
        passphrase=str(body["passphrase"]), perm=str(given(body, "perm") or "read_only"),
        ip=given(body, "ip"), demo=call.caller.environment is Environment.DEMO,
        actor=_actor(call))
    return [{"subAcct": sub.sub_name, **created.to_okx()}]


@table.private("GET", "/api/v5/users/subaccount/apikey", Permission.READ, Rate(20, 2), manages_subs=True)
async def query_subaccount_keys(call: Call) -> list[Any]:
    """A sub-account's keys, without secrets or passphrases."""
    sub = await _sub(call, await _master(call), call.query.get("subAcct"))
    keys = await asyncio.to_thread(key_service.keys_of, call.state.rt, sub)
    wanted = call.query.get("apiKey")
    if wanted and not any(k.api_key == wanted for k in keys):
        raise errors.KEY_NOT_FOUND()
    return [{k: v for k, v in _key_view(sub, key).items() if k != "subAcct"}
            for key in keys if not wanted or key.api_key == wanted]


async def _sub_key(call: Call, body: dict[str, Any]) -> tuple[Account, Any]:
    master = await _master(call)
    sub = await _sub(call, master, given(body, "subAcct"))
    api_key = given(body, "apiKey")
    if api_key is None:
        raise errors.PARAM_EMPTY("apiKey")
    keys = await asyncio.to_thread(key_service.keys_of, call.state.rt, sub)
    key = next((k for k in keys if k.api_key == api_key), None)
    if key is None:
        raise errors.KEY_NOT_FOUND()
    return sub, key


@table.private("POST", "/api/v5/users/subaccount/modify-apikey", Permission.TRADE, Rate(1, 1),
               manages_subs=True, needs_ip_binding=True)
async def modify_subaccount_key(call: Call) -> list[Any]:
    """Change label and/or IP list. ``ip: ""`` unbinds every IP; an absent ``ip`` keeps it.
    A ``perm`` other than the key's own is refused: permissions are immutable."""
    body = call.json_object()
    sub, key = await _sub_key(call, body)
    perm = given(body, "perm")
    if perm is not None and Permission.parse(str(perm)) != key.permission:
        raise errors.IMMUTABLE_FIELD("permissions")
    edited = await asyncio.to_thread(
        key_service.edit_key, call.state.rt, key.api_key,
        label=given(body, "label"), ip=body.get("ip"), actor=_actor(call))
    call.state.key_cache.evict(key.api_key)
    return [_key_view(sub, edited)]


@table.private("POST", "/api/v5/users/subaccount/delete-apikey", Permission.TRADE, Rate(1, 1),
               manages_subs=True, needs_ip_binding=True)
async def delete_subaccount_key(call: Call) -> list[Any]:
    """Delete a sub-account's key."""
    body = call.json_object()
    sub, key = await _sub_key(call, body)
    await asyncio.to_thread(key_service.delete_key, call.state.rt, key.api_key,
                            actor=_actor(call))
    call.state.key_cache.evict(key.api_key)
    return [{"subAcct": sub.sub_name}]
