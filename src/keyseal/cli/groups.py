"""The ``keyseal`` Typer app and its command groups; the groups' modules add the commands.

Help is click's plain text (``rich_markup_mode=None``): it rewraps docstrings into whole
sentences, shows no ``<bool>`` beside flags, and prints ``[default: …]`` as written."""

from __future__ import annotations

import typer

from keyseal.client.cli import scan_command, vault_app


def group(help: str) -> typer.Typer:
    return typer.Typer(help=help, no_args_is_help=True, rich_markup_mode=None)


app = typer.Typer(help="Keyseal: self-hosted, OKX-compatible API keys.", no_args_is_help=True,
                  rich_markup_mode=None, pretty_exceptions_enable=False, add_completion=False)
account_app = group("Accounts.")
key_app = group("API keys.")
ledger_app = group("Sandbox balances.")
audit_app = group("The audit trail.")
master_key_app = group("The master keys that seal secrets at rest.")
app.add_typer(account_app, name="account")
app.add_typer(key_app, name="key")
app.add_typer(ledger_app, name="ledger")
app.add_typer(audit_app, name="audit")
app.add_typer(master_key_app, name="master-key")
app.add_typer(vault_app, name="vault", help="The key holder's encrypted credential vault.")
app.command("scan")(scan_command)
