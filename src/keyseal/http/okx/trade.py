"""Order endpoints. Orders freeze funds and rest as ``live``; there is no matching engine."""

from __future__ import annotations

import asyncio
from typing import Any

from keyseal import errors
from keyseal.domain.orders import MAX_BATCH
from keyseal.domain.permissions import Permission
from keyseal.gate.ratelimit import Rate
from keyseal.http.okx.common import owner
from keyseal.http.routes import Call, Reply, RouteTable
from keyseal.services import ledger

table = RouteTable()


def _batch_reply(acks: list[dict[str, str]]) -> Reply | list[Any]:
    """OKX's convention: code 0 when all succeed, 1 when all fail, 2 when some do."""
    failed = sum(ack["sCode"] != "0" for ack in acks)
    if failed == 0:
        return acks
    if failed == len(acks):
        return Reply(errors.OPERATION_FAILED.code, "All operations failed", acks)
    return Reply(errors.PARTIAL_SUCCESS.code, errors.PARTIAL_SUCCESS.message, acks)


async def _place(call: Call, bodies: list[Any]) -> list[dict[str, str]]:
    who = owner(call)
    acks = await asyncio.to_thread(ledger.place_orders, call.state.rt, who, bodies)
    call.state.balances.evict(who.account_id)
    return acks


@table.private("POST", "/api/v5/trade/order", Permission.TRADE, Rate(60, 2))
async def place_order(call: Call) -> Reply | list[Any]:
    """Place one order."""
    return _batch_reply(await _place(call, [call.json_object()]))


@table.private("POST", "/api/v5/trade/batch-orders", Permission.TRADE, Rate(300, 2))
async def place_batch(call: Call) -> Reply | list[Any]:
    """Place up to 20 orders; each succeeds or fails on its own."""
    body = call.json()
    if not isinstance(body, list) or not body:
        raise errors.PARAM_ERROR("body", detail="expected a JSON array of orders")
    if len(body) > MAX_BATCH:
        raise errors.BATCH_TOO_LARGE(MAX_BATCH)
    return _batch_reply(await _place(call, body))


@table.private("POST", "/api/v5/trade/cancel-order", Permission.TRADE, Rate(60, 2))
async def cancel_order(call: Call) -> Reply | list[Any]:
    """Cancel a live order by ordId or clOrdId; its frozen funds are released."""
    body = call.json_object()
    who = owner(call)
    try:
        result = await asyncio.to_thread(ledger.cancel_order, call.state.rt, who, body)
    except errors.OkxError as refusal:
        if refusal.error is not errors.CANCEL_FAILED:
            raise
        return Reply(errors.OPERATION_FAILED.code, "", [{
            "clOrdId": str(body.get("clOrdId") or ""), "ordId": str(body.get("ordId") or ""),
            "sCode": refusal.code, "sMsg": refusal.message, "ts": ""}])
    call.state.balances.evict(who.account_id)
    return [result]


@table.private("GET", "/api/v5/trade/orders-pending", Permission.READ, Rate(60, 2))
async def orders_pending(call: Call) -> list[Any]:
    """Live orders, newest first."""
    return await asyncio.to_thread(ledger.pending_orders, call.state.rt, owner(call), call.query)


@table.private("GET", "/api/v5/trade/order", Permission.READ, Rate(60, 2))
async def order_details(call: Call) -> list[Any]:
    """One order by ordId or clOrdId."""
    return [await asyncio.to_thread(ledger.get_order, call.state.rt, owner(call), call.query)]
