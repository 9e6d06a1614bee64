"""Use cases as one transaction each: many sweepers report a key once; second factors are
needed to re-enrol and are throttled like passwords. On SQLite and PostgreSQL."""

from __future__ import annotations

import contextlib
import threading
from decimal import Decimal
from pathlib import Path

import pyotp
import pytest
from sqlalchemy import func, select

from keyseal import errors
from keyseal.clock import ManualClock
from keyseal.domain.actors import Actor
from keyseal.domain.commands import (
    ConfirmTwoFactor,
    CreateKey,
    EditKey,
    EnrollTwoFactor,
    Owner,
    PlaceOrder,
    RegenerateKey,
    SetKeyStatus,
    SweepIdleKeys,
    Withdraw,
)
from keyseal.domain.expiry import DAY_MS
from keyseal.domain.keys import Environment, KeyStatus
from keyseal.http.okx.trade import order_from_wire
from keyseal.services import accounts as account_service
from keyseal.services import audit, ledger
from keyseal.services import keys as key_service
from keyseal.services.runtime import Runtime, open_runtime
from keyseal.settings import Settings
from keyseal.store import ledger as ledger_rows
from keyseal.store.tables import key_changes
from tests.conftest import PASSPHRASE, make_account, make_key


def test_many_sweepers_report_each_expired_key_once(rt: Runtime, tmp_path: Path,
                                                    clock: ManualClock) -> None:
    email = make_account(rt)
    made = {make_key(rt, email, label=f"idle{i}")["apiKey"] for i in range(40)}
    sweepers = [open_runtime(Settings(home=tmp_path / "home", db_url=rt.settings.db_url),
                             clock=clock) for _ in range(4)]
    as_of = int(clock() * 1000) + 31 * DAY_MS
    start = threading.Barrier(len(sweepers))
    swept: list[list[str]] = []

    def sweep(other: Runtime) -> None:
        start.wait()
        found = key_service.sweep(other, SweepIdleKeys(as_of_ms=as_of, batch=10))
        swept.append([k.api_key for k in found])

    threads = [threading.Thread(target=sweep, args=(s,)) for s in sweepers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for other in sweepers:
        other.close()
    reported = [api_key for found in swept for api_key in found]
    assert sorted(reported) == sorted(made)  # every key once, by whichever sweeper removed it
    expired_events = [e for e in audit.events(rt, limit=10_000) if e.event == "key_expired"]
    assert len(expired_events) == len(made)
    with rt.db.read() as conn:
        rows = conn.execute(select(func.count()).select_from(key_changes)
                            .where(key_changes.c.kind == "expired")).scalar_one()
    assert rows == len(made)


def _enrolled(rt: Runtime, clock: ManualClock) -> tuple[str, pyotp.TOTP]:
    email = make_account(rt)
    enrolment = account_service.enroll_2fa(rt, EnrollTwoFactor(email))
    totp = pyotp.TOTP(enrolment.secret)
    account_service.confirm_2fa(rt, ConfirmTwoFactor(email, totp.at(clock())))
    clock.advance(30)
    return email, totp


def test_enrolling_again_while_2fa_is_on_needs_the_current_code(rt: Runtime,
                                                              clock: ManualClock) -> None:
    email, totp = _enrolled(rt, clock)
    for code, refusal in ((None, "70003"), ("123456", "70004")):
        with pytest.raises(errors.OkxError) as refused:
            account_service.enroll_2fa(rt, EnrollTwoFactor(email, code=code))
        assert refused.value.code == refusal
        clock.advance(60)  # past the throttle's wait
    # the old seed still works: the refused attempts swapped nothing
    assert account_service.login(rt, email, "correct horse 1", totp_code=totp.at(clock()))
    clock.advance(30)
    again = account_service.enroll_2fa(rt, EnrollTwoFactor(email, code=totp.at(clock())))
    assert again.secret != totp.secret


def test_second_factor_attempts_are_throttled_like_passwords(rt: Runtime,
                                                             clock: ManualClock) -> None:
    email, totp = _enrolled(rt, clock)
    policy = rt.settings.login
    for _ in range(policy.free_failures):
        with pytest.raises(errors.OkxError) as wrong:
            account_service.enroll_2fa(rt, EnrollTwoFactor(email, code="000000"))
        assert wrong.value.code == "70004"
    with pytest.raises(errors.OkxError) as wrong:  # the first one past the free ones counts too
        account_service.enroll_2fa(rt, EnrollTwoFactor(email, code="000000"))
    with pytest.raises(errors.OkxError) as throttled:  # now even the right code must wait
        account_service.enroll_2fa(rt, EnrollTwoFactor(email, code=totp.at(clock())))
    assert throttled.value.code == "70007"
    clock.advance(policy.wait_after(policy.free_failures + 1) + 1)
    assert account_service.enroll_2fa(rt, EnrollTwoFactor(email, code=totp.at(clock())))


# -- what a review found: each use case decides inside its own transaction -------------------

def test_a_failing_after_commit_listener_does_not_turn_a_done_withdrawal_into_an_error(
        rt: Runtime) -> None:
    email = make_account(rt, credit={"USDT": "100"})
    owner = Owner(account_service.account_by_email(rt, email).id, Environment.LIVE)

    def broken(changes: object) -> None:
        raise RuntimeError("a cache listener failed")

    rt.after_commit.append(broken)
    done = ledger.withdraw(rt, Withdraw(owner, "USDT", Decimal("10"), "3", "someone"))
    assert done.amount == Decimal("10")  # answered as done, because it is
    assert ledger.balances(rt, owner)["USDT"].cash == Decimal("90")


def test_a_withdrawal_is_in_the_audit_trail(rt: Runtime) -> None:
    email = make_account(rt, credit={"USDT": "100"})
    account = account_service.account_by_email(rt, email)
    done = ledger.withdraw(rt, Withdraw(Owner(account.id, Environment.LIVE), "USDT",
                                        Decimal("10"), "4", "TXexampleaddress"))
    [event] = [e for e in audit.events(rt, account_ids=[account.id])
               if e.event == "withdrawal_requested"]
    assert event.details["wd_id"] == done.wd_id and event.details["to_addr"] == "TXexampleaddress"
    assert event.details["amount"] == "10"


def test_regenerate_copies_the_settings_the_key_has_when_it_commits(
        rt: Runtime, monkeypatch: pytest.MonkeyPatch) -> None:
    """An allow-list narrowed while the new secret is being prepared is the one copied:
    regenerating must not undo an incident response."""
    email = make_account(rt)
    old = key_service.create_key(rt, CreateKey(email, label="bot1", passphrase=PASSPHRASE,
                                               perm="trade", ip="10.0.0.0/16"))
    prepare = key_service._prepare

    def prepare_then_narrow(*args: object, **kwargs: object) -> object:
        new = prepare(*args, **kwargs)  # argon2, outside the transaction
        key_service.edit_key(rt, EditKey(old.key.api_key, ip="10.0.0.1"))
        return new

    monkeypatch.setattr(key_service, "_prepare", prepare_then_narrow)
    created = key_service.regenerate_key(rt, RegenerateKey(old.key.api_key,
                                                           passphrase=PASSPHRASE))
    assert created.key.allowlist.wire() == "10.0.0.1"


def test_a_user_cannot_spend_another_accounts_second_factor_attempts_nor_probe_emails(
        rt: Runtime, clock: ManualClock) -> None:
    victim, totp = _enrolled(rt, clock)
    attacker = make_account(rt)
    actor = Actor.user(attacker, account_service.account_by_email(rt, attacker).id)
    for target in (victim, "nobody@example.com"):
        with pytest.raises(errors.OkxError) as refused:
            key_service.create_key(rt, CreateKey(target, label="x1", passphrase=PASSPHRASE,
                                                 actor=actor, totp_code="000000"))
        assert refused.value.code == "59506"  # someone else's account and none answer alike
    for _ in range(6):  # the attempts count against the attacker, who is soon throttled
        with pytest.raises(errors.OkxError) as refused:
            key_service.create_key(rt, CreateKey(victim, label="x1", passphrase=PASSPHRASE,
                                                 actor=actor, totp_code="000000"))
        assert refused.value.code in ("59506", "70007")
    # the victim's own second factor was not throttled by the attacker's attempts
    owner = Actor.user(victim, account_service.account_by_email(rt, victim).id)
    made = key_service.create_key(rt, CreateKey(victim, label="mine1", passphrase=PASSPHRASE,
                                                actor=owner, totp_code=totp.at(clock())))
    assert made.key.label == "mine1"


def test_a_dashboard_user_needs_the_second_factor_to_enable_a_key(
        rt: Runtime, clock: ManualClock) -> None:
    email, totp = _enrolled(rt, clock)
    key = make_key(rt, email)
    key_service.set_key_status(rt, SetKeyStatus(key["apiKey"], KeyStatus.DISABLED))
    user = Actor.user(email, account_service.account_by_email(rt, email).id)
    with pytest.raises(errors.OkxError) as refused:
        key_service.set_key_status(rt, SetKeyStatus(key["apiKey"], KeyStatus.ENABLED,
                                                    actor=user))
    assert refused.value.code == "70003"
    assert key_service.get_key(rt, key["apiKey"]).status is KeyStatus.DISABLED
    enabled = key_service.set_key_status(rt, SetKeyStatus(
        key["apiKey"], KeyStatus.ENABLED, actor=user, totp_code=totp.at(clock())))
    assert enabled.status is KeyStatus.ENABLED


def test_two_orders_racing_for_one_client_order_id_place_one(
        rt: Runtime, monkeypatch: pytest.MonkeyPatch) -> None:
    email = make_account(rt, credit={"USDT": "10000"})
    owner = Owner(account_service.account_by_email(rt, email).id, Environment.LIVE)
    request = order_from_wire({"instId": "BTC-USDT", "tdMode": "cash", "side": "buy",
                               "ordType": "limit", "px": "100", "sz": "0.01",
                               "clOrdId": "dup1"}, rt.settings.market)
    both_checked = threading.Barrier(2, timeout=2)
    taken = ledger_rows.live_cl_ord_id_taken

    def checked_together(*args: object, **kwargs: object) -> bool:
        found = taken(*args, **kwargs)  # type: ignore[arg-type]
        with contextlib.suppress(threading.BrokenBarrierError):
            both_checked.wait()  # without a lock, both checks run before either insert
        return found

    monkeypatch.setattr(ledger_rows, "live_cl_ord_id_taken", checked_together)
    outcomes: list[str] = []

    def place() -> None:
        try:
            ledger.place_order(rt, PlaceOrder(owner, request))
            outcomes.append("placed")
        except errors.OkxError as refused:
            outcomes.append(refused.code)

    threads = [threading.Thread(target=place) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["51016", "placed"]
    assert [o.cl_ord_id for o in ledger.pending_orders(rt, owner)] == ["dup1"]
