"""Trading-account endpoints: balance and configuration."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import orjson

from keyseal.clock import millis
from keyseal.domain.ledger import Balance
from keyseal.domain.market import Market
from keyseal.domain.money import fmt
from keyseal.domain.permissions import Permission
from keyseal.gate.ratelimit import Rate
from keyseal.http.okx.params import ccy_filter
from keyseal.http.routes import Call, RouteTable
from keyseal.services.balance_cache import Holdings

table = RouteTable()


@table.private("GET", "/api/v5/account/balance", Permission.READ, Rate(10, 2))
async def balance(call: Call) -> list[Any]:
    """Trading-account balance: equity, available and frozen per currency."""
    held = await call.state.balances.get(call.owner)
    return [trading_balance(call, held, ccy_filter(call.query))]


def trading_balance(call: Call, held: Holdings, wanted: set[str] | None) -> dict[str, Any]:
    """OKX's ``account/balance`` object (currencies with neither cash nor frozen are left out).
    The rows are rendered once per balance snapshot, not once per request."""
    rows, usd, encoded, total = held.derived(
        "okx_trading", lambda b: _render(b, call.state.rt.settings.market))
    details: Any = encoded  # the unfiltered rows, serialised once per snapshot
    if wanted is not None:
        details = [r for r in rows if r["ccy"] in wanted]
        total = fmt(sum((v for c, v in usd.items() if c in wanted), Decimal(0)))
    return {
        "adjEq": "", "availEq": "", "borrowFroz": "", "details": details, "imr": "",
        "isoEq": "0", "mgnRatio": "", "mmr": "", "notionalUsd": "", "notionalUsdForBorrow": "",
        "notionalUsdForFutures": "", "notionalUsdForOption": "", "notionalUsdForSwap": "",
        "ordFroz": "", "totalEq": total,
        "uTime": str(millis(call.state.rt.clock)), "upl": "",
    }


def _render(held: dict[str, Balance], market: Market
            ) -> tuple[list[dict[str, Any]], dict[str, Decimal], orjson.Fragment, str]:
    rows, usd_by_ccy = [], {}
    for ccy in sorted(held):
        row = held[ccy]
        if row.cash == 0 and row.frozen == 0:
            continue
        usd = market.usd_value(ccy, row.cash) or Decimal(0)
        usd_by_ccy[ccy] = usd
        available, cash, frozen = fmt(row.available), fmt(row.cash), fmt(row.frozen)
        rows.append({
            "accAvgPx": "", "availBal": available, "availEq": available, "borrowFroz": "",
            "cashBal": cash, "ccy": ccy, "clSpotInUseAmt": "", "colBorrAutoConversion": "",
            "collateralEnabled": False, "crossLiab": "", "disEq": fmt(usd), "eq": cash,
            "eqUsd": fmt(usd), "fixedBal": "0", "frozenBal": frozen, "imr": "",
            "interest": "", "isoEq": "", "isoLiab": "", "isoUpl": "", "liab": "", "maxLoan": "",
            "mgnRatio": "", "mmr": "", "notionalLever": "", "openAvgPx": "",
            "ordFrozen": frozen, "rewardBal": "0", "smtSyncEq": "0",
            "spotBal": cash, "spotCopyTradingEq": "0", "spotInUseAmt": "",
            "spotIsoBal": "0", "spotUpl": "", "spotUplRatio": "", "stgyEq": "0", "totalPnl": "",
            "totalPnlRatio": "", "twap": "0", "uTime": str(row.updated_ms), "upl": "",
            "uplLiab": "",
        })
    total = fmt(sum(usd_by_ccy.values(), Decimal(0)))
    return rows, usd_by_ccy, orjson.Fragment(orjson.dumps(rows)), total


@table.private("GET", "/api/v5/account/config", Permission.READ, Rate(5, 2))
async def config(call: Call) -> list[Any]:
    """The account and the calling key: uid, mainUid, label, perm, ip. Two fields OKX does
    not send, which OKX clients ignore, say how this server's inactivity rule treats the key
    (``keysealIdleExpiryDays``: "" when it never expires), so a health check need not guess."""
    key = call.caller.key
    policy = call.state.rt.settings.expiry
    expires = policy.applies(key.permission, key.allowlist.bound, key.environment)
    return [{
        "acctLv": "1", "acctStpMode": "cancel_maker", "autoLoan": False,
        "ctIsoMode": "automatic", "enableSpotBorrow": False, "greeksType": "PA", "feeType": "0",
        "ip": key.allowlist.wire(), "kycLv": str(key.kyc_level),
        "label": key.label, "level": "Lv1", "levelTmp": "", "liquidationGear": "-1",
        "mainUid": key.main_uid, "mgnIsoMode": "automatic", "opAuth": "0",
        "perm": key.permission.wire(), "posMode": "net_mode", "roleType": "0",
        "spotBorrowAutoRepay": False, "spotOffsetType": "", "spotRoleType": "0",
        "spotTraderInsts": [], "stgyType": "0", "traderInsts": [],
        "type": "1" if key.is_sub else "0", "uid": key.uid,
        "settleCcy": "USDT", "settleCcyList": ["USDT"],
        "keysealIdleExpiryDays": str(policy.idle_days) if expires else "",
        "keysealExpiryRule": policy.describe(),
    }]
