"""The sandbox ledger: credits, spot orders that freeze funds, withdrawals, transfers.

Each use case is one transaction: it checks and applies the balance change, writes the
ledger entries and a balance change record, so every serving process drops its cached
balances of that account.
"""

from __future__ import annotations

from dataclasses import asdict, replace
from decimal import Decimal

from sqlalchemy import Connection
from sqlalchemy.exc import IntegrityError

from keyseal import errors
from keyseal.domain.commands import (
    CancelOrder,
    Credit,
    Owner,
    PlaceOrder,
    TransferBetweenSubs,
    Withdraw,
)
from keyseal.domain.keys import Environment
from keyseal.domain.ledger import Balance, Withdrawal
from keyseal.domain.money import add, fmt, negate, parse_amount
from keyseal.domain.orders import Order
from keyseal.domain.permissions import Permission
from keyseal.services import accounts as account_service
from keyseal.services.runtime import Runtime, random_digits
from keyseal.services.unit_of_work import Work, unit_of_work
from keyseal.store import accounts as account_rows
from keyseal.store import ledger as rows


def _changed(work: Work, owner: Owner) -> None:
    work.balance_changed(owner.account_id)


def _take(conn: Connection, owner: Owner, ccy: str, amount: Decimal, *, kind: str, ref: str,
          ts_ms: int, refusal: errors.OkxError, freeze: bool = False) -> None:
    """Take ``amount`` of the available balance — freeze it for an order, or spend it — under
    the balance's row lock; refuse, changing nothing, when less is available."""
    held = rows.locked_balance(conn, owner.account_id, owner.environment, ccy)
    if held.available < amount:
        raise refusal
    rows.post(conn, account_id=owner.account_id, environment=owner.environment, ccy=ccy,
              kind=kind, cash_delta=Decimal(0) if freeze else negate(amount),
              frozen_delta=amount if freeze else Decimal(0), ref=ref, ts_ms=ts_ms)


def _currency(rt: Runtime, ccy: str) -> str:
    ccy = ccy.strip().upper()
    if ccy not in rt.settings.market.currencies:
        raise errors.CURRENCY_UNKNOWN(ccy)
    return ccy


def credit(rt: Runtime, cmd: Credit) -> Balance:
    """The operator adds funds (a deposit, in sandbox terms)."""
    ccy = _currency(rt, cmd.ccy)
    value = parse_amount(str(cmd.amount), "amount")
    with unit_of_work(rt) as work:
        account = account_service.by_email(work.conn, cmd.account)
        if cmd.sub is not None:
            account = account_service.sub_of(work.conn, account, cmd.sub)
        owner = Owner(account.id, cmd.environment)
        balance = rows.post(work.conn, account_id=owner.account_id,
                            environment=owner.environment, ccy=ccy, kind="credit",
                            cash_delta=value, frozen_delta=Decimal(0), ref="",
                            ts_ms=rt.now_ms())
        _changed(work, owner)
        work.audit(cmd.actor, "ledger_credited", account_id=account.id, ccy=ccy,
                   amount=fmt(value), environment=cmd.environment.value)
    return balance


def balances(rt: Runtime, owner: Owner) -> dict[str, Balance]:
    with rt.db.read() as conn:
        return rows.balances_of(conn, owner.account_id, owner.environment)


def balances_of_account(rt: Runtime, email: str, *, sub: str | None = None,
                        environment: Environment = Environment.LIVE) -> dict[str, Balance]:
    """The balances of the account with this email (or of its sub-account ``sub``), for the
    operator; 50008 / 59510 when there is no such account."""
    with rt.db.read() as conn:
        account = account_service.by_email(conn, email)
        if sub is not None:
            account = account_service.sub_of(conn, account, sub)
        return rows.balances_of(conn, account.id, environment)


# -- orders --------------------------------------------------------------------------------
def place_order(rt: Runtime, cmd: PlaceOrder) -> Order:
    """Freeze what the order could spend and rest it as ``live``, in one transaction."""
    owner, request = cmd.owner, cmd.order
    now = rt.now_ms()
    ord_id = random_digits(18)
    try:
        with unit_of_work(rt) as work:
            conn = work.conn
            account_rows.lock(conn, owner.account_id)  # the clOrdId check holds until commit
            work.authorize_key(cmd.actor, Permission.TRADE)
            if request.cl_ord_id and rows.live_cl_ord_id_taken(
                    conn, owner.account_id, owner.environment, request.cl_ord_id):
                raise errors.DUPLICATE_CLORDID()
            _take(conn, owner, request.freeze_ccy, request.freeze_amount, kind="order_freeze",
                  ref=ord_id, ts_ms=now, freeze=True,
                  refusal=errors.INSUFFICIENT_BALANCE(request.freeze_ccy))
            order = Order(ord_id=ord_id, inst_id=request.instrument.inst_id,
                          cl_ord_id=request.cl_ord_id, tag=request.tag, side=request.side,
                          ord_type=request.ord_type, px=fmt(request.px), sz=fmt(request.sz),
                          state="live", frozen_ccy=request.freeze_ccy,
                          frozen_amount=fmt(request.freeze_amount), created_ms=now,
                          updated_ms=now)
            rows.insert_order(conn, account_id=owner.account_id,
                              environment=owner.environment, **asdict(order))
            _changed(work, owner)
    except IntegrityError:
        raise errors.OPERATION_FAILED(detail="order id collision; retry") from None
    return order


def cancel_order(rt: Runtime, cmd: CancelOrder) -> Order:
    """Cancel a live order by ordId or clOrdId; its frozen funds are released."""
    owner = cmd.owner
    if not cmd.inst_id:
        raise errors.PARAM_EMPTY("instId")
    if not cmd.ord_id and not cmd.cl_ord_id:
        raise errors.PARAM_EMPTY("ordId")
    now = rt.now_ms()
    with unit_of_work(rt) as work:
        work.authorize_key(cmd.actor, Permission.TRADE)
        order = rows.find_order(work.conn, owner.account_id, owner.environment, cmd.inst_id,
                                ord_id=cmd.ord_id, cl_ord_id=cmd.cl_ord_id, for_update=True)
        if order is None or order.state != "live":
            raise errors.CANCEL_FAILED()
        rows.post(work.conn, account_id=owner.account_id, environment=owner.environment,
                  ccy=order.frozen_ccy, kind="order_unfreeze", cash_delta=Decimal(0),
                  frozen_delta=negate(Decimal(order.frozen_amount)), ref=order.ord_id,
                  ts_ms=now)
        rows.set_order_state(work.conn, order.ord_id, "canceled", now)
        _changed(work, owner)
    return replace(order, state="canceled", updated_ms=now)


def pending_orders(rt: Runtime, owner: Owner, *, inst_id: str | None = None,
                   ord_type: str | None = None, limit: int = 100) -> list[Order]:
    """Live orders, newest first."""
    with rt.db.read() as conn:
        return rows.open_orders(conn, owner.account_id, owner.environment, inst_id=inst_id,
                                ord_type=ord_type, limit=limit)


def get_order(rt: Runtime, owner: Owner, inst_id: str, *, ord_id: str | None = None,
              cl_ord_id: str | None = None) -> Order:
    if not inst_id:
        raise errors.PARAM_EMPTY("instId")
    if ord_id is None and cl_ord_id is None:
        raise errors.PARAM_EMPTY("ordId")
    with rt.db.read() as conn:
        order = rows.find_order(conn, owner.account_id, owner.environment, inst_id,
                                ord_id=ord_id, cl_ord_id=cl_ord_id)
    if order is None:
        raise errors.ORDER_NOT_FOUND()
    return order


# -- withdrawals and transfers -------------------------------------------------------------
def withdraw(rt: Runtime, cmd: Withdraw) -> Withdrawal:
    """Debit amount + chain fee from the available balance and record the withdrawal."""
    owner = cmd.owner
    if owner.environment is Environment.DEMO:
        raise errors.DEMO_UNAVAILABLE()
    ccy = cmd.ccy.upper()
    currency = rt.settings.market.currencies.get(ccy)
    if currency is None:
        raise errors.CURRENCY_UNKNOWN(ccy)
    if cmd.dest not in ("3", "4"):
        raise errors.PARAM_ERROR("dest")
    chain = currency.chain(cmd.chain)
    if chain is None:
        raise errors.PARAM_ERROR("chain")
    if not 1 <= len(cmd.to_addr) <= 256 or not cmd.to_addr.isprintable():
        raise errors.PARAM_ERROR("toAddr")
    if cmd.amount < chain.min_wd:
        raise errors.PARAM_ERROR("amt", detail=f"the minimum withdrawal is {chain.min_wd}")
    fee = chain.fee if cmd.dest == "4" else Decimal(0)
    wd_id = random_digits(10)
    now = rt.now_ms()
    with unit_of_work(rt) as work:
        work.authorize_key(cmd.actor, Permission.WITHDRAW)
        _take(work.conn, owner, ccy, add(cmd.amount, fee), kind="withdrawal", ref=wd_id, ts_ms=now,
              refusal=errors.WITHDRAW_INSUFFICIENT())
        rows.insert_withdrawal(work.conn, wd_id=wd_id, account_id=owner.account_id, ccy=ccy,
                               chain=chain.name, amount=fmt(cmd.amount), fee=fmt(fee),
                               to_addr=cmd.to_addr, dest=cmd.dest, client_id=cmd.client_id,
                               state="pending", ts_ms=now)
        _changed(work, owner)
        work.audit(cmd.actor, "withdrawal_requested", account_id=owner.account_id, ccy=ccy,
                   amount=fmt(cmd.amount), fee=fmt(fee), chain=chain.name,
                   to_addr=cmd.to_addr, wd_id=wd_id)
    return Withdrawal(wd_id, ccy, chain.name, cmd.amount, fee, cmd.client_id)


def transfer_between_subs(rt: Runtime, cmd: TransferBetweenSubs) -> str:
    """Move available funds between two sub-accounts of the acting master, in one
    transaction; returns the transfer id."""
    ccy = _currency(rt, cmd.ccy)
    environment = cmd.actor.environment or Environment.LIVE
    trans_id = random_digits(9)
    now = rt.now_ms()
    with unit_of_work(rt) as work:
        work.authorize_key(cmd.actor, Permission.TRADE, manages_subs=True)
        master = account_service.acting_master(work.conn, cmd.actor)
        source = account_service.sub_of(work.conn, master, cmd.from_sub)
        target = account_service.sub_of(work.conn, master, cmd.to_sub)
        if source.id == target.id:
            raise errors.PARAM_ERROR("toSubAccount", detail="the same sub-account")
        _take(work.conn, Owner(source.id, environment), ccy, cmd.amount, kind="transfer",
              ref=trans_id, ts_ms=now, refusal=errors.WITHDRAW_INSUFFICIENT())
        rows.post(work.conn, account_id=target.id, environment=environment, ccy=ccy,
                  kind="transfer", cash_delta=cmd.amount, frozen_delta=Decimal(0),
                  ref=trans_id, ts_ms=now)
        _changed(work, Owner(source.id, environment))
        _changed(work, Owner(target.id, environment))
        work.audit(cmd.actor, "ledger_transferred", account_id=master.id, ccy=ccy,
                   amount=fmt(cmd.amount), from_sub=source.sub_name, to_sub=target.sub_name,
                   environment=environment.value, trans_id=trans_id)
    return trans_id
