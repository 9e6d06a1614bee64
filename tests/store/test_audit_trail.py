"""Issue 8's use cases, below the CLI: the audit trail names accounts and holds every ledger
change; turning 2FA off needs a code and is throttled; the accounts overview; what an
expiry rule would delete. On SQLite and PostgreSQL."""

from __future__ import annotations

from decimal import Decimal

import pyotp
import pytest

from keyseal import errors
from keyseal.clock import ManualClock
from keyseal.domain.actors import Actor
from keyseal.domain.commands import (
    ConfirmTwoFactor,
    CreateKey,
    CreateSubAccount,
    Credit,
    DisableTwoFactor,
    EnrollTwoFactor,
    Owner,
    SetExpiryPolicy,
    TransferBetweenSubs,
    Withdraw,
)
from keyseal.domain.expiry import DAY_MS, ExpiryPolicy
from keyseal.domain.keys import Environment
from keyseal.services import accounts as account_service
from keyseal.services import audit, ledger
from keyseal.services import keys as key_service
from keyseal.services.runtime import Runtime
from keyseal.store import accounts as account_rows
from tests.conftest import PASSPHRASE, make_account, make_key


def test_every_ledger_change_is_in_the_trail_under_the_accounts_email(rt: Runtime) -> None:
    email = make_account(rt)
    master = account_service.account_by_email(rt, email)
    for name in ("alpha01", "beta0001"):
        account_service.create_sub_account(rt, CreateSubAccount(email, name))
    ledger.credit(rt, Credit(email, "USDT", "100"))
    ledger.credit(rt, Credit(email, "USDT", "50", sub="alpha01"))
    admin = key_service.create_key(rt, CreateKey(email, label="admin", passphrase=PASSPHRASE,
                                                 perm="trade", sub_account_access=True))
    ledger.transfer_between_subs(rt, TransferBetweenSubs(
        Actor.api(admin.key.api_key, master.id, Environment.LIVE, None), "USDT",
        Decimal("20"), "alpha01", "beta0001"))
    ledger.withdraw(rt, Withdraw(Owner(master.id, Environment.LIVE), "USDT", Decimal("10"),
                                 "3", "someone"))

    events = {e.event: e for e in audit.events(rt)}
    for event in ("ledger_credited", "ledger_transferred", "withdrawal_requested"):
        assert event in events, sorted(events)
    credits = [e for e in audit.events(rt) if e.event == "ledger_credited"]
    assert [(str(e.account), e.account_id) for e in credits] == [
        (f"{email} / alpha01", credits[0].account_id), (email, master.id)]
    assert credits[0].account is not None and credits[0].account.email == email
    assert credits[0].account.sub_name == "alpha01"
    assert str(events["ledger_transferred"].account) == email
    assert events["ledger_transferred"].details["from_sub"] == "alpha01"
    assert str(events["withdrawal_requested"].account) == email
    signed_up = next(e for e in audit.events(rt) if e.event == "signed_up")
    assert str(signed_up.account) == email


def test_an_event_without_an_account_names_none(rt: Runtime) -> None:
    key_service.set_expiry_policy(rt, SetExpiryPolicy(ExpiryPolicy(20)))
    [event] = [e for e in audit.events(rt) if e.event == "expiry_policy_set"]
    assert event.account_id is None and event.account is None


# -- disable 2FA ---------------------------------------------------------------------------
def _enrolled(rt: Runtime, clock: ManualClock) -> tuple[str, pyotp.TOTP, list[str]]:
    email = make_account(rt)
    totp = pyotp.TOTP(account_service.enroll_2fa(rt, EnrollTwoFactor(email)).secret)
    codes = account_service.confirm_2fa(rt, ConfirmTwoFactor(email, totp.at(clock())))
    clock.advance(30)
    return email, totp, codes


def _two_factor_on(rt: Runtime, email: str) -> bool:
    with rt.db.read() as conn:
        account = account_service.by_email(conn, email)
        return account_rows.totp_state(conn, account.id).sealed is not None


def test_disabling_2fa_needs_a_current_code_and_changes_nothing_without_one(
        rt: Runtime, clock: ManualClock) -> None:
    email, totp, _ = _enrolled(rt, clock)
    for code, refusal in ((None, "70003"), ("123456", "70004"),
                          (totp.at(clock() - 30), "70004")):  # the code already used
        with pytest.raises(errors.OkxError) as refused:
            account_service.disable_2fa(rt, DisableTwoFactor(email, code))
        assert refused.value.code == refusal
        clock.advance(60)  # past the throttle's wait
    assert _two_factor_on(rt, email)
    assert "2fa_disabled" not in [e.event for e in audit.events(rt)]

    account = account_service.disable_2fa(rt, DisableTwoFactor(email, totp.at(clock())))
    assert account.email == email and not _two_factor_on(rt, email)
    with rt.db.read() as conn:
        assert account_rows.unused_recovery_codes(conn, account.id) == 0
    [event] = [e for e in audit.events(rt) if e.event == "2fa_disabled"]
    assert event.actor == "operator:cli" and str(event.account) == email
    with pytest.raises(errors.OkxError) as off:
        account_service.disable_2fa(rt, DisableTwoFactor(email, totp.at(clock())))
    assert off.value.code == "70011"
    assert account_service.login(rt, email, "correct horse 1")  # no code needed any more


def test_a_recovery_code_disables_2fa(rt: Runtime, clock: ManualClock) -> None:
    email, _, codes = _enrolled(rt, clock)
    account_service.disable_2fa(rt, DisableTwoFactor(email, codes[3]))
    assert not _two_factor_on(rt, email)
    assert "recovery_code_used" in [e.event for e in audit.events(rt)]


def test_disabling_2fa_is_throttled_like_other_second_factors(rt: Runtime,
                                                             clock: ManualClock) -> None:
    email, totp, _ = _enrolled(rt, clock)
    policy = rt.settings.login
    for _ in range(policy.free_failures + 1):
        with pytest.raises(errors.OkxError):
            account_service.disable_2fa(rt, DisableTwoFactor(email, "000000"))
    with pytest.raises(errors.OkxError) as throttled:
        account_service.disable_2fa(rt, DisableTwoFactor(email, totp.at(clock())))
    assert throttled.value.code == "70007" and _two_factor_on(rt, email)


def test_the_command_keeps_the_code_out_of_its_repr() -> None:
    assert "123456" not in repr(DisableTwoFactor("a@example.com", "123456"))


# -- the accounts overview -----------------------------------------------------------------
def test_the_overview_lists_masters_and_shows_one_with_its_keys_and_subs(
        rt: Runtime, clock: ManualClock) -> None:
    email = make_account(rt)
    other, _, _ = _enrolled(rt, clock)
    account_service.create_sub_account(rt, CreateSubAccount(email, "alpha01"))
    mine = make_key(rt, email, label="mine")
    sub_key = key_service.create_key(rt, CreateKey(email, label="subk", passphrase=PASSPHRASE,
                                                   sub="alpha01"))
    listed = {s.account.email: s for s in account_service.list_accounts(rt)}
    assert sorted(listed) == sorted([email, other])
    assert (listed[email].sub_accounts, listed[email].keys, listed[email].two_factor) == (
        1, 1, False)
    assert (listed[other].sub_accounts, listed[other].two_factor) == (0, True)

    shown = account_service.show_account(rt, email)
    assert shown.account.email == email and not shown.two_factor
    assert [k.api_key for k in shown.keys] == [mine["apiKey"]]
    [(sub, sub_keys)] = shown.sub_accounts
    assert sub.sub_name == "alpha01" and [k.api_key for k in sub_keys] == [sub_key.key.api_key]
    assert account_service.show_account(rt, other).two_factor


# -- what an expiry rule would delete ------------------------------------------------------
def test_a_dry_run_of_an_expiry_rule_counts_the_keys_past_it_and_changes_nothing(
        rt: Runtime, clock: ManualClock) -> None:
    email = make_account(rt)
    make_key(rt, email, label="reader")
    make_key(rt, email, label="trader", perm="trade")
    make_key(rt, email, label="bound", perm="trade", ip="10.0.0.1")
    make_key(rt, email, label="demo", perm="trade", demo=True)
    clock.advance(10 * DAY_MS / 1000)
    make_key(rt, email, label="recent")
    before = {k.label: k.expires_ms for k in key_service.list_keys(rt, email)}

    def due(policy: ExpiryPolicy, dry_run: bool = True) -> int:
        return key_service.set_expiry_policy(rt, SetExpiryPolicy(policy, dry_run=dry_run))

    assert due(ExpiryPolicy(7)) == 2  # reader, trader; not bound, demo, nor the recent one
    assert due(ExpiryPolicy(7, ExpiryPolicy.okx().scope)) == 1  # trader only
    assert due(ExpiryPolicy(11)) == 0 and due(ExpiryPolicy(0)) == 0
    assert {k.label: k.expires_ms for k in key_service.list_keys(rt, email)} == before
    assert rt.settings.expiry == ExpiryPolicy()
    assert "expiry_policy_set" not in [e.event for e in audit.events(rt)]

    assert due(ExpiryPolicy(7), dry_run=False) == 2
    assert rt.settings.expiry == ExpiryPolicy(7)
    [event] = [e for e in audit.events(rt) if e.event == "expiry_policy_set"]
    assert event.details["due_now"] == 2
    assert sorted(k.label for k in key_service.sweep(rt)) == ["reader", "trader"]
