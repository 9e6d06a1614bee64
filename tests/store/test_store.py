"""The store through the services, on SQLite and on PostgreSQL."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select, text

from keyseal import errors
from keyseal.domain.commands import (
    CancelOrder,
    CreateKey,
    Credit,
    DeleteKey,
    Owner,
    PlaceOrder,
    SetKeyStatus,
    Withdraw,
)
from keyseal.domain.keys import Environment, KeyStatus
from keyseal.domain.market import default_market
from keyseal.domain.orders import OrderRequest, new_order
from keyseal.services import accounts as account_service
from keyseal.services import keys as key_service
from keyseal.services import ledger, master_keys
from keyseal.services.runtime import Runtime
from keyseal.store import changes
from keyseal.store import keys as key_rows
from keyseal.store.tables import api_keys
from tests.conftest import PASSPHRASE, make_account, make_key


def _owner(rt: Runtime, email: str, env: Environment = Environment.LIVE) -> Owner:
    return Owner(account_service.account_by_email(rt, email).id, env)


def _order(**fields: Any) -> OrderRequest:
    values = {"inst_id": "BTC-USDT", "td_mode": "cash", "side": "buy", "ord_type": "limit",
              "sz": "0.01", "px": "50000", "cl_ord_id": "mine1", **fields}
    return new_order(default_market(), **values)


def _place(rt: Runtime, owner: Owner, request: OrderRequest) -> str:
    """The code of placing ``request``: "0" or the refusal's."""
    try:
        ledger.place_order(rt, PlaceOrder(owner, request))
    except errors.OkxError as refusal:
        return refusal.code
    return "0"


def test_migrations_are_idempotent_and_reach_the_newest(rt: Runtime) -> None:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    from keyseal.store.database import MIGRATIONS

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    head = ScriptDirectory.from_config(config).get_current_head()
    rt.db.migrate()
    with rt.db.read() as conn:
        assert conn.execute(text("select version_num from alembic_version")).scalar_one() == head


def test_a_copy_of_the_database_holds_no_usable_secret_or_passphrase(rt: Runtime) -> None:
    key = make_key(rt, perm="read_only,trade")
    with rt.db.read() as conn:
        row = conn.execute(select(api_keys)).one()
    dumped = repr(tuple(row)).encode()
    assert key["secretKey"].encode() not in dumped and PASSPHRASE.encode() not in dumped
    assert key["secretKey"].encode() not in row.secret_sealed
    assert row.passphrase_hash.startswith("$argon2id$")
    opened = key_service.load_entry(rt, key["apiKey"])
    assert opened is not None and opened.secret == key["secretKey"].encode()


def test_key_creation_rules(rt: Runtime) -> None:
    email = make_account(rt)
    make_key(rt, email, label="bot1")
    with pytest.raises(errors.OkxError) as taken:
        make_key(rt, email, label="bot1")
    assert taken.value.code == "59502"
    with pytest.raises(errors.OkxError) as bad_passphrase:
        key_service.create_key(rt, CreateKey(email, label="bot2", passphrase="weak", perm="read_only"))
    assert bad_passphrase.value.code == "59505"
    assert [k.label for k in key_service.list_keys(rt, email)] == ["bot1"]  # nothing half-made


def test_fifty_keys_per_account(rt: Runtime, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("keyseal.services.keys.MAX_KEYS_PER_ACCOUNT", 3)
    email = make_account(rt)
    for _ in range(3):
        make_key(rt, email)
    with pytest.raises(errors.OkxError) as refused:
        make_key(rt, email)
    assert refused.value.code == "59501" and "3" in refused.value.message


def test_status_changes_and_deletion_write_the_change_log(rt: Runtime) -> None:
    key = make_key(rt)
    with rt.db.read() as conn:
        start = changes.latest_id(conn)
    assert key_service.set_key_status(rt, SetKeyStatus(key["apiKey"], KeyStatus.DISABLED)).status is KeyStatus.DISABLED
    key_service.set_key_status(rt, SetKeyStatus(key["apiKey"], KeyStatus.ENABLED))
    key_service.delete_key(rt, DeleteKey(key["apiKey"]))
    with rt.db.read() as conn:
        kinds = [(c.kind, c.api_key) for c in changes.since(conn, start)]
    assert kinds == [("disabled", key["apiKey"]), ("enabled", key["apiKey"]),
                     ("deleted", key["apiKey"])]
    with pytest.raises(errors.OkxError) as gone:
        key_service.delete_key(rt, DeleteKey(key["apiKey"]))
    assert gone.value.code == "59506"


def test_usage_batches_never_move_last_use_backwards(rt: Runtime) -> None:
    key = make_key(rt)
    with rt.db.write() as conn:
        key_rows.record_usage(conn, [(key["apiKey"], 2000, "1.1.1.1")], idle_ms=1000)
    with rt.db.write() as conn:
        key_rows.record_usage(conn, [(key["apiKey"], 1000, "2.2.2.2")], idle_ms=1000)
    found = key_service.get_key(rt, key["apiKey"])
    assert (found.last_used_ms, found.last_used_ip) == (2000, "1.1.1.1")


def test_orders_freeze_and_cancel_releases(rt: Runtime) -> None:
    email = make_account(rt, credit={"USDT": "1000"})
    owner = _owner(rt, email)
    placed = ledger.place_order(rt, PlaceOrder(owner, _order()))
    usdt = ledger.balances(rt, owner)["USDT"]
    assert (usdt.cash, usdt.frozen, usdt.available) == (1000, 500, 500)
    assert _place(rt, owner, _order()) == "51016"
    assert _place(rt, owner, _order(cl_ord_id="", sz="0.02")) == "51008"
    assert ledger.balances(rt, owner)["USDT"].frozen == 500  # refusals changed nothing
    pending = ledger.pending_orders(rt, owner)
    assert [(o.ord_id, o.state, o.px, o.sz) for o in pending] == [
        (placed.ord_id, "live", "50000", "0.01")]
    ledger.cancel_order(rt, CancelOrder(owner, "BTC-USDT", cl_ord_id="mine1"))
    assert ledger.balances(rt, owner)["USDT"].available == 1000
    assert ledger.get_order(rt, owner, "BTC-USDT", ord_id=placed.ord_id).state == "canceled"
    with pytest.raises(errors.OkxError) as again:
        ledger.cancel_order(rt, CancelOrder(owner, "BTC-USDT", ord_id=placed.ord_id))
    assert again.value.code == "51400"


def test_demo_and_live_money_are_separate(rt: Runtime) -> None:
    email = make_account(rt, credit={"BTC": "1"})
    demo = _owner(rt, email, Environment.DEMO)
    assert ledger.balances(rt, demo) == {}
    ledger.credit(rt, Credit(email, "BTC", "2", environment=Environment.DEMO))
    assert ledger.balances(rt, demo)["BTC"].cash == 2
    assert ledger.balances(rt, _owner(rt, email))["BTC"].cash == 1


def test_withdrawal_debits_amount_and_fee_or_changes_nothing(rt: Runtime) -> None:
    email = make_account(rt, credit={"BTC": "1"})
    owner = _owner(rt, email)
    done = ledger.withdraw(rt, Withdraw(owner, "BTC", Decimal("0.5"), "4", "bc1qexample",
                                        chain="BTC-Bitcoin"))
    assert done.chain == "BTC-Bitcoin" and done.wd_id
    assert ledger.balances(rt, owner)["BTC"].cash == Decimal("0.4999")
    with pytest.raises(errors.OkxError) as short:
        ledger.withdraw(rt, Withdraw(owner, "BTC", Decimal("0.4999"), "4", "x"))
    assert short.value.code == "58350"
    assert ledger.balances(rt, owner)["BTC"].cash == Decimal("0.4999")
    with pytest.raises(errors.OkxError) as demo:
        ledger.withdraw(rt, Withdraw(_owner(rt, email, Environment.DEMO), "BTC", Decimal(1), "4", "x"))
    assert demo.value.code == "50038"


def test_reseal_moves_every_secret_to_the_new_master_key(rt: Runtime) -> None:
    key = make_key(rt)
    rt.keyring = rt.keyring.with_new_version()
    assert master_keys.reseal_all(rt) == 1
    assert master_keys.reseal_all(rt) == 0
    entry = key_service.load_entry(rt, key["apiKey"])
    assert entry is not None and entry.secret == key["secretKey"].encode()
    with rt.db.read() as conn:
        sealed = conn.execute(select(api_keys.c.secret_sealed)).scalar_one()
    assert rt.keyring.version_of(sealed) == 2
