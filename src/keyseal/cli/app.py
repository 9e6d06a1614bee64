"""The ``keyseal`` Typer app and its command groups; the groups' modules add the commands."""

from __future__ import annotations

import typer

from keyseal.client.cli import scan_command, vault_app

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
