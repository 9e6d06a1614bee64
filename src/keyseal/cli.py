"""``keyseal``: the operator's command line. Thin: it parses, calls a service, prints.

Every command that prints data takes ``--json``; every command takes ``--home`` and
``--db``. A mistake prints what was wrong and what to do, exits non-zero and changes nothing.
"""

from __future__ import annotations

import enum
import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from keyseal import errors
from keyseal.client.cli import scan_command, vault_app
from keyseal.domain.commands import (
    ConfirmTwoFactor,
    CreateAccount,
    CreateKey,
    CreateSubAccount,
    Credit,
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
from keyseal.domain.expiry import ExpiryPolicy, ExpiryScope
from keyseal.domain.keys import CreatedKey, Environment, KeyStatus
from keyseal.services import accounts as account_service
from keyseal.services import keys as key_service
from keyseal.services import ledger as ledger_service
from keyseal.services import master_keys
from keyseal.services.runtime import Runtime, open_runtime
from keyseal.settings import DB_ENV, HOME_ENV, Settings, shown_db_url

app = typer.Typer(help="Keyseal: self-hosted, OKX-compatible API keys.", no_args_is_help=True,
                  pretty_exceptions_enable=False, add_completion=False)
account_app = typer.Typer(help="Accounts.", no_args_is_help=True)
key_app = typer.Typer(help="API keys.", no_args_is_help=True)
ledger_app = typer.Typer(help="Sandbox balances.", no_args_is_help=True)
audit_app = typer.Typer(help="The audit trail.", no_args_is_help=True)
master_key_app = typer.Typer(help="The master keys that seal secrets at rest.",
                             no_args_is_help=True)
app.add_typer(account_app, name="account")
app.add_typer(key_app, name="key")
app.add_typer(ledger_app, name="ledger")
app.add_typer(audit_app, name="audit")
app.add_typer(master_key_app, name="master-key")
app.add_typer(vault_app, name="vault", help="The key holder's encrypted credential vault.")
app.command("scan")(scan_command)

out = Console()
err = Console(stderr=True, soft_wrap=True)

class Switch(enum.StrEnum):
    ON = "on"
    OFF = "off"


Home = Annotated[Path | None, typer.Option(
    "--home", envvar=HOME_ENV, help="Where the SQLite file and the master key live "
    "[default: ~/.keyseal].", show_default=False)]
Db = Annotated[str | None, typer.Option(
    "--db", envvar=DB_ENV, help="Database URL, e.g. postgresql://user@host/db "
    "[default: SQLite in the home].", show_default=False)]
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


def _settings(home: Path | None, db: str | None, **extra: Any) -> Settings:
    if home is not None:
        extra["home"] = home
    if db:
        extra["db_url"] = db
    return Settings(**extra)


@contextmanager
def _refusals() -> Iterator[None]:
    """Turn refusals into one clear line on stderr and exit code 1."""
    try:
        yield
    except errors.OkxError as refusal:
        err.print(f"[red]error:[/] {refusal.message} (code {refusal.code})"
                  + (f"\n  {refusal.detail}" if refusal.detail else ""), highlight=False)
        raise typer.Exit(1) from None
    except account_service.AccountExists as exists:
        err.print(f"[red]error:[/] an account with email {exists} already exists; "
                  "use another email or `keyseal key create --account` with this one.")
        raise typer.Exit(1) from None


def _open(settings: Settings, *, pooled: bool = True) -> Runtime:
    """Open the home, saying so when this made a new one."""
    with _refusals():
        rt = open_runtime(settings, pooled=pooled)
    if rt.new_home:
        err.print(f"Created a new Keyseal home in {settings.home} with master key v1 in "
                  f"{master_keys.key_file_of(rt)}; back it up: without it no secret sealed "
                  "here can be opened.", highlight=False)
    return rt


@contextmanager
def _runtime(home: Path | None, db: str | None) -> Iterator[Runtime]:
    """Open the home for one command; turn refusals into a clear message and exit code 1."""
    rt = _open(_settings(home, db), pooled=False)
    try:
        with _refusals():
            yield rt
    finally:
        rt.close()


def _read_secret(label: str, *, confirm: bool) -> str:
    """From stdin when it is not a terminal (scripts), else a hidden prompt."""
    if not sys.stdin.isatty():
        value = sys.stdin.readline().rstrip("\r\n")
        if not value:
            err.print(f"[red]error:[/] expected the {label} on standard input.")
            raise typer.Exit(2)
        return value
    return str(typer.prompt(label.capitalize(), hide_input=True, confirmation_prompt=confirm))


def _print_json(data: Any) -> None:
    out.print_json(json.dumps(data), highlight=False) if out.is_terminal else print(
        json.dumps(data))


def _when(ms: int | None) -> str:
    if ms is None:
        return "never"
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


# -- serve -------------------------------------------------------------------------------
@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8400,
    home: Home = None,
    db: Db = None,
    rate_limits: Annotated[Switch, typer.Option(
        "--rate-limits", help="OKX's per-endpoint rate limits; off for benchmarks and load tests.")
    ] = Switch.ON,
    trusted_proxy: Annotated[list[str] | None, typer.Option(
        "--trusted-proxy", help="A proxy (IP or CIDR) whose X-Forwarded-For is believed.")
    ] = None,
    tls_cert: Annotated[Path | None, typer.Option(help="PEM certificate, to serve HTTPS/WSS.")
                        ] = None,
    tls_key: Annotated[Path | None, typer.Option(help="PEM private key for --tls-cert.")
                       ] = None,
    log_level: Annotated[str, typer.Option(help="debug, info, warning or error.")] = "warning",
) -> None:
    """Run the OKX-compatible server (migrates the database first)."""
    import logging

    import uvicorn

    from keyseal.http.app import create_app

    logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: "
                        "%(message)s")
    settings = _settings(home, db, host=host, port=port, rate_limits=rate_limits is Switch.ON,
                         trusted_proxies=tuple(trusted_proxy or ()))
    rt = _open(settings)
    scheme = "https" if tls_cert else "http"
    err.print(f"Keyseal listening on {scheme}://{host}:{port}  (home {settings.home}, db "
              f"{shown_db_url(settings.db_url)}, rate limits "
              f"{rate_limits.value})")
    config = uvicorn.Config(create_app(rt), host=host, port=port, log_level=log_level,
                            access_log=False, lifespan="on", http="httptools", loop="uvloop",
                            ws="websockets-sansio", ssl_certfile=tls_cert, ssl_keyfile=tls_key,
                            server_header=False, date_header=False,
                            proxy_headers=False)  # X-Forwarded-For: see --trusted-proxy
    try:
        uvicorn.Server(config).run()
    finally:
        rt.close()


@app.command()
def init(home: Home = None, db: Db = None) -> None:
    """Create a Keyseal home: its folder, its master key and the database schema. A
    database that already has a master key is refused unless this home holds that key."""
    with _runtime(home, db) as rt:
        if not rt.new_home:
            listed = ", ".join(f"v{v.version}" for v in master_keys.versions(rt))
            err.print(f"{rt.settings.home} is already a Keyseal home (master keys {listed} "
                      "match the database); nothing changed.", highlight=False)


# -- accounts ----------------------------------------------------------------------------
@account_app.command("create")
def account_create(
    email: Annotated[str, typer.Argument(help="The account's email (its login).")],
    kyc_level: Annotated[int, typer.Option(help="KYC level 0-3.")] = 0,
    home: Home = None, db: Db = None, as_json: AsJson = False,
) -> None:
    """Create an account; the password is read from stdin (or prompted). Prints the uid."""
    password = _read_secret("password", confirm=True)
    with _runtime(home, db) as rt:
        account = account_service.create_account(rt, CreateAccount(email, password, kyc_level=kyc_level))
    if as_json:
        _print_json({"uid": account.uid, "email": account.email, "kycLv": account.kyc_level})
    else:
        print(account.uid)


def _account_row(account: Any) -> dict[str, Any]:
    return {"uid": account.uid, "email": account.email, "kycLv": account.kyc_level,
            "restricted": account.restricted, "subAcct": account.sub_name,
            "ts": str(account.created_ms)}


def _print_account(account: Any, as_json: bool, what: str) -> None:
    if as_json:
        _print_json(_account_row(account))
    else:
        out.print(f"{account.email or account.sub_name} (uid {account.uid}): {what}")


@account_app.command("create-sub")
def account_create_sub(
    name: Annotated[str, typer.Argument(help="Sub-account name: 6-20 letters and digits.")],
    master: Annotated[str, typer.Option("--master", help="Email of the master account.")],
    home: Home = None, db: Db = None, as_json: AsJson = False,
) -> None:
    """Create a sub-account under a master account."""
    with _runtime(home, db) as rt:
        sub = account_service.create_sub_account(rt, CreateSubAccount(master, name))
    _print_account(sub, as_json, f"sub-account of {master}")


@account_app.command("set-kyc")
def account_set_kyc(
    email: Annotated[str, typer.Argument(help="The account's email.")],
    level: Annotated[int, typer.Argument(help="KYC level 0-3 (2+ may create API keys).")],
    home: Home = None, db: Db = None, as_json: AsJson = False,
) -> None:
    """Set an account's KYC level."""
    with _runtime(home, db) as rt:
        account = account_service.set_kyc_level(rt, SetKycLevel(email, level))
    _print_account(account, as_json, f"KYC level {account.kyc_level}")


def _restriction_command(name: str, restricted: bool, doc: str) -> None:
    @account_app.command(name)
    def command(email: Annotated[str, typer.Argument(help="The account's email.")],
                home: Home = None, db: Db = None, as_json: AsJson = False) -> None:
        with _runtime(home, db) as rt:
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
    with _runtime(home, db) as rt:
        enrolment = account_service.enroll_2fa(rt, EnrollTwoFactor(email, code=code))
    if qr is not None:
        qr.write_text(enrolment.qr_svg())
    if as_json:
        _print_json({"secret": enrolment.secret, "uri": enrolment.uri})
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
    with _runtime(home, db) as rt:
        codes = account_service.confirm_2fa(rt, ConfirmTwoFactor(email, code))
    if as_json:
        _print_json({"recoveryCodes": codes})
        return
    out.print("Two-factor authentication is on. Recovery codes (each works once; store them "
              "now, they are not shown again):")
    for recovery in codes:
        out.print(f"  {recovery}")


# -- keys --------------------------------------------------------------------------------
@key_app.command("create")
def key_create(
    account: Annotated[str, typer.Option("--account", help="Email of the owning account.")],
    label: Annotated[str, typer.Option(help="A name, up to 50 letters or digits.")],
    perm: Annotated[str, typer.Option(help="read_only[,trade][,withdraw]")] = "read_only",
    ip: Annotated[str | None, typer.Option(
        help="Allowed IPs or CIDRs, comma or space separated (up to 20).")] = None,
    demo: Annotated[bool, typer.Option("--demo", help="A demo-trading key.")] = False,
    sub: Annotated[str | None, typer.Option(
        "--sub", help="Create the key for this sub-account of --account.")] = None,
    sub_account_access: Annotated[bool, typer.Option(
        "--sub-account-access", help="Let this master key call the sub-account endpoints.")
    ] = False,
    home: Home = None, db: Db = None, as_json: AsJson = False,
) -> None:
    """Create an API key. The passphrase is read from stdin (or prompted); the secret is
    printed once and can never be shown again."""
    passphrase = _read_secret("passphrase", confirm=True)
    with _runtime(home, db) as rt:
        created = key_service.create_key(rt, CreateKey(
            account, label=label, passphrase=passphrase, perm=perm, ip=ip, demo=demo, sub=sub,
            sub_account_access=sub_account_access))
    _show_created(created, as_json)


def _show_created(created: CreatedKey, as_json: bool) -> None:
    shown = {"apiKey": created.key.api_key, "secretKey": created.secret_key,
             "passphrase": created.passphrase, "label": created.key.label,
             "perm": created.key.permission.wire(), "ip": created.key.allowlist.wire(),
             "ts": str(created.key.created_ms)}
    if as_json:
        print(json.dumps(shown))
        return
    table = Table(title="New API key — copy it now: the secret and passphrase are shown once")
    table.add_column("field")
    table.add_column("value", overflow="fold")
    for name, value in shown.items():
        table.add_row(name, value)
    out.print(table)


def _key_row(key: Any) -> dict[str, Any]:
    return {"apiKey": key.api_key, "label": key.label, "perm": key.permission.wire(),
            "ip": key.allowlist.wire(), "environment": key.environment.value,
            "status": key.status.value, "ts": str(key.created_ms),
            "lastUsed": None if key.last_used_ms is None else str(key.last_used_ms),
            "lastUsedIp": key.last_used_ip,
            "expires": None if key.expires_ms is None else str(key.expires_ms),
            "subAccountAccess": key.sub_account_access}


@key_app.command("list")
def key_list(
    account: Annotated[str, typer.Option("--account", help="Email of the owning account.")],
    sub: Annotated[str | None, typer.Option("--sub", help="List this sub-account's keys.")
                   ] = None,
    stale: Annotated[float | None, typer.Option(
        "--stale", help="Only keys unused for at least this many days.")] = None,
    home: Home = None, db: Db = None, as_json: AsJson = False,
) -> None:
    """List an account's keys (never their secrets)."""
    with _runtime(home, db) as rt:
        found = key_service.list_keys(rt, account, sub=sub, stale_days=stale)
    rows = [_key_row(k) for k in found]
    if as_json:
        _print_json(rows)
        return
    owner = f"{account} / {sub}" if sub else account
    table = Table(title=f"API keys of {owner}" + (f", unused for {stale:g}+ days" if stale else ""))
    for column in ("label", "apiKey", "perm", "ip", "env", "status", "created", "last used",
                   "expires"):
        table.add_column(column, overflow="fold")
    for key in found:
        table.add_row(key.label, key.api_key, key.permission.wire(), key.allowlist.wire() or "-",
                      key.environment.value, key.status.value, _when(key.created_ms),
                      f"{_when(key.last_used_ms)} {key.last_used_ip or ''}".strip(),
                      "never" if key.expires_ms is None else _when(key.expires_ms))
    out.print(table)


@key_app.command("edit")
def key_edit(
    api_key: Annotated[str, typer.Argument(help="The apiKey.")],
    label: Annotated[str | None, typer.Option(help="A new label.")] = None,
    ip: Annotated[str | None, typer.Option(
        help='A new IP allow-list (comma or space separated); "" unbinds every IP.')] = None,
    perm: Annotated[str | None, typer.Option(
        help="Refused: permissions are immutable; create a new key instead.")] = None,
    home: Home = None, db: Db = None, as_json: AsJson = False,
) -> None:
    """Change a key's label and/or IP allow-list."""
    if label is None and ip is None and perm is None:
        err.print("[red]error:[/] nothing to change: give --label and/or --ip.")
        raise typer.Exit(2)
    with _runtime(home, db) as rt:
        key = key_service.edit_key(rt, EditKey(api_key, label=label, ip=ip, perm=perm))
    if as_json:
        _print_json(_key_row(key))
    else:
        out.print(f"key {api_key}: label {key.label}, ip {key.allowlist.wire() or '(any)'}")


@key_app.command("regenerate")
def key_regenerate(
    api_key: Annotated[str, typer.Argument(help="The apiKey whose secret or passphrase is lost.")],
    disable_old: Annotated[bool | None, typer.Option(
        "--disable-old/--keep-old", help="Disable the old key (asked when not given).")] = None,
    home: Home = None, db: Db = None, as_json: AsJson = False,
) -> None:
    """Create a new key with the same settings (the old secret cannot be recovered). The new
    passphrase is read from stdin (or prompted)."""
    passphrase = _read_secret("new passphrase", confirm=True)
    if disable_old is None:
        disable_old = sys.stdin.isatty() and typer.confirm("Disable the old key?", default=True)
    with _runtime(home, db) as rt:
        created = key_service.regenerate_key(rt, RegenerateKey(
            api_key, passphrase=passphrase, disable_old=disable_old))
    _show_created(created, as_json)
    if not as_json:
        out.print(f"old key {api_key} is {'disabled' if disable_old else 'still enabled'}")


@key_app.command("sweep")
def key_sweep(
    as_of: Annotated[str | None, typer.Option(
        "--as-of", help="Sweep as if it were this time (ISO-8601, e.g. 2026-12-31T00:00:00Z).")
    ] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="List what would be deleted.")
                       ] = False,
    home: Home = None, db: Db = None, as_json: AsJson = False,
) -> None:
    """Delete keys past the inactivity rule (no IP allow-list, unused for 30 days)."""
    as_of_ms = None if as_of is None else _parse_time_ms(as_of)
    with _runtime(home, db) as rt:
        swept = key_service.sweep(rt, SweepIdleKeys(as_of_ms=as_of_ms, dry_run=dry_run))
    if as_json:
        _print_json([_key_row(k) for k in swept])
        return
    verb = "would delete" if dry_run else "deleted"
    out.print(f"{verb} {len(swept)} idle key(s)")
    for key in swept:
        out.print(f"  {key.api_key} {key.label} (last activity {_when(key.last_activity_ms)})")


@key_app.command("expiry-policy")
def key_expiry_policy(
    days: Annotated[int | None, typer.Option(help="Idle days before deletion (0: never).")
                    ] = None,
    scope: Annotated[ExpiryScope | None, typer.Option(
        help="all: every key without an IP allow-list (the default); trade-or-withdraw: "
             "only those keys (OKX's current rule).")] = None,
    okx: Annotated[bool, typer.Option("--okx", help="OKX's rule: 14 days, trade-or-withdraw.")
                   ] = False,
    home: Home = None, db: Db = None, as_json: AsJson = False,
) -> None:
    """Show or set the inactivity rule, for every process sharing this database."""
    with _runtime(home, db) as rt:
        policy = rt.settings.expiry
        if okx or days is not None or scope is not None:
            policy = ExpiryPolicy.okx() if okx else ExpiryPolicy(
                policy.idle_days if days is None else days, scope or policy.scope)
            if policy.idle_days < 0:
                err.print("[red]error:[/] --days must be 0 (never) or more.")
                raise typer.Exit(2)
            key_service.set_expiry_policy(rt, SetExpiryPolicy(policy))
    if as_json:
        _print_json({"idleDays": policy.idle_days, "scope": policy.scope.value})
    else:
        out.print(policy.describe())


def _parse_time_ms(text: str) -> int:
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        err.print(f"[red]error:[/] {text!r} is not a time; use ISO-8601 like 2026-12-31T00:00:00Z")
        raise typer.Exit(2) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)


def _status_command(status: KeyStatus, verb: str) -> None:
    @key_app.command(verb)
    def command(api_key: Annotated[str, typer.Argument(help="The apiKey.")],
                home: Home = None, db: Db = None, as_json: AsJson = False) -> None:
        with _runtime(home, db) as rt:
            key = key_service.set_key_status(rt, SetKeyStatus(api_key, status))
        if as_json:
            _print_json(_key_row(key))
        else:
            out.print(f"key {api_key} ({key.label}) is now {status.value}")

    command.__doc__ = (f"{verb.capitalize()} a key (takes effect in a running server within "
                       "a second).")


_status_command(KeyStatus.DISABLED, "disable")
_status_command(KeyStatus.ENABLED, "enable")


def _confirmed(recent: bool) -> bool:
    if not typer.confirm("Delete it permanently?", default=False):
        return False
    return not recent or typer.confirm("It was used in the last 24 hours. Really delete?",
                                       default=False)


@key_app.command("delete")
def key_delete(api_key: Annotated[str, typer.Argument(help="The apiKey.")],
               yes: Annotated[bool, typer.Option("--yes", help="Do not ask.")] = False,
               home: Home = None, db: Db = None, as_json: AsJson = False) -> None:
    """Delete a key permanently. Shows when and from where it was last used, and asks
    (twice when it was used in the last 24 hours) unless --yes or not at a terminal."""
    with _runtime(home, db) as rt:
        key = key_service.get_key(rt, api_key)
        recent = key_service.used_recently(rt, key)
        last = _when(key.last_used_ms) + (f" from {key.last_used_ip}" if key.last_used_ip else "")
        err.print(f"key {api_key} ({key.label}) was last used: {last}")
        if recent:
            err.print("[yellow]warning:[/] this key was used in the last 24 hours; something "
                      "may still depend on it.")
        if not yes and sys.stdin.isatty() and not _confirmed(recent):
            err.print("nothing deleted")
            raise typer.Exit(1)
        key = key_service.delete_key(rt, DeleteKey(api_key))
    if as_json:
        _print_json(_key_row(key))
    else:
        out.print(f"key {api_key} ({key.label}) deleted")


# -- ledger ------------------------------------------------------------------------------
@ledger_app.command("credit")
def ledger_credit(
    account: Annotated[str, typer.Option("--account", help="Email of the account.")],
    ccy: Annotated[str, typer.Option(help="Currency, e.g. USDT.")],
    amount: Annotated[str, typer.Option(help="Amount to add, e.g. 1000 or 0.5.")],
    demo: Annotated[bool, typer.Option("--demo", help="Credit the demo-trading balance.")
                    ] = False,
    home: Home = None, db: Db = None, as_json: AsJson = False,
) -> None:
    """Add funds to an account's balance."""
    with _runtime(home, db) as rt:
        environment = Environment.DEMO if demo else Environment.LIVE
        balance = ledger_service.credit(rt, Credit(account, ccy, amount, environment=environment))
    result = {"ccy": balance.ccy, "cashBal": str(balance.cash), "availBal": str(balance.available),
              "environment": environment.value}
    if as_json:
        _print_json(result)
    else:
        out.print(f"{account}: {balance.ccy} balance is now {balance.cash} "
                  f"({environment.value})")


# -- audit -------------------------------------------------------------------------------
@audit_app.command("list")
def audit_list(
    account: Annotated[str | None, typer.Option(
        "--account", help="Only this account's events (and its sub-accounts').")] = None,
    key: Annotated[str | None, typer.Option("--key", help="Only this apiKey's events.")] = None,
    limit: Annotated[int, typer.Option(help="At most this many, newest first.")] = 200,
    home: Home = None, db: Db = None, as_json: AsJson = False,
) -> None:
    """The audit trail: time, actor, source IP, account, key and what changed."""
    from keyseal.services import audit

    with _runtime(home, db) as rt:
        account_ids = None
        if account is not None:
            owner = account_service.account_by_email(rt, account)
            account_ids = [owner.id, *(s.id for s in account_service.sub_accounts(rt, owner))]
        events = audit.events(rt, account_ids=account_ids, api_key=key, limit=limit)
    rows = [{"ts": str(e.ts_ms), "event": e.event, "actor": e.actor, "ip": e.source_ip,
             "accountId": e.account_id, "apiKey": e.api_key, "details": e.details}
            for e in events]
    if as_json:
        _print_json(rows)
        return
    table = Table(title="Audit trail (newest first)")
    for column in ("time", "event", "actor", "ip", "account", "apiKey", "details"):
        table.add_column(column, overflow="fold")
    for e in events:
        table.add_row(_when(e.ts_ms), e.event, e.actor, e.source_ip or "-", str(e.account_id or "-"),
                      e.api_key or "-", json.dumps(e.details, sort_keys=True))
    out.print(table)


# -- master keys -------------------------------------------------------------------------
@master_key_app.command("rotate")
def master_key_rotate(home: Home = None, db: Db = None, as_json: AsJson = False) -> None:
    """Add a new master key version and re-seal every secret under it (all or nothing)."""
    with _runtime(home, db) as rt:
        try:
            changed = master_keys.rotate(rt)
        except master_keys.RotationFailed as failure:
            err.print(f"[red]error:[/] the rotation failed and changed nothing ({failure}); "
                      "fix the cause and run `keyseal master-key rotate` again.",
                      highlight=False)
            raise typer.Exit(1) from None
    _report_reseal(rt.ring.current_version, changed, as_json)


@master_key_app.command("reseal")
def master_key_reseal(home: Home = None, db: Db = None, as_json: AsJson = False) -> None:
    """Re-seal every secret under the newest master key version."""
    with _runtime(home, db) as rt:
        changed = master_keys.reseal_all(rt)
    _report_reseal(rt.ring.current_version, changed, as_json)


@master_key_app.command("retire")
def master_key_retire(
    version: Annotated[int, typer.Argument(help="The version to remove (see `master-key list`).")],
    home: Home = None, db: Db = None, as_json: AsJson = False,
) -> None:
    """Remove an old master key version that no secret uses any more."""
    with _runtime(home, db) as rt:
        master_keys.retire(rt, version)
        left = [v.version for v in master_keys.versions(rt)]
    if as_json:
        _print_json({"retired": version, "versions": left})
    else:
        out.print(f"master key v{version} retired; versions left: "
                  + ", ".join(f"v{v}" for v in left))


@master_key_app.command("list")
def master_key_list(home: Home = None, db: Db = None, as_json: AsJson = False) -> None:
    """The master key versions: fingerprint (never the key), created, secrets each seals."""
    with _runtime(home, db) as rt:
        found = master_keys.versions(rt)
    rows = [{"version": v.version, "fingerprint": v.fingerprint, "ts": str(v.created_ms),
             "sealed": v.sealed} for v in found]
    if as_json:
        _print_json(rows)
        return
    table = Table(title="Master keys (the newest seals; every one opens)")
    for column in ("version", "fingerprint", "created", "secrets sealed"):
        table.add_column(column, overflow="fold")
    for v in found:
        table.add_row(f"v{v.version}", v.fingerprint[:16], _when(v.created_ms), str(v.sealed))
    out.print(table)


def _report_reseal(version: int, changed: int, as_json: bool) -> None:
    if as_json:
        _print_json({"version": version, "resealed": changed})
    else:
        out.print(f"master key v{version} now seals every secret ({changed} re-sealed)")


def main() -> None:
    app()


if __name__ == "__main__":
    main()
