"""Dashboard sessions: sign-up, the two steps of a login, and the session a browser holds
afterwards. A session id is 256 random bits; only its SHA-256 is stored. Each step of a
login issues a new id (the old one stops working), so an id planted before login is worth
nothing after it."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass, field

from keyseal import errors
from keyseal.crypto.passwords import verify_hash
from keyseal.domain.accounts import Account
from keyseal.domain.actors import Actor
from keyseal.domain.commands import CreateAccount
from keyseal.services import accounts as account_service
from keyseal.services import audit
from keyseal.services.accounts import second_factor_attempt
from keyseal.services.runtime import Runtime
from keyseal.services.unit_of_work import unit_of_work
from keyseal.store import accounts as account_rows
from keyseal.store import security_keys as security_key_rows
from keyseal.store import web_sessions as session_rows
from keyseal.store.web_sessions import SessionRow

#: logged in: every page is open
FULL = "full"
#: the password was right; the second factor is still due
SECOND_FACTOR = "2fa"
#: how long a half-done login waits for its second factor
SECOND_FACTOR_WINDOW_MS = 5 * 60_000
#: a page view moves the idle deadline, but writes it at most this often
TOUCH_EVERY_MS = 30_000


@dataclass(frozen=True)
class WebSession:
    token: str = field(repr=False)  # the cookie's value: never logged
    account: Account
    stage: str
    csrf: str = field(repr=False)
    created_ms: int
    #: the WebAuthn challenge this session was last given
    challenge: str | None = field(default=None, repr=False)

    @property
    def actor_name(self) -> str:
        return self.account.email or self.account.uid


@dataclass(frozen=True)
class SecondFactors:
    """What an account can answer a second-factor question with."""

    totp: bool
    security_keys: int

    @property
    def any(self) -> bool:
        return self.totp or self.security_keys > 0


def session_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def user_actor(session: WebSession, ip: str | None) -> Actor:
    """The actor a logged-in person is to the services (2FA for key changes)."""
    return Actor.user(session.actor_name, session.account.id, ip)


def second_factors(rt: Runtime, account_id: int) -> SecondFactors:
    with rt.db.read() as conn:
        return SecondFactors(account_rows.totp_state(conn, account_id).sealed is not None,
                             security_key_rows.count_for_account(conn, account_id))


def _new_session(rt: Runtime, account: Account, stage: str, ip: str | None,
                 replacing: str | None = None) -> WebSession:
    token = secrets.token_urlsafe(32)
    now = rt.now_ms()
    row = SessionRow(session_hash(token), account.id, stage, secrets.token_urlsafe(32), now, now,
                     ip, None)
    settings = rt.settings
    with rt.db.write() as conn:
        if replacing is not None:
            session_rows.remove(conn, session_hash(replacing))
        # sessions that ended without a logout go at the next login (not on every page view)
        session_rows.remove_older_than(conn, now - settings.web_session_max_s * 1000,
                                       now - settings.web_session_idle_s * 1000)
        session_rows.insert_session(conn, row)
    return WebSession(token, account, stage, row.csrf, now)


def sign_up(rt: Runtime, email: str, password: str, password_again: str,
            ip: str | None) -> WebSession:
    """A new account (KYC level 0 until the operator verifies it), logged in at once."""
    if password != password_again:
        raise errors.PASSWORDS_DIFFER()
    account = account_service.create_account(rt, CreateAccount(
        email, password, actor=Actor.user(email.strip().lower()[:128], None, ip)))
    return _new_session(rt, account, FULL, ip)


def password_step(rt: Runtime, email: str, password: str, ip: str | None) -> WebSession:
    """The first step of a login. Every failure is "User not found or password invalid" after
    the same argon2 work, throttled per email (the accounts service's rules). An account with
    a second factor gets a session that can only finish the login."""
    key = email.strip().lower()
    actor = Actor.user(key[:128], None, ip)
    attempt = account_service._admit_attempt(rt, key)
    with rt.db.read() as conn:
        account = account_rows.by_email(conn, key)
        stored = None if account is None else account_rows.password_hash(conn, account.id)
    # the decoy hash when the email is unknown: both failures cost the same argon2 work
    password_ok = verify_hash(stored or account_service._decoy_hash(), password) and account is not None
    if not password_ok or account is None:
        account_service._login_failed(rt, actor, account, attempt)
        raise errors.LOGIN_FAILED()
    actor = Actor.user(key[:128], account.id, ip)
    stage = SECOND_FACTOR if second_factors(rt, account.id).any else FULL
    with unit_of_work(rt) as work:
        account_rows.clear_login_failures(work.conn, key)
        work.audit(actor, "login_succeeded" if stage == FULL else "login_password_accepted",
                   account_id=account.id, via="dashboard")
    return _new_session(rt, account, stage, ip)


def totp_step(rt: Runtime, session: WebSession, code: str, ip: str | None) -> WebSession:
    """The second step with an authenticator (or a recovery) code, throttled like passwords."""
    if session.stage != SECOND_FACTOR:
        raise errors.SESSION_ENDED()
    account = session.account
    with second_factor_attempt(rt, account), unit_of_work(rt) as work:
        account_service.check_second_factor(work, account, code.strip())
        work.audit(user_actor(session, ip), "login_succeeded", account_id=account.id,
                   via="dashboard", second_factor="totp")
    return _new_session(rt, account, FULL, ip, replacing=session.token)


def finish_with_security_key(rt: Runtime, session: WebSession, ip: str | None) -> WebSession:
    """The second step once a security key has answered (services.security_keys checks it)."""
    with rt.db.write() as conn:
        audit.record(conn, rt, user_actor(session, ip), "login_succeeded",
                     account_id=session.account.id, via="dashboard",
                     second_factor="security_key")
    return _new_session(rt, session.account, FULL, ip, replacing=session.token)


def current(rt: Runtime, token: str | None) -> WebSession | None:
    """The session this cookie holds, if it has not ended (idle, absolute, or a half-done
    login past its window); None otherwise."""
    if not token or len(token) > 100:
        return None
    digest = session_hash(token)
    now = rt.now_ms()
    with rt.db.read() as conn:
        row = session_rows.get(conn, digest)
        account = None if row is None else account_rows.by_id(conn, row.account_id)
    if row is None or account is None:
        return None
    settings = rt.settings
    limit_ms = (SECOND_FACTOR_WINDOW_MS if row.stage == SECOND_FACTOR
                else settings.web_session_max_s * 1000)
    if now - row.created_ms >= limit_ms or now - row.seen_ms >= settings.web_session_idle_s * 1000:
        with rt.db.write() as conn:
            session_rows.remove(conn, digest)
        return None
    if now - row.seen_ms >= TOUCH_EVERY_MS:
        with rt.db.write() as conn:
            session_rows.touch(conn, digest, now)
    return WebSession(token, account, row.stage, row.csrf, row.created_ms, row.challenge)


def log_out(rt: Runtime, session: WebSession, ip: str | None) -> None:
    with rt.db.write() as conn:
        if session_rows.remove(conn, session_hash(session.token)):
            audit.record(conn, rt, user_actor(session, ip), "logged_out",
                         account_id=session.account.id, via="dashboard")


def take_challenge(rt: Runtime, session: WebSession) -> bool:
    """Clear the challenge this session was given, if no other request has: True once."""
    if session.challenge is None:
        return False
    with rt.db.write() as conn:
        return session_rows.take_challenge(conn, session_hash(session.token), session.challenge)


def set_challenge(rt: Runtime, session: WebSession, challenge: str | None) -> None:
    with rt.db.write() as conn:
        session_rows.set_challenge(conn, session_hash(session.token), challenge)


def matches(expected: str, given: str | None) -> bool:
    """A form's CSRF token against the session's, in constant time."""
    return given is not None and secrets.compare_digest(expected.encode(), given.encode())
