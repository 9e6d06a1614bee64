"""``keyseal account …``: sign-up, KYC, restriction, sub-accounts, 2FA."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from keyseal.cli.common import AsJson, Db, Home, lazy, out, print_json, read_secret, runtime, when
from keyseal.cli.groups import account_app
from keyseal.cli.keys import key_row
from keyseal.domain.commands import (
    ConfirmTwoFactor,
    CreateAccount,
    CreateSubAccount,
    DisableTwoFactor,
    EnrollTwoFactor,
    SetKycLevel,
    SetRestricted,
)
from keyseal.tables import print_table

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
        out.print(f"account {account.email} created: uid {account.uid}, KYC level "
                  f"{account.kyc_level}", highlight=False)


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
        _write_owner_only(qr, enrolment.qr_svg())
    if as_json:
        print_json({"secret": enrolment.secret, "uri": enrolment.uri})
        return
    out.print(f"secret: {enrolment.secret}\nuri:    {enrolment.uri}")
    out.print("Scan it (or type the secret) in an authenticator app, then run "
              f"`keyseal account confirm-2fa {email} CODE`.")


def _write_owner_only(path: Path, text: str) -> None:
    """Write a file only its owner may read (the QR code holds the TOTP secret); a file that
    existed is narrowed to 0600 before a byte of the secret reaches it."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as file:
        os.fchmod(fd, 0o600)
        file.write(text)


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


@account_app.command("disable-2fa")
def account_disable_2fa(
    email: Annotated[str, typer.Argument(help="The account's email.")],
    code: Annotated[str | None, typer.Option(
        "--code", help="A current code or a recovery code [default: read from stdin, or "
        "prompted].", show_default=False)] = None,
    home: Home = None, db: Db = None, as_json: AsJson = False,
) -> None:
    """Turn two-factor authentication off; its recovery codes stop working. Needs a current
    code or a recovery code (attempts are throttled like logins)."""
    if code is None:
        code = read_secret("current or recovery code", confirm=False)
    with runtime(home, db) as rt:
        account = account_service.disable_2fa(rt, DisableTwoFactor(email, code))
    if as_json:
        print_json({**_account_row(account), "twoFactor": False})
    else:
        out.print(f"{account.email} (uid {account.uid}): two-factor authentication is off; "
                  "its recovery codes no longer work", highlight=False)


# -- the operator's overview -------------------------------------------------------------
@account_app.command("list")
def account_list(home: Home = None, db: Db = None, as_json: AsJson = False) -> None:
    """Every master account: KYC level, restriction, 2FA, sub-accounts and keys."""
    with runtime(home, db, reads_only=True) as rt:
        found = account_service.list_accounts(rt)
    rows = [{**_account_row(s.account), "twoFactor": s.two_factor,
             "subAccounts": s.sub_accounts, "keys": s.keys} for s in found]
    if as_json:
        print_json(rows)
        return
    print_table(out, ("email", "uid", "KYC", "restricted", "2FA", "subs", "keys"),
                [(s.account.email, s.account.uid, s.account.kyc_level,
                  "yes" if s.account.restricted else "no", "on" if s.two_factor else "off",
                  s.sub_accounts, s.keys) for s in found],
                title=f"Master accounts ({len(found)}); `keyseal account show EMAIL` for one")


@account_app.command("show")
def account_show(
    email: Annotated[str, typer.Argument(help="The account's email.")],
    home: Home = None, db: Db = None, as_json: AsJson = False,
) -> None:
    """One account: KYC level, restriction, 2FA, its keys, and its sub-accounts with theirs."""
    with runtime(home, db, reads_only=True) as rt:
        shown = account_service.show_account(rt, email)
    account = shown.account
    if as_json:
        print_json({**_account_row(account), "twoFactor": shown.two_factor,
                    "recoveryCodesLeft": shown.recovery_codes_left,
                    "keys": [key_row(k) for k in shown.keys],
                    "subAccounts": [{**_account_row(sub), "keys": [key_row(k) for k in keys]}
                                    for sub, keys in shown.sub_accounts]})
        return
    two_factor = (f"2FA on ({shown.recovery_codes_left} recovery codes left)"
                  if shown.two_factor else "2FA off")
    out.print(f"{account.email} (uid {account.uid}), created {when(account.created_ms)}\n"
              f"  KYC level {account.kyc_level}, "
              f"{'restricted' if account.restricted else 'not restricted'}, {two_factor}",
              highlight=False)
    rows: list[tuple[object, ...]] = []
    for owner, keys in [(account.email or "", shown.keys),
                        *((f"/ {sub.sub_name}", keys) for sub, keys in shown.sub_accounts)]:
        if not keys:
            rows.append((owner, "(no keys)", "", "", "", "", "", ""))
        rows += [(owner, key.label, key.api_key, key.permission.wire(),
                  key.allowlist.wire() or "-", key.environment.value, key.status.value,
                  when(key.last_used_ms)) for key in keys]
    print_table(out, ("owner", "label", "apiKey", "perm", "ip", "env", "status", "last used"),
                rows, title=f"Keys and sub-accounts of {account.email}")
