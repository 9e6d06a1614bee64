"""Use cases as one transaction each: many sweepers report a key once; second factors are
needed to re-enrol and are throttled like passwords. On SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from pathlib import Path

import pyotp
import pytest
from sqlalchemy import func, select

from keyseal import errors
from keyseal.clock import ManualClock
from keyseal.domain.commands import ConfirmTwoFactor, EnrollTwoFactor, SweepIdleKeys
from keyseal.domain.expiry import DAY_MS
from keyseal.services import accounts as account_service
from keyseal.services import audit
from keyseal.services import keys as key_service
from keyseal.services.runtime import Runtime, open_runtime
from keyseal.settings import Settings
from keyseal.store.tables import key_changes
from tests.conftest import make_account, make_key


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
