"""``keyseal account …``: sign-up, KYC, restriction, sub-accounts, 2FA."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from keyseal.cli.common import AsJson, Db, Home, lazy, out, print_json, read_secret, runtime
from keyseal.cli.groups import account_app
from keyseal.domain.commands import (
    ConfirmTwoFactor,
    CreateAccount,
    CreateSubAccount,
    EnrollTwoFactor,
    SetKycLevel,
    SetRestricted,
)

if TYPE_CHECKING:
    from keyseal.services import accounts as account_service
else:
    account_service = lazy("keyseal.services.accounts")

# -- accounts ----------------------------------------------------------------------------
@account_app.command("create")
def account_create(
    email: Annotated[str, typer.Argument(help="The account's email (its login).")],
    kyc_level: Annotated[int, typer.Option(help="KYC level 0-3.")] = 0,
    home: Home = None, db: Db = None, as_json: AsJson = False,
) -> None:
    """Create an account; the password is read from stdin (or prompted). Prints the uid."""
    password = read_secret("password", confirm=True)
    with runtime(home, db) as rt:
        account = account_service.create_account(rt, CreateAccount(email, password, kyc_level=kyc_level))
    if as_json:
        print_json({"uid": account.uid, "email": account.email, "kycLv": account.kyc_level})
    else:
        print(account.uid)


def _account_row(account: Any) -> dict[str, Any]:
    return {"uid": account.uid, "email": account.email, "kycLv": account.kyc_level,
            "restricted": account.restricted, "subAcct": account.sub_name,
            "ts": str(account.created_ms)}


def _print_account(account: Any, as_json: bool, what: str) -> None:
    if as_json:
        print_json(_account_row(account))
    else:
        out.print(f"{account.email or account.sub_name} (uid {account.uid}): {what}")


@account_app.command("create-sub")
def account_create_sub(
    name: Annotated[str, typer.Argument(help="Sub-account name: 6-20 letters and digits.")],
    master: Annotated[str, typer.Option("--master", help="Email of the master account.")],
    home: Home = None, db: Db = None, as_json: AsJson = False,
) -> None:
    """Create a sub-account under a master account."""
    with runtime(home, db) as rt:
        sub = account_service.create_sub_account(rt, CreateSubAccount(master, name))
    _print_account(sub, as_json, f"sub-account of {master}")


@account_app.command("set-kyc")
def account_set_kyc(
    email: Annotated[str, typer.Argument(help="The account's email.")],
    level: Annotated[int, typer.Argument(help="KYC level 0-3 (2+ may create API keys).")],
    home: Home = None, db: Db = None, as_json: AsJson = False,
) -> None:
    """Set an account's KYC level."""
    with runtime(home, db) as rt:
        account = account_service.set_kyc_level(rt, SetKycLevel(email, level))
    _print_account(account, as_json, f"KYC level {account.kyc_level}")


def _restriction_command(name: str, restricted: bool, doc: str) -> None:
    @account_app.command(name)
    def command(email: Annotated[str, typer.Argument(help="The account's email.")],
                home: Home = None, db: Db = None, as_json: AsJson = False) -> None:
        with runtime(home, db) as rt:
            account = account_service.set_restricted(rt, SetRestricted(email, restricted))
        _print_account(account, as_json, "restricted: its keys are refused (50100)"
                       if restricted else "restriction lifted")

    command.__doc__ = doc


_restriction_command("restrict", True, "Put a security restriction on an account: no key "
                     "changes, and its keys are refused until lifted.")
_restriction_command("unrestrict", False, "Lift an account's security restriction.")


@account_app.command("enroll-2fa")
def account_enroll_2fa(
    email: Annotated[str, typer.Argument(help="The account's email.")],
    qr: Annotated[Path | None, typer.Option(help="Also write the QR code to this SVG file.")
                  ] = None,
    code: Annotated[str | None, typer.Option(
        "--code", help="A current code (or recovery code): needed to enrol again while 2FA is on.")
    ] = None,
    home: Home = None, db: Db = None, as_json: AsJson = False,
) -> None:
    """Start TOTP enrolment: prints the secret and the otpauth:// URI for an authenticator
    app; confirm with `keyseal account confirm-2fa EMAIL CODE`."""
    with runtime(home, db) as rt:
        enrolment = account_service.enroll_2fa(rt, EnrollTwoFactor(email, code=code))
    if qr is not None:
        qr.write_text(enrolment.qr_svg())
    if as_json:
        print_json({"secret": enrolment.secret, "uri": enrolment.uri})
        return
    out.print(f"secret: {enrolment.secret}\nuri:    {enrolment.uri}")
    out.print("Scan it (or type the secret) in an authenticator app, then run "
              f"`keyseal account confirm-2fa {email} CODE`.")


@account_app.command("confirm-2fa")
def account_confirm_2fa(
    email: Annotated[str, typer.Argument(help="The account's email.")],
    code: Annotated[str, typer.Argument(help="The 6-digit code the app shows now.")],
    home: Home = None, db: Db = None, as_json: AsJson = False,
) -> None:
    """Confirm TOTP enrolment; prints the recovery codes, once."""
    with runtime(home, db) as rt:
        codes = account_service.confirm_2fa(rt, ConfirmTwoFactor(email, code))
    if as_json:
        print_json({"recoveryCodes": codes})
        return
    out.print("Two-factor authentication is on. Recovery codes (each works once; store them "
              "now, they are not shown again):")
    for recovery in codes:
        out.print(f"  {recovery}")
