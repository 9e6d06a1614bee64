"""``keyseal config show``: the effective settings, where each came from, secrets hidden."""

from __future__ import annotations

import typer

from keyseal.cli.common import AsJson, config_settings, load_config, out, print_json
from keyseal.cli.groups import app
from keyseal.cli.serve import ConfigFile, SetOption

config_app = typer.Typer(help="Settings: flags, the environment, a TOML file.",
                         no_args_is_help=True, rich_markup_mode=None)
app.add_typer(config_app, name="config")


@config_app.command("show")
def show(config: ConfigFile = None, set_: SetOption = None, as_json: AsJson = False) -> None:
    """Print every setting with its value and its source (flag, env KEYSEAL_..., file, or
    default), checked as `keyseal serve` checks them. Database passwords and the master key
    are never printed."""
    loaded = load_config({}, config, set_)
    config_settings(loaded)  # rules across settings too: what serve would refuse
    rows = loaded.shown()
    if as_json:
        print_json({"file": str(loaded.file) if loaded.file else None, "settings": rows})
        return
    from rich.table import Table

    table = Table("setting", "value", "source", box=None, pad_edge=False)
    for name, row in rows.items():
        value = row["value"]
        table.add_row(name, "" if value is None else str(value), row["source"])
    out.print(table, highlight=False)
