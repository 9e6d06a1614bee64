"""The ledger is exact for every amount it accepts (up to 18 digits before and 18 after the
decimal point), on SQLite and PostgreSQL; a balance that would outgrow what it keeps exactly
is refused with 70015, changing nothing."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import text

from keyseal import errors
from keyseal.domain.actors import Actor
from keyseal.domain.commands import (
    CancelOrder,
    CreateKey,
    CreateSubAccount,
    Credit,
    Owner,
    PlaceOrder,
    TransferBetweenSubs,
)
from keyseal.domain.keys import Environment
from keyseal.domain.ledger import MAX_BALANCE_DIGITS
from keyseal.domain.market import default_market
from keyseal.domain.money import MAX_DECIMALS, fmt
from keyseal.domain.orders import new_order
from keyseal.services import accounts as account_service
from keyseal.services import keys as key_service
from keyseal.services import ledger
from keyseal.services.runtime import Runtime
from keyseal.store.tables import balances, ledger_entries
from tests.conftest import PASSPHRASE, make_account

TINY = "0.000000000000000001"  # 1e-18, the finest amount accepted
WIDEST = "999999999999999999.999999999999999999"  # the widest amount accepted


def _owner(rt: Runtime, email: str) -> Owner:
    return Owner(account_service.account_by_email(rt, email).id, Environment.LIVE)


def _cash(rt: Runtime, email: str, ccy: str = "USDT") -> str:
    return fmt(ledger.balances(rt, _owner(rt, email))[ccy].cash)


def test_a_tiny_credit_survives_a_large_one(rt: Runtime) -> None:
    email = make_account(rt)
    ledger.credit(rt, Credit(email, "USDT", TINY))
    ledger.credit(rt, Credit(email, "USDT", "99999999999999999"))
    assert _cash(rt, email) == "99999999999999999.000000000000000001"


def test_the_widest_amounts_add_up_exactly_and_every_entry_is_kept_exactly(rt: Runtime) -> None:
    email = make_account(rt)
    for _ in range(3):
        ledger.credit(rt, Credit(email, "USDT", WIDEST))
    assert _cash(rt, email) == "2999999999999999999.999999999999999997"
    with rt.db.read() as conn:
        deltas = conn.execute(text("SELECT cash_delta FROM ledger_entries")).scalars().all()
    assert deltas == [WIDEST] * 3


def test_a_freeze_and_its_release_are_exact(rt: Runtime) -> None:
    email = make_account(rt)
    owner = _owner(rt, email)
    ledger.credit(rt, Credit(email, "BTC", WIDEST))
    ledger.credit(rt, Credit(email, "BTC", WIDEST))
    # 30 significant digits: a 28-digit context rounds the price times the size
    order = new_order(default_market(), inst_id="ETH-BTC", td_mode="cash", side="buy",
                      ord_type="limit", px="99999.99999", sz="12345678901234.123456")
    placed = ledger.place_order(rt, PlaceOrder(owner, order))
    assert placed.frozen_amount == "1234567889999955556.58765876544"
    btc = ledger.balances(rt, owner)["BTC"]
    assert (fmt(btc.available), fmt(btc.frozen)) == (
        "765432110000044443.412341234559999998", "1234567889999955556.58765876544")
    ledger.cancel_order(rt, CancelOrder(owner, "ETH-BTC", ord_id=placed.ord_id))
    btc = ledger.balances(rt, owner)["BTC"]
    assert (fmt(btc.available), fmt(btc.frozen)) == ("1999999999999999999.999999999999999998", "0")


def test_a_transfer_moves_exactly_what_was_asked(rt: Runtime) -> None:
    email = make_account(rt)
    for name in ("alpha01", "bravo02"):
        account_service.create_sub_account(rt, CreateSubAccount(email, name))
    ledger.credit(rt, Credit(email, "USDT", "99999999999999999", sub="alpha01"))
    ledger.credit(rt, Credit(email, "USDT", TINY, sub="alpha01"))
    master = account_service.account_by_email(rt, email)
    admin = key_service.create_key(rt, CreateKey(email, label="admin", passphrase=PASSPHRASE,
                                                 perm="read_only,trade", ip="10.0.0.1",
                                                 sub_account_access=True))
    actor = Actor.api(admin.key.api_key, master.id, Environment.LIVE, None)
    ledger.transfer_between_subs(rt, TransferBetweenSubs(
        actor, "USDT", Decimal("99999999999999998.999999999999999999"), "alpha01", "bravo02"))
    subs = {s.sub_name: s for s in account_service.sub_accounts(rt, master)}
    left = ledger.balances(rt, Owner(subs["alpha01"].id, Environment.LIVE))["USDT"].cash
    assert fmt(left) == "0.000000000000000002"


def test_a_balance_beyond_what_the_ledger_keeps_is_refused_70015(rt: Runtime) -> None:
    email = make_account(rt, credit={"USDT": "1"})
    owner = _owner(rt, email)
    edge = "9" * MAX_BALANCE_DIGITS
    with rt.db.write() as conn:
        conn.execute(balances.update().values(cash=edge))
    with pytest.raises(errors.OkxError) as refused:
        ledger.credit(rt, Credit(email, "USDT", "1"))
    assert refused.value.code == "70015" and str(MAX_BALANCE_DIGITS) in refused.value.message
    assert _cash(rt, email) == edge  # unchanged
    with rt.db.read() as conn:
        assert conn.execute(text("SELECT count(*) FROM ledger_entries")).scalar_one() == 1
    ledger.credit(rt, Credit(email, "USDT", TINY))  # more decimals still fit
    assert ledger.balances(rt, owner)["USDT"].cash == Decimal(edge + "." + TINY[2:])


def test_the_widest_balance_fits_its_column() -> None:
    widest = "-" + "9" * MAX_BALANCE_DIGITS + "." + "9" * (2 * MAX_DECIMALS)
    for column in (balances.c.cash, balances.c.frozen, ledger_entries.c.cash_delta):
        assert len(widest) <= column.type.length  # type: ignore[attr-defined]
