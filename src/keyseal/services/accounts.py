"""Account actions: sign-up, login, KYC, restrictions, sub-accounts, two-factor."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from functools import cache

from sqlalchemy import Connection
from sqlalchemy.exc import IntegrityError

from keyseal import errors
from keyseal.crypto.passwords import hash_secret, verify_hash
from keyseal.crypto.qr import qr_svg
from keyseal.crypto.totp import new_recovery_codes, new_totp_secret, recovery_code_hash, totp_step, totp_uri
from keyseal.domain.accounts import (
    Account,
    AccountExists,
    check_email,
    check_kyc_level,
    check_sub_name,
)
from keyseal.domain.actors import Actor
from keyseal.domain.commands import (
    ConfirmTwoFactor,
    CreateAccount,
    CreateSubAccount,
    DisableTwoFactor,
    EnrollTwoFactor,
    SetKycLevel,
    SetRestricted,
)
from keyseal.domain.keys import ApiKey
from keyseal.services import audit
from keyseal.services.runtime import Runtime, random_digits
from keyseal.services.unit_of_work import Work, unit_of_work
from keyseal.store import accounts as account_rows
from keyseal.store import keys as key_rows
from keyseal.store import security_keys as security_key_rows
from keyseal.store.accounts import AccountName, AccountSummary, LoginFailures

MIN_PASSWORD_LENGTH = 8
#: a one-time code that a security key's answer earned (services.security_keys), accepted
#: wherever an authenticator code is
SECURITY_KEY_GRANT_PREFIX = "sk-"


def grant_hash(code: str) -> str:
    return hashlib.sha256(code.encode()).hexdigest()


def create_account(rt: Runtime, cmd: CreateAccount) -> Account:
    """Sign-up: email + password (argon2id). The uid is a random 16-digit number."""
    email = check_email(cmd.email)
    check_kyc_level(cmd.kyc_level)
    if len(cmd.password) < MIN_PASSWORD_LENGTH:
        raise errors.PARAM_ERROR(
            "password", detail=f"a password needs at least {MIN_PASSWORD_LENGTH} characters")
    password_hash = hash_secret(cmd.password)
    try:
        with unit_of_work(rt) as work:
            if account_rows.by_email(work.conn, email) is not None:
                raise AccountExists(email)
            account = account_rows.insert_account(
                work.conn, uid=_new_uid(work.conn), email=email, password_hash=password_hash,
                kyc_level=cmd.kyc_level, created_ms=rt.now_ms())
            work.audit(cmd.actor, "signed_up", account_id=account.id, email=email,
                       kyc_level=cmd.kyc_level)
    except IntegrityError:
        raise AccountExists(email) from None
    return account


def _new_uid(conn: Connection) -> str:
    uid = random_digits(16)
    while account_rows.uid_taken(conn, uid):
        uid = random_digits(16)
    return uid


def account_by_email(rt: Runtime, email: str) -> Account:
    with rt.db.read() as conn:
        return by_email(conn, email)


def by_email(conn: Connection, email: str) -> Account:
    """The account with this email, in the caller's transaction; 50008 when there is none."""
    account = account_rows.by_email(conn, email.strip().lower())
    if account is None:
        raise errors.USER_NOT_FOUND(
            detail=f"no account with email {email!r}; create it with `keyseal account create`")
    return account


def account_by_id(rt: Runtime, account_id: int) -> Account:
    with rt.db.read() as conn:
        return by_id(conn, account_id)


def by_id(conn: Connection, account_id: int) -> Account:
    account = account_rows.by_id(conn, account_id)
    if account is None:
        raise errors.USER_NOT_FOUND(detail=f"no account {account_id}")
    return account


def master_of(conn: Connection, account: Account) -> Account:
    """The master account (an account is its own master unless it is a sub-account)."""
    return account if account.master_id is None else by_id(conn, account.master_id)


def sub_of(conn: Connection, master: Account, name: str | None) -> Account:
    """The master's sub-account called ``name``; 50014 when no name, 59510 when none."""
    if not name:
        raise errors.PARAM_EMPTY("subAcct")
    sub = account_rows.sub_by_name(conn, master.id, name)
    if sub is None:
        raise errors.SUB_NOT_FOUND(detail=f"{master.email or master.uid} has no sub-account {name!r}")
    return sub


def acting_master(conn: Connection, actor: Actor) -> Account:
    """The master account an API or dashboard actor acts for."""
    if actor.account_id is None:
        raise errors.USER_NOT_FOUND(detail=f"{actor} acts for no account")
    master = by_id(conn, actor.account_id)
    if master.is_sub:
        raise errors.ONLY_MAIN_ACCOUNT()
    return master


# -- the operator's overview ---------------------------------------------------------------
@dataclass(frozen=True)
class AccountDetails:
    """One master account as ``keyseal account show`` tells it: its keys, and each
    sub-account with its keys."""

    account: Account
    two_factor: bool
    recovery_codes_left: int
    keys: list[ApiKey]
    sub_accounts: list[tuple[Account, list[ApiKey]]]


def list_accounts(rt: Runtime) -> list[AccountSummary]:
    """Every master account, oldest first, with its sub-accounts and keys counted."""
    with rt.db.read() as conn:
        return account_rows.masters(conn)


def show_account(rt: Runtime, email: str) -> AccountDetails:
    with rt.db.read() as conn:
        account = by_email(conn, email)
        return AccountDetails(
            account, account_rows.totp_state(conn, account.id).sealed is not None,
            account_rows.unused_recovery_codes(conn, account.id),
            key_rows.for_account(conn, account.id),
            [(sub, key_rows.for_account(conn, sub.id))
             for sub in account_rows.subs_of(conn, account.id)])


def account_names(rt: Runtime, account_ids: list[int]) -> dict[int, AccountName]:
    """The accounts' names (email, or master email and sub-account name), by id."""
    with rt.db.read() as conn:
        return account_rows.names_of(conn, account_ids)


# -- login ---------------------------------------------------------------------------------
@cache
def _decoy_hash() -> str:
    """Verified against when the email is unknown, so both failures cost the same time."""
    return hash_secret("keyseal-decoy-password")


def login(rt: Runtime, email: str, password: str, *, totp_code: str | None = None,
          ip: str | None = None) -> Account:
    """Password (and TOTP, once enrolled). Every failure says only "User not found or
    password invalid", after the same argon2 work; failures slow down, then lock.

    The attempt is counted in a transaction of its own before anything is checked, and a
    failure is audited in one of its own: both must outlast the refusal."""
    key = email.strip().lower()
    actor = Actor.user(key[:128], None, ip)
    attempt = _admit_attempt(rt, key)
    with rt.db.read() as conn:
        account = account_rows.by_email(conn, key)
        stored = None if account is None else account_rows.password_hash(conn, account.id)
    password_ok = verify_hash(stored or _decoy_hash(), password) and account is not None
    if not password_ok or account is None:
        _login_failed(rt, actor, account, attempt)
        raise errors.LOGIN_FAILED()
    actor = Actor.user(key[:128], account.id, ip)
    try:
        with unit_of_work(rt) as work:
            _verify_second_factor(work, account, totp_code, required=False)
            account_rows.clear_login_failures(work.conn, key)
            work.audit(actor, "login_succeeded", account_id=account.id)
    except errors.OkxError:
        _login_failed(rt, actor, account, attempt, reason="2fa")
        raise
    return account


def _admit_attempt(rt: Runtime, key: str) -> LoginFailures:
    """Refuse the attempt if ``key`` must still wait; else count it as a failure up front,
    in its own committed transaction, so parallel attempts cannot all slip past the throttle
    (success clears the count). Logins count per email, second factors per account."""
    policy = rt.settings.login
    now = rt.now_ms()
    with rt.db.write() as conn:
        before = account_rows.locked_login_failures(conn, key)
        if before is not None:
            ready_at = before.last_failure_ms + int(policy.wait_after(before.failures) * 1000)
            if now < ready_at:
                raise errors.LOGIN_THROTTLED(-(-(ready_at - now) // 1000))
        count = (before.failures if before else 0) + 1
        locked = now + int(policy.lock_s * 1000) if count >= policy.lock_after else None
        state = LoginFailures(count, now, locked)
        account_rows.save_login_failures(conn, key, state)
    return state


def _login_failed(rt: Runtime, actor: Actor, account: Account | None, attempt: LoginFailures,
                  reason: str = "password") -> None:
    with rt.db.write() as conn:
        audit.record(conn, rt, actor, "login_failed", account_id=account.id if account else None,
                     reason=reason, failures=attempt.failures,
                     locked=attempt.locked_until_ms is not None)


# -- operator actions ----------------------------------------------------------------------
def set_kyc_level(rt: Runtime, cmd: SetKycLevel) -> Account:
    check_kyc_level(cmd.level)
    with unit_of_work(rt) as work:
        account = by_email(work.conn, cmd.email)
        account_rows.lock(work.conn, account.id)
        account_rows.set_fields(work.conn, account.id, kyc_level=cmd.level)
        work.changed("kyc", account_id=account.id)
        work.audit(cmd.actor, "kyc_set", account_id=account.id, old=account.kyc_level,
                   new=cmd.level)
    return replace(account, kyc_level=cmd.level)


def set_restricted(rt: Runtime, cmd: SetRestricted) -> Account:
    """A restricted account cannot create or edit keys, and its keys (and its sub-accounts'
    keys) are refused with 50100 until the restriction is lifted."""
    with unit_of_work(rt) as work:
        account = by_email(work.conn, cmd.email)
        account_rows.set_fields(work.conn, account.id, restricted=cmd.restricted)
        work.changed("restricted" if cmd.restricted else "unrestricted", account_id=account.id)
        work.audit(cmd.actor, "restriction_set" if cmd.restricted else "restriction_lifted",
                   account_id=account.id)
    return replace(account, restricted=cmd.restricted)


def create_sub_account(rt: Runtime, cmd: CreateSubAccount) -> Account:
    check_sub_name(cmd.name)
    try:
        with unit_of_work(rt) as work:
            master = by_email(work.conn, cmd.master_email)
            if master.is_sub:
                raise errors.ONLY_MAIN_ACCOUNT()
            if account_rows.sub_by_name(work.conn, master.id, cmd.name) is not None:
                raise errors.SUB_NAME_TAKEN()
            sub = account_rows.insert_account(
                work.conn, uid=_new_uid(work.conn), email=None, password_hash=None,
                kyc_level=master.kyc_level, created_ms=rt.now_ms(), master_id=master.id,
                sub_name=cmd.name)
            work.audit(cmd.actor, "sub_account_created", account_id=master.id,
                       sub_account=cmd.name, sub_uid=sub.uid)
    except IntegrityError:
        raise errors.SUB_NAME_TAKEN() from None
    return sub


def sub_account(rt: Runtime, master: Account, name: str) -> Account:
    with rt.db.read() as conn:
        return sub_of(conn, master, name)


def sub_accounts(rt: Runtime, master: Account) -> list[Account]:
    with rt.db.read() as conn:
        return account_rows.subs_of(conn, master.id)


def subs_of_actor(rt: Runtime, actor: Actor) -> list[Account]:
    """The sub-accounts of the master an API actor acts for."""
    with rt.db.read() as conn:
        return account_rows.subs_of(conn, acting_master(conn, actor).id)


def sub_of_actor(rt: Runtime, actor: Actor, name: str | None) -> Account:
    with rt.db.read() as conn:
        return sub_of(conn, acting_master(conn, actor), name)


# -- two-factor ----------------------------------------------------------------------------
@dataclass(frozen=True)
class Enrolment:
    secret: str = field(repr=False)
    uri: str = field(repr=False)  # carries the secret too

    def qr_svg(self) -> str:
        return qr_svg(self.uri)


def enroll_2fa(rt: Runtime, cmd: EnrollTwoFactor) -> Enrolment:
    """Start TOTP enrolment: a new seed, pending until a first code confirms it. While the
    account has a second factor (the app, or a security key), starting needs it: a current
    code, or a security key's grant, so a stolen session can neither swap the seed nor add
    one of its own."""
    account = account_by_email(rt, cmd.email)
    secret = new_totp_secret()
    sealed = rt.keyring.seal(secret.encode(), totp_context(account))
    with second_factor_attempt(rt, account), unit_of_work(rt) as work:
        require_existing_factor(work, account, cmd.code)
        account_rows.set_fields(work.conn, account.id, totp_pending_sealed=sealed)
        work.audit(cmd.actor, "2fa_enrolment_started", account_id=account.id)
    return Enrolment(secret, totp_uri(secret, account.email or account.uid))


def confirm_2fa(rt: Runtime, cmd: ConfirmTwoFactor) -> list[str]:
    """Confirm enrolment with a first code; returns the recovery codes, shown this once."""
    account = account_by_email(rt, cmd.email)
    codes = new_recovery_codes()
    with second_factor_attempt(rt, account), unit_of_work(rt) as work:
        state = account_rows.totp_state(work.conn, account.id, for_update=True)
        if state.pending_sealed is None:
            if state.sealed is not None:
                raise errors.TWO_FA_INVALID(detail="two-factor authentication is already on; "
                                            "each code works once")
            raise errors.TWO_FA_NOT_ENROLLED(detail="run `keyseal account enroll-2fa` first")
        secret = rt.open_sealed(state.pending_sealed, totp_context(account)).decode()
        step = totp_step(secret, cmd.code, rt.clock(), None)
        if step is None:
            raise errors.TWO_FA_INVALID()
        account_rows.set_fields(work.conn, account.id, totp_sealed=state.pending_sealed,
                                totp_pending_sealed=None, totp_last_step=step)
        account_rows.replace_recovery_codes(work.conn, account.id,
                                            [recovery_code_hash(c) for c in codes])
        work.audit(cmd.actor, "2fa_enabled", account_id=account.id)
    return codes


def disable_2fa(rt: Runtime, cmd: DisableTwoFactor) -> Account:
    """Turn TOTP off and void the recovery codes. Needs a current or a recovery code, checked
    and throttled like every second factor, so a stolen password alone cannot turn it off."""
    account = account_by_email(rt, cmd.email)
    with second_factor_attempt(rt, account), unit_of_work(rt) as work:
        _verify_second_factor(work, account, cmd.code, required=True)
        account_rows.set_fields(work.conn, account.id, totp_sealed=None,
                                totp_pending_sealed=None, totp_last_step=None)
        account_rows.replace_recovery_codes(work.conn, account.id, [])
        work.audit(cmd.actor, "2fa_disabled", account_id=account.id)
    return account


@contextmanager
def second_factor_attempt(rt: Runtime, account: Account) -> Iterator[None]:
    """Second-factor codes are throttled like passwords: the attempt is counted before the
    block (in its own transaction, so a refusal cannot roll the count back) and cleared when
    the block succeeds."""
    throttle_key = f"2fa:{account.uid}"
    _admit_attempt(rt, throttle_key)
    yield
    with rt.db.write() as conn:
        account_rows.clear_login_failures(conn, throttle_key)


def require_existing_factor(work: Work, account: Account, code: str | None) -> None:
    """Adding a second factor to an account that has one needs that one: a current TOTP or
    recovery code, or a security key's grant. An account with none may add its first."""
    has_totp = account_rows.totp_state(work.conn, account.id, for_update=True).sealed is not None
    if not has_totp and security_key_rows.count_for_account(work.conn, account.id) == 0:
        return
    if not code:
        raise errors.TWO_FA_REQUIRED(detail="adding a second factor needs the current one")
    _verify_second_factor(work, account, code, required=True)


def check_second_factor(work: Work, account: Account, code: str | None) -> None:
    """Require a valid, unused TOTP or recovery code (for key changes from the dashboard),
    in the use case's transaction. Callers count the attempt with ``second_factor_attempt``."""
    _verify_second_factor(work, account, code, required=True)


def _verify_second_factor(work: Work, account: Account, code: str | None, *,
                          required: bool) -> None:
    conn, rt = work.conn, work.rt
    if code and code.startswith(SECURITY_KEY_GRANT_PREFIX):  # a security key answered instead
        if security_key_rows.use_grant(conn, account.id, grant_hash(code), rt.now_ms()):
            return
        raise errors.TWO_FA_INVALID()
    state = account_rows.totp_state(conn, account.id, for_update=True)
    if state.sealed is None:
        if required:
            raise errors.TWO_FA_NOT_ENROLLED(detail="enrol with `keyseal account enroll-2fa`")
        return
    if not code:
        raise errors.TWO_FA_REQUIRED()
    secret = rt.open_sealed(state.sealed, totp_context(account)).decode()
    step = totp_step(secret, code, rt.clock(), state.last_step)
    if step is not None:
        account_rows.set_fields(conn, account.id, totp_last_step=step)
        return
    if account_rows.use_recovery_code(conn, account.id, recovery_code_hash(code), rt.now_ms()):
        work.audit(Actor.user(account.email or account.uid, account.id), "recovery_code_used",
                   account_id=account.id)
        return
    raise errors.TWO_FA_INVALID()


def totp_context(account: Account) -> bytes:
    """What a TOTP seed is sealed to, so a seed cannot be moved to another account's row."""
    return f"totp:{account.uid}".encode()
