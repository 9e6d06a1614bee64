"""Order endpoints. Orders freeze funds and rest as ``live``; there is no matching engine."""

from __future__ import annotations

import asyncio
from typing import Any

from keyseal import errors
from keyseal.domain.commands import CancelOrder, PlaceOrder
from keyseal.domain.market import Market
from keyseal.domain.orders import MAX_BATCH, Order, OrderRequest, new_order
from keyseal.domain.permissions import Permission
from keyseal.gate.order_limits import charge_cancel, charge_placements
from keyseal.gate.ratelimit import Rate
from keyseal.http.okx.params import given, limit, required, text
from keyseal.http.routes import Call, Reply, RouteTable
from keyseal.services import ledger

table = RouteTable()


def order_fields(order: Order) -> dict[str, Any]:
    """An order in the shape of OKX's ``trade/order`` and ``orders-pending``."""
    buy = order.side == "buy"
    return {
        "accFillSz": "0", "algoClOrdId": "", "algoId": "", "attachAlgoClOrdId": "",
        "attachAlgoOrds": [], "avgPx": "", "cTime": str(order.created_ms), "cancelSource": "",
        "cancelSourceReason": "", "category": "normal", "ccy": "", "clOrdId": order.cl_ord_id,
        "fee": "0", "feeCcy": order.base_ccy if buy else order.quote_ccy,
        "fillPx": "", "fillSz": "0", "fillTime": "", "instId": order.inst_id,
        "instType": "SPOT", "isTpLimit": "false", "lever": "", "linkedAlgoOrd": {"algoId": ""},
        "ordId": order.ord_id, "ordType": order.ord_type, "pnl": "0", "posSide": "net",
        "px": order.px, "pxType": "", "pxUsd": "", "pxVol": "", "quickMgnType": "",
        "rebate": "0", "rebateCcy": order.quote_ccy if buy else order.base_ccy,
        "reduceOnly": "false", "side": order.side, "slOrdPx": "", "slTriggerPx": "",
        "slTriggerPxType": "", "source": "", "state": order.state, "stpId": "", "stpMode": "",
        "sz": order.sz, "tag": order.tag, "tdMode": "cash", "tgtCcy": "", "tpOrdPx": "",
        "tpTriggerPx": "", "tpTriggerPxType": "", "tradeId": "", "uTime": str(order.updated_ms),
    }


def order_from_wire(body: object, market: Market) -> OrderRequest:
    """One order object of OKX's ``trade/order`` body, validated."""
    if not isinstance(body, dict):
        raise errors.PARAM_ERROR("body")
    for field in ("instId", "tdMode", "side", "ordType", "sz"):
        required(body, field)
    tag = given(body, "tag")
    if tag is not None and not isinstance(tag, str):
        raise errors.PARAM_ERROR("tag")
    return new_order(market, inst_id=str(body["instId"]),
                     td_mode=str(body["tdMode"]), side=str(body["side"]),
                     ord_type=str(body["ordType"]), px=given(body, "px"), sz=body["sz"],
                     cl_ord_id=text(body, "clOrdId") or "", tag=tag or "",
                     tgt_ccy=text(body, "tgtCcy"))


def _limited_inst(inst_id: str | None, market: Market) -> str:
    """The instrument a request is charged to: unknown ones share one bucket, so made-up
    instIds cannot open a fresh limit each."""
    return inst_id if inst_id in market.instruments else "?"


def _ack(call: Call, body: object, placed: Order | None, refusal: errors.OkxError | None
         ) -> dict[str, str]:
    if placed is not None:
        return {"clOrdId": placed.cl_ord_id, "ordId": placed.ord_id, "sCode": "0",
                "sMsg": "Order placed", "tag": placed.tag, "ts": str(placed.created_ms)}
    fields = body if isinstance(body, dict) else {}
    assert refusal is not None
    return {"clOrdId": text(fields, "clOrdId") or "", "ordId": "", "sCode": refusal.code,
            "sMsg": refusal.message, "tag": text(fields, "tag") or "",
            "ts": str(call.state.rt.now_ms())}


async def _place_each(call: Call, bodies: list[Any]) -> Reply | list[Any]:
    """Each order succeeds or fails on its own (its own transaction); OKX's batch codes: 0
    when all succeed, 1 when all fail, 2 when some do. The order rate limits are charged
    first, per instrument and per order."""
    market = call.state.rt.settings.market
    await charge_placements(call.state.order_limiter, call.caller, [
        _limited_inst(text(body, "instId") if isinstance(body, dict) else None, market)
        for body in bodies])
    acks = []
    for body in bodies:
        try:
            placed = await asyncio.to_thread(ledger.place_order, call.state.rt,
                                             PlaceOrder(call.owner, order_from_wire(body, market),
                                                        actor=call.actor))
            acks.append(_ack(call, body, placed, None))
        except errors.OkxError as refusal:
            acks.append(_ack(call, body, None, refusal))
    failed = sum(ack["sCode"] != "0" for ack in acks)
    if failed == 0:
        return acks
    if failed == len(acks):
        return Reply(errors.OPERATION_FAILED.code, "All operations failed", acks)
    return Reply(errors.PARTIAL_SUCCESS.code, errors.PARTIAL_SUCCESS.message, acks)


async def _charge_unknown_placement(call: Call) -> None:
    """A request refused before its orders are counted still costs one request."""
    await charge_placements(call.state.order_limiter, call.caller, ["?"])


@table.private("POST", "/api/v5/trade/order", Permission.TRADE, None)
async def place_order(call: Call) -> Reply | list[Any]:
    """Place one order."""
    try:
        body = call.json_object()
    except errors.OkxError:
        await _charge_unknown_placement(call)
        raise
    return await _place_each(call, [body])


@table.private("POST", "/api/v5/trade/batch-orders", Permission.TRADE, None)
async def place_batch(call: Call) -> Reply | list[Any]:
    """Place up to 20 orders; each succeeds or fails on its own."""
    try:
        body = call.json()
        if not isinstance(body, list) or not body:
            raise errors.PARAM_ERROR("body", detail="expected a JSON array of orders")
        if len(body) > MAX_BATCH:
            raise errors.BATCH_TOO_LARGE(MAX_BATCH)
    except errors.OkxError:
        await _charge_unknown_placement(call)
        raise
    return await _place_each(call, body)


@table.private("POST", "/api/v5/trade/cancel-order", Permission.TRADE, None)
async def cancel_order(call: Call) -> Reply | list[Any]:
    """Cancel a live order by ordId or clOrdId; its frozen funds are released."""
    try:
        body = call.json_object()
    except errors.OkxError:  # a request refused before it is counted still costs one
        await charge_cancel(call.state.order_limiter, call.caller, "?")
        raise
    command = CancelOrder(call.owner, text(body, "instId") or "", text(body, "ordId"),
                          text(body, "clOrdId"), actor=call.actor)
    await charge_cancel(call.state.order_limiter, call.caller,
                  _limited_inst(command.inst_id, call.state.rt.settings.market))
    try:
        order = await asyncio.to_thread(ledger.cancel_order, call.state.rt, command)
    except errors.OkxError as refusal:
        if refusal.error is not errors.CANCEL_FAILED:
            raise
        return Reply(errors.OPERATION_FAILED.code, "", [{
            "clOrdId": command.cl_ord_id or "", "ordId": command.ord_id or "",
            "sCode": refusal.code, "sMsg": refusal.message, "ts": ""}])
    return [{"clOrdId": order.cl_ord_id, "ordId": order.ord_id, "sCode": "0", "sMsg": "",
             "ts": str(order.updated_ms)}]


@table.private("GET", "/api/v5/trade/orders-pending", Permission.READ, Rate(60, 2))
async def orders_pending(call: Call) -> list[Any]:
    """Live orders, newest first."""
    inst_type = call.query.get("instType")
    if inst_type and inst_type != "SPOT":
        return []
    found = await asyncio.to_thread(
        ledger.pending_orders, call.state.rt, call.owner, inst_id=call.query.get("instId") or None,
        ord_type=call.query.get("ordType") or None, limit=limit(call.query))
    return [order_fields(o) for o in found]


@table.private("GET", "/api/v5/trade/order", Permission.READ, Rate(60, 2))
async def order_details(call: Call) -> list[Any]:
    """One order by ordId or clOrdId."""
    order = await asyncio.to_thread(
        ledger.get_order, call.state.rt, call.owner, call.query.get("instId") or "",
        ord_id=call.query.get("ordId") or None, cl_ord_id=call.query.get("clOrdId") or None)
    return [order_fields(order)]
