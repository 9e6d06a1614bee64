"""Accounts and the key lifecycle through the services, on SQLite and PostgreSQL, with an
injected clock for everything time-based."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import Any

import pyotp
import pytest
from sqlalchemy import event, insert, text

from keyseal import errors
from keyseal.clock import ManualClock
from keyseal.domain.actors import Actor, ActorKind
from keyseal.domain.commands import (
    ConfirmTwoFactor,
    CreateKey,
    CreateSubAccount,
    DeleteKey,
    EditKey,
    EnrollTwoFactor,
    RegenerateKey,
    SetExpiryPolicy,
    SetKeyStatus,
    SetKycLevel,
    SetRestricted,
    SweepIdleKeys,
)
from keyseal.domain.expiry import DAY_MS, ExpiryPolicy
from keyseal.domain.keys import KeyStatus
from keyseal.http.okx.subaccount import created_key_fields
from keyseal.services import accounts as account_service
from keyseal.services import audit, master_keys
from keyseal.services import keys as key_service
from keyseal.services.runtime import Runtime
from keyseal.store import keys as key_rows
from keyseal.store.tables import api_keys
from tests.conftest import PASSPHRASE, make_account, make_key

PASSWORD = "correct horse 1"


def refused(code: str):  # type: ignore[no-untyped-def]
    class Refused:
        def __enter__(self) -> None:
            return None

        def __exit__(self, kind, value, tb) -> bool:  # type: ignore[no-untyped-def]
            assert isinstance(value, errors.OkxError), f"expected {code}, got {value!r}"
            assert value.code == code, f"expected {code}, got {value.code} {value.message}"
            return True
    return Refused()


# -- login ---------------------------------------------------------------------------------
def test_unknown_user_and_wrong_password_fail_alike(rt: Runtime, monkeypatch: pytest.MonkeyPatch) -> None:
    email = make_account(rt)
    hashed: list[str] = []
    real = account_service.verify_hash
    monkeypatch.setattr(account_service, "verify_hash",
                        lambda stored, pw: hashed.append(stored) or real(stored, pw))
    messages = []
    for who in (email, "nobody@example.com"):
        with pytest.raises(errors.OkxError) as failure:
            account_service.login(rt, who, "wrong password")
        messages.append((failure.value.code, failure.value.message))
    assert messages[0] == messages[1] == ("70006", "User not found or password invalid")
    assert len(hashed) == 2 and all(h.startswith("$argon2id$") for h in hashed)  # same work
    assert account_service.login(rt, email, PASSWORD).email == email


def test_failures_slow_down_then_lock(rt: Runtime, clock: ManualClock) -> None:
    email = make_account(rt)
    for _ in range(3):  # the first three failures cost nothing
        with refused("70006"):
            account_service.login(rt, email, "nope")
    with refused("70007"):  # the fourth try must wait 2 s
        account_service.login(rt, email, PASSWORD)
    clock.advance(2)
    with refused("70006"):
        account_service.login(rt, email, "nope")
    with refused("70007"):  # now 4 s
        account_service.login(rt, email, PASSWORD)
    clock.advance(4)
    assert account_service.login(rt, email, PASSWORD).email == email  # success resets
    for _ in range(3):
        with refused("70006"):
            account_service.login(rt, email, "nope")


def test_ten_failures_lock_for_fifteen_minutes_known_or_not(rt: Runtime, clock: ManualClock) -> None:
    email = make_account(rt)
    for who in (email, "ghost@example.com"):
        for _ in range(10):
            clock.advance(10_000)  # wait out each slow-down
            with refused("70006"):
                account_service.login(rt, who, "nope")
        clock.advance(899)
        with pytest.raises(errors.OkxError) as locked:
            account_service.login(rt, who, PASSWORD)
        assert locked.value.code == "70007" and "1 seconds" in locked.value.message
    clock.advance(2)
    assert account_service.login(rt, email, PASSWORD).email == email


# -- two-factor ----------------------------------------------------------------------------
def test_totp_enrolment_single_use_codes_and_recovery_codes(rt: Runtime, clock: ManualClock) -> None:
    email = make_account(rt)
    enrolment = account_service.enroll_2fa(rt, EnrollTwoFactor(email))
    assert enrolment.uri.startswith("otpauth://totp/") and "issuer=Keyseal" in enrolment.uri
    assert "<svg" in enrolment.qr_svg()
    totp = pyotp.TOTP(enrolment.secret)
    assert account_service.login(rt, email, PASSWORD)  # pending enrolment asks nothing yet
    with refused("70004"):
        account_service.confirm_2fa(rt, ConfirmTwoFactor(email, "000000"))
    codes = account_service.confirm_2fa(rt, ConfirmTwoFactor(email, totp.at(clock())))
    assert len(codes) == 10 and len(set(codes)) == 10
    with refused("70003"):
        account_service.login(rt, email, PASSWORD)
    with refused("70004"):  # the confirming code cannot be used again
        account_service.login(rt, email, PASSWORD, totp_code=totp.at(clock()))
    clock.advance(30)
    assert account_service.login(rt, email, PASSWORD, totp_code=totp.at(clock()))
    clock.advance(30)
    assert account_service.login(rt, email, PASSWORD, totp_code=codes[0])  # a recovery code
    clock.advance(10_000)
    with refused("70004"):
        account_service.login(rt, email, PASSWORD, totp_code=codes[0])  # once only


def test_key_changes_from_the_dashboard_need_a_fresh_code(rt: Runtime, clock: ManualClock) -> None:
    email = make_account(rt)
    user = Actor.user(email, None, "203.0.113.9")
    with refused("70011"):  # not enrolled: the dashboard cannot change keys
        key_service.create_key(rt, CreateKey(email, label="web1", passphrase=PASSPHRASE,
                               perm="read_only", actor=user))
    totp = pyotp.TOTP(account_service.enroll_2fa(rt, EnrollTwoFactor(email)).secret)
    account_service.confirm_2fa(rt, ConfirmTwoFactor(email, totp.at(clock())))
    clock.advance(30)
    with refused("70003"):
        key_service.create_key(rt, CreateKey(email, label="web1", passphrase=PASSPHRASE,
                               perm="read_only", actor=user))
    created = key_service.create_key(rt, CreateKey(email, label="web1", passphrase=PASSPHRASE,
                                     perm="read_only", actor=user, totp_code=totp.at(clock())))
    with refused("70004"):
        key_service.edit_key(rt, EditKey(created.key.api_key, label="web2", actor=user,
                             totp_code=totp.at(clock())))
    assert key_service.get_key(rt, created.key.api_key).label == "web1"
    # the operator's CLI is trusted and needs no code
    assert key_service.edit_key(rt, EditKey(created.key.api_key, label="web2")).label == "web2"


# -- KYC, restrictions, sub-accounts -------------------------------------------------------
def test_kyc_level_two_is_needed_to_create_keys(rt: Runtime) -> None:
    email = make_account(rt, kyc_level=1)
    with pytest.raises(errors.OkxError) as low:
        make_key(rt, email)
    assert low.value.code == "70001" and "2" in low.value.message
    account_service.set_kyc_level(rt, SetKycLevel(email, 2))
    assert make_key(rt, email)["apiKey"]
    with refused("51000"):
        account_service.set_kyc_level(rt, SetKycLevel(email, 4))


def test_restriction_blocks_changes_and_freezes_keys_including_subs(rt: Runtime) -> None:
    email = make_account(rt)
    key = make_key(rt, email)
    account_service.create_sub_account(rt, CreateSubAccount(email, "desk0001"))
    sub_key = created_key_fields(key_service.create_key(rt, CreateKey(email, label="s1", passphrase=PASSPHRASE,
                                     perm="read_only,trade", sub="desk0001")))
    account_service.set_restricted(rt, SetRestricted(email, True))
    with refused("70002"):
        make_key(rt, email)
    with refused("70002"):
        key_service.edit_key(rt, EditKey(key["apiKey"], label="renamed"))
    for api_key in (key["apiKey"], sub_key["apiKey"]):
        found = key_service.load_entry(rt, api_key)
        assert found is not None and found.frozen  # the gate answers 50100
    account_service.set_restricted(rt, SetRestricted(email, False))
    assert not key_service.load_entry(rt, key["apiKey"]).frozen  # type: ignore[union-attr]
    assert key_service.edit_key(rt, EditKey(key["apiKey"], label="renamed")).label == "renamed"


def test_sub_accounts(rt: Runtime) -> None:
    email = make_account(rt)
    sub = account_service.create_sub_account(rt, CreateSubAccount(email, "Trading01"))
    assert sub.is_sub and sub.email is None and len(sub.uid) == 16
    with refused("70009"):
        account_service.create_sub_account(rt, CreateSubAccount(email, "Trading01"))
    for bad in ("short", "has space1", "x" * 21, "dash-dash1"):
        with refused("51000"):
            account_service.create_sub_account(rt, CreateSubAccount(email, bad))
    with refused("59504"):
        key_service.create_key(rt, CreateKey(email, label="w", passphrase=PASSPHRASE,
                               perm="read_only,withdraw", sub="Trading01"))
    with refused("51000"):
        key_service.create_key(rt, CreateKey(email, label="w", passphrase=PASSPHRASE, perm="trade",
                               sub="Trading01", sub_account_access=True))
    with refused("59510"):
        key_service.create_key(rt, CreateKey(email, label="w", passphrase=PASSPHRASE, perm="trade",
                               sub="Nosuch001"))
    made = key_service.create_key(rt, CreateKey(email, label="w", passphrase=PASSPHRASE, perm="trade",
                                  sub="Trading01"))
    entry = key_service.load_entry(rt, made.key.api_key)
    assert entry is not None and entry.master_id is not None
    assert entry.uid == sub.uid and entry.main_uid != sub.uid
    assert [k.label for k in key_service.list_keys(rt, email, sub="Trading01")] == ["w"]
    assert key_service.list_keys(rt, email) == []


# -- edit, regenerate ----------------------------------------------------------------------
def test_edit_changes_label_and_ips_only(rt: Runtime) -> None:
    email = make_account(rt)
    key = make_key(rt, email, label="bot1", perm="read_only,trade")
    make_key(rt, email, label="taken")
    with pytest.raises(errors.OkxError) as immutable:
        key_service.edit_key(rt, EditKey(key["apiKey"], perm="read_only"))
    assert immutable.value.code == "70005" and "create a new key" in immutable.value.message
    with refused("70005"):
        key_service.edit_key(rt, EditKey(key["apiKey"], passphrase="New-Pass1"))
    with refused("59502"):
        key_service.edit_key(rt, EditKey(key["apiKey"], label="taken"))
    with refused("70013"):
        key_service.edit_key(rt, EditKey(key["apiKey"], ip="1.2.3.4 nonsense"))
    unchanged = key_service.get_key(rt, key["apiKey"])
    assert (unchanged.label, unchanged.allowlist.wire()) == ("bot1", "")
    assert unchanged.expires_ms is not None
    bound = key_service.edit_key(rt, EditKey(key["apiKey"], ip="10.0.0.1, 10.0.0.0/24"))
    assert bound.allowlist.wire() == "10.0.0.1,10.0.0.0/24" and bound.expires_ms is None
    unbound = key_service.edit_key(rt, EditKey(key["apiKey"], ip="", label="bot2"))
    assert unbound.allowlist.wire() == "" and unbound.label == "bot2"
    assert unbound.expires_ms == unbound.created_ms + 30 * DAY_MS
    assert unbound.permission.wire() == "read_only,trade"


def test_regenerate_copies_settings_under_a_derived_label(rt: Runtime) -> None:
    email = make_account(rt)
    old = make_key(rt, email, label="bot1", perm="read_only,trade", ip="10.0.0.7")
    first = key_service.regenerate_key(rt, RegenerateKey(old["apiKey"], passphrase="Other-Pass2",
                                       disable_old=True))
    assert first.key.label == "bot1v2" and first.secret_key != old["secretKey"]
    assert (first.key.permission.wire(), first.key.allowlist.wire()) == ("read_only,trade",
                                                                          "10.0.0.7")
    assert key_service.get_key(rt, old["apiKey"]).status is KeyStatus.DISABLED
    second = key_service.regenerate_key(rt, RegenerateKey(first.key.api_key, passphrase="Other-Pass2"))
    assert second.key.label == "bot1v3"
    assert key_service.get_key(rt, first.key.api_key).status is KeyStatus.ENABLED


def test_regenerated_labels_stay_within_fifty_characters() -> None:
    assert key_service.regenerated_label("a" * 50, set()) == "a" * 48 + "v2"
    assert key_service.regenerated_label("bot1v2", {"bot1v2", "bot1v3"}) == "bot1v4"
    assert key_service.regenerated_label("nav1", set()) == "nav1v2"  # v1 is the user's, not ours
    assert key_service.regenerated_label("bot1v10", set()) == "bot1v2"


# -- inactivity expiry ---------------------------------------------------------------------
def test_idle_keys_without_allowlist_are_swept_after_thirty_days(rt: Runtime, clock: ManualClock) -> None:
    email = make_account(rt)
    idle = make_key(rt, email, label="idle")
    used = make_key(rt, email, label="used")
    bound = make_key(rt, email, label="bound", ip="10.0.0.1")
    demo = make_key(rt, email, label="demo", demo=True)
    start = rt.now_ms()
    with rt.db.write() as conn:  # what the gate's usage writer does on day 20
        key_rows.record_usage(conn, [(used["apiKey"], start + 20 * DAY_MS, "1.1.1.1")],
                              idle_ms=30 * DAY_MS)
    assert key_service.sweep(rt, SweepIdleKeys(as_of_ms=start + 29 * DAY_MS)) == []
    preview = key_service.sweep(rt, SweepIdleKeys(as_of_ms=start + 31 * DAY_MS, dry_run=True))
    assert [k.api_key for k in preview] == [idle["apiKey"]]
    assert len(key_service.list_keys(rt, email)) == 4  # a dry run deletes nothing
    swept = key_service.sweep(rt, SweepIdleKeys(as_of_ms=start + 31 * DAY_MS))
    assert [k.label for k in swept] == ["idle"]
    clock.advance(60 * DAY_MS / 1000)
    assert [k.label for k in key_service.sweep(rt)] == ["used"]
    assert {k.label for k in key_service.list_keys(rt, email)} == {"bound", "demo"}
    events = audit.events(rt, api_key=idle["apiKey"])
    assert [e.event for e in events][:1] == ["key_expired"] and events[0].actor == "system:sweeper"
    del bound, demo


def test_okx_policy_spares_read_only_keys(rt: Runtime) -> None:
    email = make_account(rt)
    reader = make_key(rt, email, label="reader")
    trader = make_key(rt, email, label="trader", perm="read_only,trade")
    assert key_service.set_expiry_policy(rt, SetExpiryPolicy(ExpiryPolicy.okx())) == 0  # due now
    start = rt.now_ms()
    assert key_service.get_key(rt, reader["apiKey"]).expires_ms is None
    assert key_service.get_key(rt, trader["apiKey"]).expires_ms == start + 14 * DAY_MS
    assert [k.label for k in key_service.sweep(rt, SweepIdleKeys(as_of_ms=start + 15 * DAY_MS))] == ["trader"]
    later = key_service.set_expiry_policy(rt, SetExpiryPolicy(ExpiryPolicy(30)))
    assert later == 0 and key_service.get_key(rt, reader["apiKey"]).expires_ms is not None


def _statements_run_by(rt: Runtime, action: Callable[[], object]) -> list[tuple[str, Any]]:
    """The SQL (and its parameters) that ``action`` sends to the database."""
    sent: list[tuple[str, Any]] = []

    def record(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        sent.append((statement, parameters))

    event.listen(rt.db.engine, "before_cursor_execute", record)
    try:
        action()
    finally:
        event.remove(rt.db.engine, "before_cursor_execute", record)
    return sent


def test_the_sweeper_reads_only_expired_keys(rt: Runtime) -> None:
    """The sweeper's own query, on a table of many keys of which few are due and with fresh
    statistics, is answered from the expiry index by the planner left to itself."""
    email = make_account(rt)
    account_id = account_service.account_by_email(rt, email).id
    now = rt.now_ms()
    rows = [{"api_key": str(uuid.uuid4()), "account_id": account_id, "label": f"k{i}",
             "secret_sealed": b"sealed", "passphrase_hash": "hash", "perm": 1,
             "ips": "10.0.0.1" if i % 3 == 0 else "", "environment": "live",
             "status": "enabled", "sub_account_access": False, "created_ms": now,
             # a third bound (never expire); the rest due an hour apart, the first three by now
             "expires_ms": None if i % 3 == 0 else now + (i - 4) * 3_600_000}
            for i in range(30_000)]
    with rt.db.write() as conn:
        conn.execute(insert(api_keys), rows)
        conn.execute(text("ANALYZE api_keys" if not rt.db.is_sqlite else "ANALYZE"))
    due: list[Any] = []
    sent = _statements_run_by(rt, lambda: due.extend(
        key_service.sweep(rt, SweepIdleKeys(as_of_ms=now, dry_run=True))))
    assert len(due) == 3  # i = 1, 2, 4: expired or due this very millisecond (i = 3 is bound)
    [(query, parameters)] = [(q, p) for q, p in sent
                             if q.lstrip().upper().startswith("SELECT") and "expires_ms" in q]
    explain = "EXPLAIN QUERY PLAN " if rt.db.is_sqlite else "EXPLAIN "
    with rt.db.read() as conn:
        plan = " ".join(str(row) for row in conn.exec_driver_sql(explain + query, parameters))
    assert "ix_api_keys_expires_ms" in plan, plan  # an index range, not a scan of every key


def test_stale_view_lists_keys_unused_for_n_days(rt: Runtime, clock: ManualClock) -> None:
    email = make_account(rt)
    old = make_key(rt, email, label="old")
    clock.advance(10 * 86_400)
    make_key(rt, email, label="fresh")
    assert [k.label for k in key_service.list_keys(rt, email, stale_days=5)] == ["old"]
    del old


# -- audit ---------------------------------------------------------------------------------
def test_every_key_event_is_audited_without_secrets(rt: Runtime) -> None:
    email = make_account(rt)
    key = make_key(rt, email, label="aud1")
    api_key = key["apiKey"]
    key_service.edit_key(rt, EditKey(api_key, label="aud2", ip="10.0.0.1"))
    key_service.set_key_status(rt, SetKeyStatus(api_key, KeyStatus.DISABLED))
    key_service.set_key_status(rt, SetKeyStatus(api_key, KeyStatus.ENABLED))
    key_service.delete_key(rt, DeleteKey(api_key, actor=Actor(ActorKind.API, "master-key", "198.51.100.4")))
    events = audit.events(rt, api_key=api_key)
    assert [e.event for e in reversed(events)] == [
        "key_created", "key_edited", "key_disabled", "key_enabled", "key_deleted"]
    edited = next(e for e in events if e.event == "key_edited")
    assert edited.details == {"label": ["aud1", "aud2"], "ip": ["", "10.0.0.1"]}
    deleted = events[0]
    assert (deleted.actor, deleted.source_ip) == ("api:master-key", "198.51.100.4")
    everything = json.dumps([e.details for e in audit.events(rt)])
    assert key["secretKey"] not in everything and PASSPHRASE not in everything
    account = account_service.account_by_email(rt, email)
    account_events = [e.event for e in audit.events(rt, account_ids=[account.id])]
    assert "signed_up" in account_events


def test_reseal_covers_totp_seeds(rt: Runtime, clock: ManualClock) -> None:
    email = make_account(rt)
    totp = pyotp.TOTP(account_service.enroll_2fa(rt, EnrollTwoFactor(email)).secret)
    account_service.confirm_2fa(rt, ConfirmTwoFactor(email, totp.at(clock())))
    rt.keyring = rt.keyring.with_new_version()
    assert master_keys.reseal_all(rt) == 1
    retired = rt.keyring.__class__({2: rt.keyring.keys[2]})  # version 1 can now be dropped
    rt.keyring = retired
    clock.advance(30)
    assert account_service.login(rt, email, PASSWORD, totp_code=totp.at(clock()))


def test_secrets_stay_out_of_reprs(rt: Runtime) -> None:
    key = make_key(rt)
    entry = key_service.load_entry(rt, key["apiKey"])
    enrolment = account_service.enroll_2fa(rt, EnrollTwoFactor(make_account(rt)))
    text = repr(entry) + repr(rt) + repr(enrolment) + repr(rt.keyring)
    assert key["secretKey"] not in text and enrolment.secret not in text
    assert all(str(k) not in text for k in rt.keyring.keys.values())


def test_parallel_wrong_logins_cannot_slip_past_the_throttle(rt: Runtime) -> None:
    from concurrent.futures import ThreadPoolExecutor

    email = make_account(rt)

    def attempt(_: int) -> str:
        try:
            account_service.login(rt, email, "nope")
        except errors.OkxError as refusal:
            return refusal.code
        return "0"

    with ThreadPoolExecutor(8) as pool:
        codes = list(pool.map(attempt, range(12)))
    assert codes.count("70006") <= 4 and codes.count("70007") >= 8  # counted before checking


def test_parallel_creations_keep_the_key_limit_and_unique_labels(
        rt: Runtime, monkeypatch: pytest.MonkeyPatch) -> None:
    from concurrent.futures import ThreadPoolExecutor

    monkeypatch.setattr("keyseal.services.keys.MAX_KEYS_PER_ACCOUNT", 3)
    email = make_account(rt)
    make_key(rt, email)

    def create(label: str) -> str:
        try:
            make_key(rt, email, label=label)
        except errors.OkxError as refusal:
            return refusal.code
        return "0"

    with ThreadPoolExecutor(6) as pool:
        codes = list(pool.map(create, ["same"] * 3 + ["x1", "x2", "x3"]))
    assert len(key_service.list_keys(rt, email)) == 3
    assert codes.count("0") == 2 and set(codes) <= {"0", "59501", "59502"}
