"""Balances, ledger entries, orders and withdrawals.

Every balance change is a row in ``ledger_entries`` plus an update of the running balance,
in the caller's transaction: the entries explain every balance, the balance row is what is
read on the hot path.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, and_, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from keyseal.domain.ledger import Balance
from keyseal.domain.money import ZERO, fmt
from keyseal.domain.orders import Order
from keyseal.store.tables import balances, ledger_entries, orders, withdrawals


def balances_of(conn: Connection, account_id: int, environment: str) -> dict[str, Balance]:
    rows = conn.execute(select(balances).where(and_(
        balances.c.account_id == account_id, balances.c.environment == environment)))
    return {r.ccy: Balance(r.ccy, Decimal(r.cash), Decimal(r.frozen), r.updated_ms) for r in rows}


def _where(account_id: int, environment: str, ccy: str) -> Any:
    return and_(balances.c.account_id == account_id, balances.c.environment == environment,
                balances.c.ccy == ccy)


def locked_balance(conn: Connection, account_id: int, environment: str, ccy: str) -> Balance:
    """The balance, locked for the rest of the transaction (SQLite: the whole DB already is)."""
    query = select(balances).where(_where(account_id, environment, ccy))
    if conn.dialect.name == "postgresql":
        query = query.with_for_update()
    row = conn.execute(query).first()
    if row is None:
        return Balance(ccy, ZERO, ZERO, 0)
    return Balance(ccy, Decimal(row.cash), Decimal(row.frozen), row.updated_ms)


def _ensure_row(conn: Connection, account_id: int, environment: str, ccy: str) -> None:
    dialect_insert = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
    conn.execute(dialect_insert(balances).values(
        account_id=account_id, environment=environment, ccy=ccy, cash="0", frozen="0",
        updated_ms=0).on_conflict_do_nothing())


def post(conn: Connection, *, account_id: int, environment: str, ccy: str, kind: str,
         cash_delta: Decimal, frozen_delta: Decimal, ref: str, ts_ms: int) -> Balance:
    """Apply one entry to the running balance; the caller has checked that it may."""
    _ensure_row(conn, account_id, environment, ccy)
    after = locked_balance(conn, account_id, environment, ccy).moved(cash_delta, frozen_delta,
                                                                     ts_ms)
    conn.execute(update(balances).where(_where(account_id, environment, ccy))
                 .values(cash=fmt(after.cash), frozen=fmt(after.frozen), updated_ms=ts_ms))
    conn.execute(insert(ledger_entries).values(
        account_id=account_id, environment=environment, ccy=ccy, kind=kind,
        cash_delta=fmt(cash_delta), frozen_delta=fmt(frozen_delta), ref=ref, ts_ms=ts_ms))
    return after


# -- orders --------------------------------------------------------------------------------
def insert_order(conn: Connection, **values: Any) -> None:
    conn.execute(insert(orders).values(**values))


def find_order(conn: Connection, account_id: int, environment: str, inst_id: str, *,
               ord_id: str | None = None, cl_ord_id: str | None = None,
               for_update: bool = False) -> Order | None:
    query = select(orders).where(and_(
        orders.c.account_id == account_id, orders.c.environment == environment,
        orders.c.inst_id == inst_id))
    if ord_id:
        query = query.where(orders.c.ord_id == ord_id)
    elif cl_ord_id:
        query = query.where(orders.c.cl_ord_id == cl_ord_id).order_by(orders.c.created_ms.desc())
    else:
        return None
    if for_update and conn.dialect.name == "postgresql":
        query = query.with_for_update()
    row = conn.execute(query).first()
    return None if row is None else _order(row)


def _order(row: Any) -> Order:
    return Order(ord_id=row.ord_id, inst_id=row.inst_id, cl_ord_id=row.cl_ord_id, tag=row.tag,
                 side=row.side, ord_type=row.ord_type, px=row.px, sz=row.sz, state=row.state,
                 frozen_ccy=row.frozen_ccy, frozen_amount=row.frozen_amount,
                 created_ms=row.created_ms, updated_ms=row.updated_ms)


def live_cl_ord_id_taken(conn: Connection, account_id: int, environment: str,
                         cl_ord_id: str) -> bool:
    return conn.execute(select(orders.c.ord_id).where(and_(
        orders.c.account_id == account_id, orders.c.environment == environment,
        orders.c.cl_ord_id == cl_ord_id, orders.c.state == "live"))).first() is not None


def set_order_state(conn: Connection, ord_id: str, state: str, ts_ms: int) -> None:
    conn.execute(update(orders).where(orders.c.ord_id == ord_id)
                 .values(state=state, updated_ms=ts_ms))


def open_orders(conn: Connection, account_id: int, environment: str, *,
                inst_id: str | None = None, ord_type: str | None = None,
                limit: int = 100) -> list[Order]:
    query = select(orders).where(and_(
        orders.c.account_id == account_id, orders.c.environment == environment,
        orders.c.state == "live"))
    if inst_id:
        query = query.where(orders.c.inst_id == inst_id)
    if ord_type:
        query = query.where(orders.c.ord_type == ord_type)
    return [_order(r) for r in conn.execute(query.order_by(orders.c.created_ms.desc()).limit(limit))]


# -- withdrawals ---------------------------------------------------------------------------
def insert_withdrawal(conn: Connection, **values: Any) -> None:
    conn.execute(insert(withdrawals).values(**values))


def withdrawals_of(conn: Connection, account_id: int) -> list[Any]:
    return list(conn.execute(select(withdrawals).where(withdrawals.c.account_id == account_id)
                             .order_by(withdrawals.c.ts_ms.desc())))
