"""Dashboard sessions on both databases: the two login steps, idle and absolute expiry, a
new id at each step, the same refusal for an unknown email and a wrong password."""

from __future__ import annotations

import pyotp
import pytest

from keyseal import errors
from keyseal.clock import ManualClock
from keyseal.domain.commands import ConfirmTwoFactor, EnrollTwoFactor
from keyseal.services import accounts, web_sessions
from keyseal.services.runtime import Runtime
from keyseal.store import web_sessions as session_rows
from tests.conftest import new_email

PASSWORD = "correct horse 1"


def test_sign_up_then_log_in_and_out(rt: Runtime) -> None:
    email = new_email()
    first = web_sessions.sign_up(rt, email, PASSWORD, PASSWORD, "198.51.100.1")
    assert first.stage == web_sessions.FULL and web_sessions.current(rt, first.token) == first
    again = web_sessions.password_step(rt, email, PASSWORD, "198.51.100.1")
    assert again.token != first.token and again.csrf != first.csrf
    web_sessions.log_out(rt, again, None)
    assert web_sessions.current(rt, again.token) is None
    with rt.db.read() as conn:  # only a digest of the id is stored
        assert session_rows.get(conn, first.token) is None


def test_unknown_email_and_wrong_password_are_the_same_refusal(rt: Runtime) -> None:
    email = new_email()
    web_sessions.sign_up(rt, email, PASSWORD, PASSWORD, None)
    said = []
    for who, password in ((new_email(), PASSWORD), (email, "not the password")):
        with pytest.raises(errors.OkxError) as refused:
            web_sessions.password_step(rt, who, password, None)
        said.append((refused.value.code, refused.value.message))
    assert said == [("70006", "User not found or password invalid")] * 2


def test_the_passwords_must_match_at_sign_up(rt: Runtime) -> None:
    with pytest.raises(errors.OkxError) as refused:
        web_sessions.sign_up(rt, new_email(), PASSWORD, PASSWORD + "x", None)
    assert refused.value.code == "70064"


def test_sessions_end_when_idle_and_at_their_absolute_limit(rt: Runtime,
                                                            clock: ManualClock) -> None:
    rt.settings.web_session_idle_s, rt.settings.web_session_max_s = 600, 3600
    email = new_email()
    idle = web_sessions.sign_up(rt, email, PASSWORD, PASSWORD, None)
    clock.advance(599)
    assert web_sessions.current(rt, idle.token) is not None  # a page view moves the deadline
    clock.advance(599)
    assert web_sessions.current(rt, idle.token) is not None
    clock.advance(601)
    assert web_sessions.current(rt, idle.token) is None

    busy = web_sessions.password_step(rt, email, PASSWORD, None)
    for _ in range(7):
        clock.advance(500)
        assert web_sessions.current(rt, busy.token) is not None
    clock.advance(500)  # 4000 s after login, however busy
    assert web_sessions.current(rt, busy.token) is None


def test_the_second_factor_step_issues_a_new_id(rt: Runtime, clock: ManualClock) -> None:
    email = new_email()
    web_sessions.sign_up(rt, email, PASSWORD, PASSWORD, None)
    enrolment = accounts.enroll_2fa(rt, EnrollTwoFactor(email))
    totp = pyotp.TOTP(enrolment.secret)
    accounts.confirm_2fa(rt, ConfirmTwoFactor(email, totp.at(clock())))
    half = web_sessions.password_step(rt, email, PASSWORD, None)
    assert half.stage == web_sessions.SECOND_FACTOR
    with pytest.raises(errors.OkxError) as refused:
        web_sessions.totp_step(rt, half, "000000", None)
    assert refused.value.code == "70004"
    clock.advance(30)
    full = web_sessions.totp_step(rt, half, totp.at(clock()), None)
    assert full.stage == web_sessions.FULL and full.token != half.token
    assert web_sessions.current(rt, half.token) is None
    # a half-done login does not wait for ever
    other = web_sessions.password_step(rt, email, PASSWORD, None)
    clock.advance(web_sessions.SECOND_FACTOR_WINDOW_MS / 1000)
    assert web_sessions.current(rt, other.token) is None


def test_a_security_key_grant_answers_one_key_change_of_its_own_account(
        rt: Runtime, clock: ManualClock) -> None:
    """What a security key's answer earns (services.security_keys.approve_action): a code a
    key change accepts in place of an authenticator code, once, for its account, briefly."""
    from keyseal.domain.actors import Actor
    from keyseal.domain.commands import SetKeyStatus
    from keyseal.domain.keys import KeyStatus
    from keyseal.services import keys
    from keyseal.services.accounts import account_by_email, grant_hash
    from keyseal.store import security_keys as grant_rows
    from tests.conftest import make_account, make_key

    email, other = make_account(rt), make_account(rt)
    api_key = make_key(rt, email)["apiKey"]
    owner = account_by_email(rt, email)
    user = Actor.user(email, owner.id)

    def grant(account_email: str, code: str) -> str:
        with rt.db.write() as conn:
            grant_rows.insert_grant(conn, account_id=account_by_email(rt, account_email).id,
                                    code_hash=grant_hash(code), expires_ms=rt.now_ms() + 120_000)
        return code

    def disable(code: str) -> str:
        try:
            keys.set_key_status(rt, SetKeyStatus(api_key, KeyStatus.DISABLED, actor=user,
                                                 totp_code=code))
        except errors.OkxError as refused:
            return refused.code
        return "0"

    assert disable(grant(other, "sk-someone-elses01")) == "70004"
    mine = grant(email, "sk-mine-0000000001")
    assert disable(mine) == "0"
    assert disable(mine) == "70004"  # spent
    late = grant(email, "sk-mine-0000000002")
    clock.advance(121)
    assert disable(late) == "70004"


def test_failed_logins_are_throttled_whether_or_not_the_email_exists(
        rt: Runtime, clock: ManualClock) -> None:
    email = new_email()
    web_sessions.sign_up(rt, email, PASSWORD, PASSWORD, None)
    for who in (email, new_email()):
        codes = []
        for _ in range(rt.settings.login.free_failures + 1):
            try:
                web_sessions.password_step(rt, who, "wrong password", None)
            except errors.OkxError as refused:
                codes.append(refused.code)
        assert codes[-1] == "70007", codes  # "Too many failed logins; try again in N seconds"
    with pytest.raises(errors.OkxError) as refused:  # even the right password waits
        web_sessions.password_step(rt, email, PASSWORD, None)
    assert refused.value.code == "70007"
    clock.advance(3600)
    assert web_sessions.password_step(rt, email, PASSWORD, None).stage == web_sessions.FULL


def test_sessions_that_ended_without_a_logout_are_removed_at_the_next_login(
        rt: Runtime, clock: ManualClock) -> None:
    email = new_email()
    forgotten = web_sessions.sign_up(rt, email, PASSWORD, PASSWORD, None)
    clock.advance(rt.settings.web_session_idle_s + 1)
    web_sessions.password_step(rt, email, PASSWORD, None)
    with rt.db.read() as conn:
        assert session_rows.get(conn, web_sessions.session_hash(forgotten.token)) is None


def test_a_reveal_is_taken_once_even_by_requests_at_the_same_moment(rt: Runtime) -> None:
    """Two pages of one session asking for the reveal at once (a double click, two tabs):
    one shows it, the other is told it is gone."""
    import threading

    from keyseal.domain.commands import CreateKey, SetKycLevel
    from keyseal.services import keys as key_service
    from keyseal.services import reveals

    email = new_email()
    session = web_sessions.sign_up(rt, email, PASSWORD, PASSWORD, None)
    accounts.set_kyc_level(rt, SetKycLevel(email, 2))
    created = key_service.create_key(rt, CreateKey(email, label="once1", passphrase="Once-pass-1!"))
    for _ in range(5):
        reveals.hold(rt, session.token, created)
        barrier = threading.Barrier(2)
        taken: list[object] = []

        def take() -> None:
            barrier.wait()
            taken.append(reveals.take(rt, session.token))

        threads = [threading.Thread(target=take) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert sorted(x is None for x in taken) == [False, True]
