"""The sandbox ledger: credits, spot orders that freeze funds, withdrawals.

Each action is one transaction: it checks and applies the balance change, writes the
ledger entries and a ``ledger`` change record, so every serving process drops its cached
balances of that account.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.exc import IntegrityError

from keyseal import errors
from keyseal.domain.keys import Environment
from keyseal.domain.money import fmt, parse_amount
from keyseal.domain.orders import OrderRequest, given, parse_order
from keyseal.services.runtime import Runtime, random_digits
from keyseal.store import changes
from keyseal.store import ledger as rows
from keyseal.store.ledger import Balance


@dataclass(frozen=True, slots=True)
class Owner:
    """Whose money: an account in one environment (demo money is separate from live)."""

    account_id: int
    environment: Environment


def _changed(conn: Connection, rt: Runtime, owner: Owner) -> None:
    changes.record(conn, "ledger", rt.now_ms(), account_id=owner.account_id)


def _take(conn: Connection, owner: Owner, ccy: str, amount: Decimal, *, kind: str, ref: str,
          ts_ms: int, refusal: errors.OkxError, freeze: bool = False) -> None:
    """Take ``amount`` of the available balance — freeze it for an order, or spend it — under
    the balance's row lock; refuse, changing nothing, when less is available."""
    held = rows.locked_balance(conn, owner.account_id, owner.environment, ccy)
    if held.available < amount:
        raise refusal
    rows.post(conn, account_id=owner.account_id, environment=owner.environment, ccy=ccy,
              kind=kind, cash_delta=Decimal(0) if freeze else -amount,
              frozen_delta=amount if freeze else Decimal(0), ref=ref, ts_ms=ts_ms)


def credit(rt: Runtime, owner: Owner, ccy: str, amount: str | Decimal) -> Balance:
    """The operator adds funds (a deposit, in sandbox terms)."""
    ccy = ccy.strip().upper()
    if ccy not in rt.settings.market.currencies:
        raise errors.CURRENCY_UNKNOWN(ccy)
    value = parse_amount(str(amount), "amount")
    with rt.db.write() as conn:
        balance = rows.post(conn, account_id=owner.account_id, environment=owner.environment,
                            ccy=ccy, kind="credit", cash_delta=value, frozen_delta=Decimal(0),
                            ref="", ts_ms=rt.now_ms())
        _changed(conn, rt, owner)
    return balance


def balances(rt: Runtime, owner: Owner) -> dict[str, Balance]:
    with rt.db.read() as conn:
        return rows.balances_of(conn, owner.account_id, owner.environment)


# -- orders --------------------------------------------------------------------------------
def _order_ack(ord_id: str, cl_ord_id: str, tag: str, ts: int, error: errors.OkxError | None
               ) -> dict[str, str]:
    return {"clOrdId": cl_ord_id, "ordId": ord_id, "sCode": error.code if error else "0",
            "sMsg": error.message if error else "Order placed", "tag": tag, "ts": str(ts)}


def place_orders(rt: Runtime, owner: Owner, bodies: list[Any]) -> list[dict[str, str]]:
    """Place each order in its own transaction; one order's refusal leaves the others."""
    acks = []
    for body in bodies:
        cl_ord_id = str(given(body, "clOrdId") or "") if isinstance(body, dict) else ""
        tag = str(given(body, "tag") or "") if isinstance(body, dict) else ""
        try:
            request = parse_order(body, rt.settings.market)
            ord_id, ts = _place(rt, owner, request)
            acks.append(_order_ack(ord_id, request.cl_ord_id, request.tag, ts, None))
        except errors.OkxError as refusal:
            acks.append(_order_ack("", cl_ord_id, tag, rt.now_ms(), refusal))
    return acks


def _place(rt: Runtime, owner: Owner, request: OrderRequest) -> tuple[str, int]:
    now = rt.now_ms()
    ord_id = random_digits(18)
    try:
        with rt.db.write() as conn:
            if request.cl_ord_id and rows.live_cl_ord_id_taken(
                    conn, owner.account_id, owner.environment, request.cl_ord_id):
                raise errors.DUPLICATE_CLORDID()
            _take(conn, owner, request.freeze_ccy, request.freeze_amount, kind="order_freeze",
                  ref=ord_id, ts_ms=now, freeze=True,
                  refusal=errors.INSUFFICIENT_BALANCE(request.freeze_ccy))
            rows.insert_order(
                conn, ord_id=ord_id, account_id=owner.account_id,
                environment=owner.environment, inst_id=request.instrument.inst_id,
                cl_ord_id=request.cl_ord_id, tag=request.tag, side=request.side,
                ord_type=request.ord_type, px=fmt(request.px), sz=fmt(request.sz), state="live",
                frozen_ccy=request.freeze_ccy, frozen_amount=fmt(request.freeze_amount),
                created_ms=now, updated_ms=now)
            _changed(conn, rt, owner)
    except IntegrityError:
        raise errors.OPERATION_FAILED(detail="order id collision; retry") from None
    return ord_id, now


def cancel_order(rt: Runtime, owner: Owner, body: Any) -> dict[str, str]:
    if not isinstance(body, dict):
        raise errors.PARAM_ERROR("body")
    inst_id, ord_id, cl_ord_id = given(body, "instId"), given(body, "ordId"), given(body, "clOrdId")
    if inst_id is None:
        raise errors.PARAM_EMPTY("instId")
    if ord_id is None and cl_ord_id is None:
        raise errors.PARAM_EMPTY("ordId")
    now = rt.now_ms()
    with rt.db.write() as conn:
        order = rows.find_order(conn, owner.account_id, owner.environment, str(inst_id),
                                ord_id=ord_id and str(ord_id),
                                cl_ord_id=cl_ord_id and str(cl_ord_id), for_update=True)
        if order is None or order.state != "live":
            raise errors.CANCEL_FAILED()
        rows.post(conn, account_id=owner.account_id, environment=owner.environment,
                  ccy=order.frozen_ccy, kind="order_unfreeze", cash_delta=Decimal(0),
                  frozen_delta=-Decimal(order.frozen_amount), ref=order.ord_id, ts_ms=now)
        rows.set_order_state(conn, order.ord_id, "canceled", now)
        _changed(conn, rt, owner)
    return {"clOrdId": order.cl_ord_id, "ordId": order.ord_id, "sCode": "0", "sMsg": "",
            "ts": str(now)}


def order_to_okx(order: Any) -> dict[str, Any]:
    """An order row in the shape of OKX's ``trade/order`` and ``orders-pending``."""
    return {
        "accFillSz": "0", "algoClOrdId": "", "algoId": "", "attachAlgoClOrdId": "",
        "attachAlgoOrds": [], "avgPx": "", "cTime": str(order.created_ms), "cancelSource": "",
        "cancelSourceReason": "", "category": "normal", "ccy": "", "clOrdId": order.cl_ord_id,
        "fee": "0", "feeCcy": order.inst_id.split("-")[0 if order.side == "buy" else 1],
        "fillPx": "", "fillSz": "0", "fillTime": "", "instId": order.inst_id,
        "instType": "SPOT", "isTpLimit": "false", "lever": "", "linkedAlgoOrd": {"algoId": ""},
        "ordId": order.ord_id, "ordType": order.ord_type, "pnl": "0", "posSide": "net",
        "px": order.px, "pxType": "", "pxUsd": "", "pxVol": "", "quickMgnType": "",
        "rebate": "0", "rebateCcy": order.inst_id.split("-")[1 if order.side == "buy" else 0],
        "reduceOnly": "false", "side": order.side, "slOrdPx": "", "slTriggerPx": "",
        "slTriggerPxType": "", "source": "", "state": order.state, "stpId": "", "stpMode": "",
        "sz": order.sz, "tag": order.tag, "tdMode": "cash", "tgtCcy": "", "tpOrdPx": "",
        "tpTriggerPx": "", "tpTriggerPxType": "", "tradeId": "", "uTime": str(order.updated_ms),
    }


def pending_orders(rt: Runtime, owner: Owner, query: dict[str, str]) -> list[dict[str, Any]]:
    inst_type = query.get("instType")
    if inst_type and inst_type != "SPOT":
        return []
    limit = query.get("limit") or "100"
    if not (limit.isascii() and limit.isdigit() and len(limit) <= 3) or not 1 <= int(limit) <= 100:
        raise errors.PARAM_ERROR("limit")
    with rt.db.read() as conn:
        found = rows.open_orders(conn, owner.account_id, owner.environment,
                                 inst_id=query.get("instId") or None,
                                 ord_type=query.get("ordType") or None, limit=int(limit))
    return [order_to_okx(o) for o in found]


def get_order(rt: Runtime, owner: Owner, query: dict[str, str]) -> dict[str, Any]:
    inst_id = query.get("instId")
    if not inst_id:
        raise errors.PARAM_EMPTY("instId")
    ord_id, cl_ord_id = query.get("ordId") or None, query.get("clOrdId") or None
    if ord_id is None and cl_ord_id is None:
        raise errors.PARAM_EMPTY("ordId")
    with rt.db.read() as conn:
        order = rows.find_order(conn, owner.account_id, owner.environment, inst_id,
                                ord_id=ord_id, cl_ord_id=cl_ord_id)
    if order is None:
        raise errors.ORDER_NOT_FOUND()
    return order_to_okx(order)


# -- withdrawals ---------------------------------------------------------------------------
def withdraw(rt: Runtime, owner: Owner, body: Any) -> dict[str, str]:
    """Debit amount + chain fee from the available balance and record the withdrawal."""
    if owner.environment is Environment.DEMO:
        raise errors.DEMO_UNAVAILABLE()
    if not isinstance(body, dict):
        raise errors.PARAM_ERROR("body")
    for field in ("ccy", "amt", "dest", "toAddr"):
        if given(body, field) is None:
            raise errors.PARAM_EMPTY(field)
    ccy = str(body["ccy"]).upper()
    currency = rt.settings.market.currencies.get(ccy)
    if currency is None:
        raise errors.CURRENCY_UNKNOWN(ccy)
    amount = parse_amount(body["amt"], "amt")
    dest = str(body["dest"])
    if dest not in ("3", "4"):
        raise errors.PARAM_ERROR("dest")
    chain = currency.chain(given(body, "chain"))
    if chain is None:
        raise errors.PARAM_ERROR("chain")
    to_addr = str(body["toAddr"])
    if not 1 <= len(to_addr) <= 256 or not to_addr.isprintable():
        raise errors.PARAM_ERROR("toAddr")
    if amount < chain.min_wd:
        raise errors.PARAM_ERROR("amt", detail=f"the minimum withdrawal is {chain.min_wd}")
    client_id = str(given(body, "clientId") or "")
    fee = chain.fee if dest == "4" else Decimal(0)
    total = amount + fee
    wd_id = random_digits(10)
    now = rt.now_ms()
    with rt.db.write() as conn:
        _take(conn, owner, ccy, total, kind="withdrawal", ref=wd_id, ts_ms=now,
              refusal=errors.WITHDRAW_INSUFFICIENT())
        rows.insert_withdrawal(conn, wd_id=wd_id, account_id=owner.account_id, ccy=ccy,
                               chain=chain.name, amount=fmt(amount), fee=fmt(fee),
                               to_addr=to_addr, dest=dest, client_id=client_id,
                               state="pending", ts_ms=now)
        _changed(conn, rt, owner)
    return {"amt": fmt(amount), "wdId": wd_id, "ccy": ccy, "clientId": client_id,
            "chain": chain.name}


def transfer(rt: Runtime, source: Owner, target: Owner, ccy: str, amount: Decimal) -> str:
    """Move available funds between two accounts of one master, in one transaction."""
    ccy = ccy.upper()
    if ccy not in rt.settings.market.currencies:
        raise errors.CURRENCY_UNKNOWN(ccy)
    trans_id = random_digits(9)
    now = rt.now_ms()
    with rt.db.write() as conn:
        _take(conn, source, ccy, amount, kind="transfer", ref=trans_id, ts_ms=now,
              refusal=errors.WITHDRAW_INSUFFICIENT())
        rows.post(conn, account_id=target.account_id, environment=target.environment, ccy=ccy,
                  kind="transfer", cash_delta=amount, frozen_delta=Decimal(0), ref=trans_id,
                  ts_ms=now)
        _changed(conn, rt, source)
        _changed(conn, rt, target)
    return trans_id
