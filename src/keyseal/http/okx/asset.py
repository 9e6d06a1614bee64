"""Funding endpoints: currencies, funding balances, withdrawals."""

from __future__ import annotations

import asyncio
from typing import Any

from keyseal.domain.money import fmt
from keyseal.domain.permissions import Permission
from keyseal.gate.ratelimit import Rate
from keyseal.http.okx.common import ccy_filter, owner
from keyseal.http.routes import Call, RouteTable
from keyseal.services import ledger

table = RouteTable()


@table.private("GET", "/api/v5/asset/currencies", Permission.READ, Rate(6, 1))
async def currencies(call: Call) -> list[Any]:
    """Currencies and their chains: deposit/withdrawal rules and fees."""
    wanted = ccy_filter(call)
    return [row for ccy, currency in call.state.rt.settings.market.currencies.items()
            if wanted is None or ccy in wanted for row in currency.to_okx()]


@table.private("GET", "/api/v5/asset/balances", Permission.READ, Rate(6, 1))
async def balances(call: Call) -> list[Any]:
    """Funding balances of every currency with a balance above zero."""
    wanted = ccy_filter(call)
    held = await call.state.balances.get(owner(call))
    return [{"availBal": fmt(b.available), "bal": fmt(b.cash), "ccy": ccy,
             "frozenBal": fmt(b.frozen)}
            for ccy, b in sorted(held.balances.items())
            if b.cash > 0 and (wanted is None or ccy in wanted)]


@table.private("POST", "/api/v5/asset/withdrawal", Permission.WITHDRAW, Rate(6, 1))
async def withdrawal(call: Call) -> list[Any]:
    """Withdraw: debits amount plus chain fee from the available balance."""
    body = call.json_object()
    who = owner(call)
    result = await asyncio.to_thread(ledger.withdraw, call.state.rt, who, body)
    call.state.balances.evict(who.account_id)
    return [result]
