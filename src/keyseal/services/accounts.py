"""Account actions."""

from __future__ import annotations

from sqlalchemy.exc import IntegrityError

from keyseal import errors
from keyseal.crypto import hash_secret
from keyseal.domain.accounts import Account, check_email, check_kyc_level
from keyseal.services.runtime import Runtime, random_digits
from keyseal.store import accounts as account_rows

MIN_PASSWORD_LENGTH = 8


class AccountExists(Exception):
    pass


def create_account(rt: Runtime, email: str, password: str, *, kyc_level: int = 0) -> Account:
    """Sign-up: email + password (argon2id). The uid is a random 16-digit number."""
    email = check_email(email)
    check_kyc_level(kyc_level)
    if len(password) < MIN_PASSWORD_LENGTH:
        raise errors.PARAM_ERROR(
            "password", detail=f"a password needs at least {MIN_PASSWORD_LENGTH} characters")
    password_hash = hash_secret(password)
    try:
        with rt.db.write() as conn:
            if account_rows.by_email(conn, email) is not None:
                raise AccountExists(email)
            uid = random_digits(16)
            while account_rows.uid_taken(conn, uid):
                uid = random_digits(16)
            return account_rows.insert_account(conn, uid=uid, email=email,
                                               password_hash=password_hash,
                                               kyc_level=kyc_level, created_ms=rt.now_ms())
    except IntegrityError:
        raise AccountExists(email) from None


def account_by_email(rt: Runtime, email: str) -> Account:
    with rt.db.read() as conn:
        account = account_rows.by_email(conn, email.strip().lower())
    if account is None:
        raise errors.USER_NOT_FOUND(
            detail=f"no account with email {email!r}; create it with `keyseal account create`")
    return account
