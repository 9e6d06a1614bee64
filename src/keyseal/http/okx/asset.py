"""Funding endpoints: currencies, funding balances, withdrawals."""

from __future__ import annotations

import asyncio
from typing import Any

from keyseal.domain.commands import Withdraw
from keyseal.domain.market import Currency
from keyseal.domain.money import fmt, parse_amount
from keyseal.domain.permissions import Permission
from keyseal.gate.ratelimit import Rate
from keyseal.http.okx.params import ccy_filter, required, text
from keyseal.http.routes import Call, RouteTable
from keyseal.services import ledger

table = RouteTable()


@table.private("GET", "/api/v5/asset/currencies", Permission.READ, Rate(6, 1))
async def currencies(call: Call) -> list[Any]:
    """Currencies and their chains: deposit/withdrawal rules and fees."""
    wanted = ccy_filter(call.query)
    return [row for ccy, currency in call.state.rt.settings.market.currencies.items()
            if wanted is None or ccy in wanted for row in currency_fields(currency)]


def currency_fields(currency: Currency) -> list[dict[str, object]]:
    """One ``asset/currencies`` row per chain, as OKX lists them."""
    return [
        {
            "canDep": True, "canInternal": True, "canWd": True, "ccy": currency.ccy,
            "chain": chain.name, "depQuotaFixed": "", "depQuoteDailyLayer2": "",
            "fee": fmt(chain.fee), "logoLink": "", "mainNet": index == 0,
            "maxFee": fmt(chain.fee), "maxFeeForCtAddr": "", "maxWd": "1000000",
            "minDep": "0.00000001", "minDepArrivalConfirm": "1", "minFee": fmt(chain.fee),
            "minFeeForCtAddr": "", "minInternal": "0.0001", "minWd": fmt(chain.min_wd),
            "minWdUnlockConfirm": "2", "name": currency.name, "needTag": False,
            "usedDepQuotaFixed": "", "usedWdQuota": "0", "wdQuota": "10000000",
            "wdTickSz": "8",
        }
        for index, chain in enumerate(currency.chains)
    ]


@table.private("GET", "/api/v5/asset/balances", Permission.READ, Rate(6, 1))
async def balances(call: Call) -> list[Any]:
    """Funding balances of every currency with a balance above zero."""
    wanted = ccy_filter(call.query)
    held = await call.state.balances.get(call.owner)
    return [{"availBal": fmt(b.available), "bal": fmt(b.cash), "ccy": ccy,
             "frozenBal": fmt(b.frozen)}
            for ccy, b in sorted(held.balances.items())
            if b.cash > 0 and (wanted is None or ccy in wanted)]


@table.private("POST", "/api/v5/asset/withdrawal", Permission.WITHDRAW, Rate(6, 1))
async def withdrawal(call: Call) -> list[Any]:
    """Withdraw: debits amount plus chain fee from the available balance."""
    body = call.json_object()
    for field in ("ccy", "amt", "dest", "toAddr"):
        required(body, field)
    done = await asyncio.to_thread(ledger.withdraw, call.state.rt, Withdraw(
        call.owner, str(body["ccy"]), parse_amount(body["amt"], "amt"), str(body["dest"]),
        str(body["toAddr"]), chain=text(body, "chain"), client_id=text(body, "clientId") or "",
        actor=call.actor))
    return [{"amt": fmt(done.amount), "wdId": done.wd_id, "ccy": done.ccy,
             "clientId": done.client_id, "chain": done.chain}]
