"""Sub-account endpoints, and OKX's key management for sub-accounts (okx-v5-spec.md §6).

Only a master account's key created with sub-account access may call them (a sub-account
key: 59500; a master key without the access: 70010), and the key-changing ones need that key
to be bound to an IP (50035), as OKX requires. The route table declares this and the gate
checks it, before the rate limit, as okx-v5-spec.md §1.9 orders the checks. Which
sub-account and key the caller may touch is the services' business: a key of another
master, or of the other environment, answers 59506 as if it did not exist.
"""

from __future__ import annotations

import asyncio
from typing import Any

from keyseal import errors
from keyseal.domain.accounts import Account
from keyseal.domain.commands import (
    CreateSubKey,
    DeleteSubKey,
    EditSubKey,
    ListSubKeys,
    Owner,
    TransferBetweenSubs,
)
from keyseal.domain.keys import ApiKey, CreatedKey
from keyseal.domain.money import parse_amount
from keyseal.domain.permissions import Permission
from keyseal.gate.ratelimit import Rate
from keyseal.http.okx.account import trading_balance
from keyseal.http.okx.params import given, required, text
from keyseal.http.routes import Call, RouteTable
from keyseal.services import accounts as account_service
from keyseal.services import keys as key_service
from keyseal.services import ledger

table = RouteTable()


def key_fields(key: ApiKey) -> dict[str, str]:
    """A key as OKX lists it (never its secret)."""
    return {"label": key.label, "apiKey": key.api_key, "perm": key.permission.wire(),
            "ip": key.allowlist.wire(), "ts": str(key.created_ms)}


def created_key_fields(created: CreatedKey) -> dict[str, str]:
    """The fields OKX returns on creation: the only response that carries the secret."""
    return {"apiKey": created.key.api_key, "secretKey": created.secret_key,
            "passphrase": created.passphrase, **{k: v for k, v in key_fields(created.key).items()
                                                 if k != "apiKey"}}


@table.private("GET", "/api/v5/users/subaccount/list", Permission.READ, Rate(2, 2), manages_subs=True)
async def list_subaccounts(call: Call) -> list[Any]:
    """The master account's sub-accounts."""
    subs = await asyncio.to_thread(account_service.subs_of_actor, call.state.rt, call.actor)
    wanted = call.query.get("subAcct")
    return [_sub_fields(s) for s in subs if not wanted or s.sub_name == wanted]


def _sub_fields(sub: Account) -> dict[str, Any]:
    return {"canTransOut": True, "enable": True, "firstLvSubAcct": sub.sub_name,
            "frozenFunc": [], "gAuth": False, "ifDma": False, "label": "", "mobile": "",
            "subAcct": sub.sub_name, "subAcctLv": "1", "ts": str(sub.created_ms), "type": "1",
            "uid": sub.uid}


@table.private("GET", "/api/v5/account/subaccount/balances", Permission.READ, Rate(6, 2), manages_subs=True)
async def subaccount_balances(call: Call) -> list[Any]:
    """A sub-account's trading balance, seen by its master."""
    sub = await asyncio.to_thread(account_service.sub_of_actor, call.state.rt, call.actor,
                                  call.query.get("subAcct"))
    held = await call.state.balances.get(Owner(sub.id, call.caller.environment))
    return [trading_balance(call, held, None)]


@table.private("POST", "/api/v5/asset/subaccount/transfer", Permission.TRADE, Rate(1, 1), manages_subs=True)
async def subaccount_transfer(call: Call) -> list[Any]:
    """Move funds from one sub-account to another of the same master."""
    body = call.json_object()
    for field in ("ccy", "amt", "from", "to", "fromSubAccount", "toSubAccount"):
        required(body, field)
    for field in ("from", "to"):
        if str(body[field]) not in ("6", "18"):
            raise errors.PARAM_ERROR(field)
    trans_id = await asyncio.to_thread(ledger.transfer_between_subs, call.state.rt, TransferBetweenSubs(
        call.actor, str(body["ccy"]), parse_amount(body["amt"], "amt"),
        str(body["fromSubAccount"]), str(body["toSubAccount"])))
    return [{"transId": trans_id}]


@table.private("POST", "/api/v5/users/subaccount/apikey", Permission.TRADE, Rate(1, 1),
               manages_subs=True, needs_ip_binding=True)
async def create_subaccount_key(call: Call) -> list[Any]:
    """Create an API key for a sub-account; the only response that carries the secret."""
    body = call.json_object()
    sub_name = text(body, "subAcct")
    if sub_name is None:
        raise errors.PARAM_EMPTY("subAcct")
    label, passphrase = str(required(body, "label")), str(required(body, "passphrase"))
    sub, created = await asyncio.to_thread(key_service.create_sub_key, call.state.rt, CreateSubKey(
        call.actor, sub_name, label=label, passphrase=passphrase,
        perm=text(body, "perm") or "read_only", ip=given(body, "ip")))
    return [{"subAcct": sub.sub_name, **created_key_fields(created)}]


@table.private("GET", "/api/v5/users/subaccount/apikey", Permission.READ, Rate(20, 2), manages_subs=True)
async def query_subaccount_keys(call: Call) -> list[Any]:
    """A sub-account's keys, without secrets or passphrases."""
    keys = await asyncio.to_thread(key_service.list_sub_keys, call.state.rt, ListSubKeys(
        call.actor, call.query.get("subAcct", ""), api_key=call.query.get("apiKey") or None))
    return [key_fields(key) for key in keys]


@table.private("POST", "/api/v5/users/subaccount/modify-apikey", Permission.TRADE, Rate(1, 1),
               manages_subs=True, needs_ip_binding=True)
async def modify_subaccount_key(call: Call) -> list[Any]:
    """Change label and/or IP list. ``ip: ""`` unbinds every IP; an absent ``ip`` keeps it.
    A ``perm`` other than the key's own is refused: permissions are immutable."""
    body = call.json_object()
    sub, key = await asyncio.to_thread(key_service.edit_sub_key, call.state.rt, EditSubKey(
        call.actor, text(body, "subAcct") or "", text(body, "apiKey") or "",
        label=given(body, "label"), ip=body.get("ip"), perm=text(body, "perm")))
    return [{"subAcct": sub.sub_name or "", **key_fields(key)}]


@table.private("POST", "/api/v5/users/subaccount/delete-apikey", Permission.TRADE, Rate(1, 1),
               manages_subs=True, needs_ip_binding=True)
async def delete_subaccount_key(call: Call) -> list[Any]:
    """Delete a sub-account's key."""
    body = call.json_object()
    sub = await asyncio.to_thread(key_service.delete_sub_key, call.state.rt, DeleteSubKey(
        call.actor, text(body, "subAcct") or "", text(body, "apiKey") or ""))
    return [{"subAcct": sub.sub_name}]
