"""``keyseal``: the operator's command line. Thin: it parses, calls a service, prints.

Every command that prints data takes ``--json``; every command takes ``--home`` and
``--db``. A mistake prints what was wrong and what to do, exits non-zero and changes nothing.
"""

from __future__ import annotations

import enum
import json
import os
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
from keyseal.crypto import MASTER_KEY_ENV, save_keyring
from keyseal.domain.keys import Environment, KeyStatus
from keyseal.services import accounts as account_service
from keyseal.services import keys as key_service
from keyseal.services import ledger as ledger_service
from keyseal.services.runtime import Runtime, open_runtime
from keyseal.settings import DB_ENV, HOME_ENV, Settings

app = typer.Typer(help="Keyseal: self-hosted, OKX-compatible API keys.", no_args_is_help=True,
                  pretty_exceptions_enable=False, add_completion=False)
account_app = typer.Typer(help="Accounts.", no_args_is_help=True)
key_app = typer.Typer(help="API keys.", no_args_is_help=True)
ledger_app = typer.Typer(help="Sandbox balances.", no_args_is_help=True)
master_key_app = typer.Typer(help="The master keys that seal secrets at rest.",
                             no_args_is_help=True)
app.add_typer(account_app, name="account")
app.add_typer(key_app, name="key")
app.add_typer(ledger_app, name="ledger")
app.add_typer(master_key_app, name="master-key")

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
def _runtime(home: Path | None, db: str | None) -> Iterator[Runtime]:
    """Open the home for one command; turn refusals into a clear message and exit code 1."""
    rt = None
    try:
        rt = open_runtime(_settings(home, db), pooled=False)
        yield rt
    except errors.OkxError as refusal:
        err.print(f"[red]error:[/] {refusal.message} (code {refusal.code})"
                  + (f"\n  {refusal.detail}" if refusal.detail else ""))
        raise typer.Exit(1) from None
    except account_service.AccountExists as exists:
        err.print(f"[red]error:[/] an account with email {exists} already exists; "
                  "use another email or `keyseal key create --account` with this one.")
        raise typer.Exit(1) from None
    finally:
        if rt is not None:
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
    from sqlalchemy.engine import make_url

    from keyseal.http.app import create_app

    logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: "
                        "%(message)s")
    settings = _settings(home, db, host=host, port=port, rate_limits=rate_limits is Switch.ON,
                         trusted_proxies=tuple(trusted_proxy or ()))
    rt = open_runtime(settings)
    scheme = "https" if tls_cert else "http"
    err.print(f"Keyseal listening on {scheme}://{host}:{port}  (home {settings.home}, db "
              f"{make_url(settings.db_url).render_as_string(hide_password=True)}, rate limits "
              f"{rate_limits.value})")
    config = uvicorn.Config(create_app(rt), host=host, port=port, log_level=log_level,
                            access_log=False, lifespan="on", http="httptools", loop="uvloop",
                            ws="websockets-sansio", ssl_certfile=tls_cert, ssl_keyfile=tls_key,
                            server_header=False, date_header=False)
    try:
        uvicorn.Server(config).run()
    finally:
        rt.close()


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
        account = account_service.create_account(rt, email, password, kyc_level=kyc_level)
    if as_json:
        _print_json({"uid": account.uid, "email": account.email, "kycLv": account.kyc_level})
    else:
        print(account.uid)


# -- keys --------------------------------------------------------------------------------
@key_app.command("create")
def key_create(
    account: Annotated[str, typer.Option("--account", help="Email of the owning account.")],
    label: Annotated[str, typer.Option(help="A name, up to 50 letters or digits.")],
    perm: Annotated[str, typer.Option(help="read_only[,trade][,withdraw]")] = "read_only",
    ip: Annotated[str | None, typer.Option(
        help="Allowed IPs or CIDRs, comma or space separated (up to 20).")] = None,
    demo: Annotated[bool, typer.Option("--demo", help="A demo-trading key.")] = False,
    home: Home = None, db: Db = None, as_json: AsJson = False,
) -> None:
    """Create an API key. The passphrase is read from stdin (or prompted); the secret is
    printed once and can never be shown again."""
    passphrase = _read_secret("passphrase", confirm=True)
    with _runtime(home, db) as rt:
        created = key_service.create_key(rt, account, label=label, passphrase=passphrase,
                                         perm=perm, ip=ip, demo=demo)
    shown = created.to_okx()
    if as_json:
        print(json.dumps(shown))
        return
    table = Table(title="New API key — copy it now: the secret and passphrase are shown once")
    table.add_column("field")
    table.add_column("value")
    for name, value in shown.items():
        table.add_row(name, value)
    out.print(table)


def _key_row(key: Any) -> dict[str, Any]:
    return {"apiKey": key.api_key, "label": key.label, "perm": key.permission.wire(),
            "ip": key.allowlist.wire(), "environment": key.environment.value,
            "status": key.status.value, "ts": str(key.created_ms),
            "lastUsed": None if key.last_used_ms is None else str(key.last_used_ms),
            "lastUsedIp": key.last_used_ip}


@key_app.command("list")
def key_list(
    account: Annotated[str, typer.Option("--account", help="Email of the owning account.")],
    home: Home = None, db: Db = None, as_json: AsJson = False,
) -> None:
    """List an account's keys (never their secrets)."""
    with _runtime(home, db) as rt:
        found = key_service.list_keys(rt, account)
    rows = [_key_row(k) for k in found]
    if as_json:
        _print_json(rows)
        return
    table = Table(title=f"API keys of {account}")
    for column in ("label", "apiKey", "perm", "ip", "env", "status", "created", "last used"):
        table.add_column(column)
    for key in found:
        table.add_row(key.label, key.api_key, key.permission.wire(), key.allowlist.wire() or "-",
                      key.environment.value, key.status.value, _when(key.created_ms),
                      f"{_when(key.last_used_ms)} {key.last_used_ip or ''}".strip())
    out.print(table)


def _status_command(status: KeyStatus, verb: str) -> None:
    @key_app.command(verb)
    def command(api_key: Annotated[str, typer.Argument(help="The apiKey.")],
                home: Home = None, db: Db = None, as_json: AsJson = False) -> None:
        with _runtime(home, db) as rt:
            key = key_service.set_key_status(rt, api_key, status)
        if as_json:
            _print_json(_key_row(key))
        else:
            out.print(f"key {api_key} ({key.label}) is now {status.value}")

    command.__doc__ = (f"{verb.capitalize()} a key (takes effect in a running server within "
                       "a second).")


_status_command(KeyStatus.DISABLED, "disable")
_status_command(KeyStatus.ENABLED, "enable")


@key_app.command("delete")
def key_delete(api_key: Annotated[str, typer.Argument(help="The apiKey.")],
               home: Home = None, db: Db = None, as_json: AsJson = False) -> None:
    """Delete a key permanently."""
    with _runtime(home, db) as rt:
        key = key_service.delete_key(rt, api_key)
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
        account_row = account_service.account_by_email(rt, account)
        owner = ledger_service.Owner(account_row.id,
                                     Environment.DEMO if demo else Environment.LIVE)
        balance = ledger_service.credit(rt, owner, ccy, amount)
    result = {"ccy": balance.ccy, "cashBal": str(balance.cash), "availBal": str(balance.available),
              "environment": owner.environment.value}
    if as_json:
        _print_json(result)
    else:
        out.print(f"{account}: {balance.ccy} balance is now {balance.cash} "
                  f"({owner.environment.value})")


# -- master keys -------------------------------------------------------------------------
@master_key_app.command("rotate")
def master_key_rotate(home: Home = None, db: Db = None, as_json: AsJson = False) -> None:
    """Add a new master key version and re-seal every secret under it."""
    if os.environ.get(MASTER_KEY_ENV):
        err.print(f"[red]error:[/] the master keys come from ${MASTER_KEY_ENV}; add a new "
                  "version there ('1:<old>,2:<new>') and run `keyseal master-key reseal`.")
        raise typer.Exit(2)
    with _runtime(home, db) as rt:
        # the new version is on disk before anything is sealed with it
        rt.keyring = rt.keyring.with_new_version()
        save_keyring(rt.settings.home, rt.keyring)
        changed = key_service.reseal_all(rt)
    _report_reseal(rt.keyring.current_version, changed, as_json)


@master_key_app.command("reseal")
def master_key_reseal(home: Home = None, db: Db = None, as_json: AsJson = False) -> None:
    """Re-seal every secret under the newest master key version."""
    with _runtime(home, db) as rt:
        changed = key_service.reseal_all(rt)
    _report_reseal(rt.keyring.current_version, changed, as_json)


def _report_reseal(version: int, changed: int, as_json: bool) -> None:
    if as_json:
        _print_json({"version": version, "resealed": changed})
    else:
        out.print(f"master key v{version} now seals every secret ({changed} re-sealed)")


def main() -> None:
    app()


if __name__ == "__main__":
    main()
