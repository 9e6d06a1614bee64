"""What every operator command shares: the --home/--db/--json options, opening the home,
turning refusals into one line, reading secrets, and printing.

Nothing here imports the server's machinery at import time: ``keyseal --help``, ``keyseal
scan`` and ``keyseal vault`` must start fast, so the services load when a command runs.
"""

from __future__ import annotations

import enum
import importlib.util
import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console

from keyseal import errors
from keyseal.domain.accounts import AccountExists
from keyseal.settings import DB_ENV, HOME_ENV, HomeUnusable, Settings, shown_db_url

if TYPE_CHECKING:
    from keyseal.config import Loaded
    from keyseal.services.runtime import Runtime

out = Console(soft_wrap=True)  # lines are never broken mid-word in a pipe
err = Console(stderr=True, soft_wrap=True)


def lazy(name: str) -> ModuleType:
    """The module ``name``, loaded on first use (importlib's LazyLoader): the services pull
    in SQLAlchemy and Alembic, which ``--help`` and the key holder's commands never need."""
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.find_spec(name)
    assert spec is not None and spec.loader is not None, name
    loader = importlib.util.LazyLoader(spec.loader)
    spec.loader = loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    loader.exec_module(module)
    return module


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


def settings_for(home: Path | None, db: str | None, **extra: Any) -> Settings:
    """The settings of a command: ``$KEYSEAL_CONFIG``'s file under the flags when it names one
    (pydantic is loaded only then: the commands start fast without one)."""
    if os.environ.get("KEYSEAL_CONFIG"):
        flags = {"home": home, "db": db, **extra}
        if "db_url" in flags:
            flags["db"] = flags.pop("db_url")
        return config_settings(load_config(flags, None, None))
    if home is not None:
        extra["home"] = home
    if db:
        extra["db_url"] = db
    return Settings(**extra)


def load_config(flags: dict[str, Any], config_file: Path | None, assignments: list[str] | None
                ) -> Loaded:
    """The settings from the flags (None: not given), ``--set NAME=VALUE`` assignments, the
    environment and the config file; a wrong value is one line on stderr and exit code 2."""
    from keyseal.config import ConfigInvalid, load

    given, spelled = dict(flags), {}
    for assignment in assignments or ():
        name, equals, value = assignment.partition("=")
        name = name.strip().replace("-", "_")
        if not equals or not name:
            err.print(f"[red]error:[/] --set {assignment[:60]!r} must be NAME=VALUE, e.g. "
                      "--set key_cache_size=50000", highlight=False)
            raise typer.Exit(2)
        given[name], spelled[name] = value, f"--set {name}"
    try:
        return load(given, config_file, spelled=spelled)
    except ConfigInvalid as invalid:
        err.print(f"[red]error:[/] {invalid}", highlight=False)
        raise typer.Exit(2) from None


def config_settings(loaded: Loaded) -> Settings:
    from keyseal.config import ConfigInvalid

    try:
        return loaded.settings()
    except ConfigInvalid as invalid:
        err.print(f"[red]error:[/] {invalid}", highlight=False)
        raise typer.Exit(2) from None


@contextmanager
def refusals(settings: Settings | None = None) -> Iterator[None]:
    """Turn refusals, and the failures an operator meets in the first hour (an unusable
    home, an unreachable database), into one clear line on stderr and exit code 1."""
    try:
        yield
    except errors.OkxError as refusal:
        message, hint = _in_cli_words(refusal)
        err.print(f"[red]error:[/] {message} (code {refusal.code})"
                  + (f"\n  {refusal.detail}" if refusal.detail else "")
                  + (f"\n  what to do: {hint}" if hint else ""), highlight=False)
        raise typer.Exit(1) from None
    except AccountExists as exists:
        err.print(f"[red]error:[/] an account with email {exists} already exists; "
                  "use another email or `keyseal key create --account` with this one.")
        raise typer.Exit(1) from None
    except HomeUnusable as unusable:
        err.print(f"[red]error:[/] {unusable}.", highlight=False)
        raise typer.Exit(1) from None
    except Exception as failure:
        if not _is_database_failure(failure):
            raise
        url = settings.db_url if settings else ""
        named = f" {shown_db_url(url)}" if url else ""
        server = "" if url.startswith("sqlite") else " and that the database server is running"
        err.print(f"[red]error:[/] cannot reach the database{named} "
                  f"({_database_reason(failure)}); check --db (or ${DB_ENV}){server}.",
                  highlight=False)
        raise typer.Exit(1) from None


#: OKX's words name OKX's web form ("note name"); at the command line, the flags
_CLI_WORDS = {
    errors.LABEL_FORMAT.code: ("--label must be 1 to 50 letters or digits", None),
    errors.LABEL_TAKEN.code: ("another key of this account already has that --label",
                              "choose another --label; `keyseal key list --account EMAIL` "
                              "shows the ones in use"),
}
_CLI_HINTS = {
    errors.KYC_REQUIRED.code: "raise the account's level with `keyseal account set-kyc EMAIL 2`",
    errors.ACCOUNT_RESTRICTED.code: "lift it with `keyseal account unrestrict EMAIL`",
    errors.IP_FORMAT.code: "give --ip addresses or networks, e.g. --ip 203.0.113.7,10.1.0.0/16",
    errors.IP_TOO_WIDE.code: "give --ip the addresses the key is used from",
    errors.ROTATE_DISABLED_KEY.code: "`keyseal key enable APIKEY` first",
    errors.ROTATION_IN_PROGRESS.code: "`keyseal key rotate APIKEY --finish` ends that overlap "
                                      "now; `--force` rotates anyway",
}


def _in_cli_words(refusal: errors.OkxError) -> tuple[str, str | None]:
    """The refusal's message and a hint, in the command line's own terms."""
    message, hint = _CLI_WORDS.get(refusal.code, (refusal.message, None))
    return message, hint or _CLI_HINTS.get(refusal.code)


def _is_database_failure(failure: Exception) -> bool:
    # sqlalchemy is imported only by commands that open a database: when it is not loaded,
    # this cannot be one of its errors
    exc = sys.modules.get("sqlalchemy.exc")
    return exc is not None and isinstance(failure, exc.OperationalError)


def _database_reason(failure: Exception) -> str:
    """The driver's own reason, its first line's last part: "Connection refused"."""
    original = getattr(failure, "orig", None) or failure
    lines = str(original).strip().splitlines() or ["unknown error"]
    return lines[0].rsplit(": ", 1)[-1].strip()


def open_home(settings: Settings, *, pooled: bool = True, reads_only: bool = False) -> Runtime:
    """Open the home, saying so in one line when this made a new one. ``reads_only``: the
    command only reads, so a missing home is refused, never created."""
    from keyseal.services.runtime import open_runtime

    with refusals(settings):
        try:
            rt = open_runtime(settings, pooled=pooled, reads_only=reads_only)
        except OSError as failure:  # what check_home could not foresee (a race, a full disk)
            raise HomeUnusable(f"cannot use {failure.filename or settings.home} "
                               f"({failure.strerror or failure}); check --home (or ${HOME_ENV})"
                               f" and --db (or ${DB_ENV})") from None
    if rt.new_master_key:
        from keyseal.services.master_keys import key_file_of

        err.print(f"Created a new Keyseal home in {settings.home} with master key v1 in "
                  f"{key_file_of(rt)}; back it up: without it no secret sealed "
                  "here can be opened.", highlight=False)
    elif rt.new_home:
        err.print(f"Created a new Keyseal home in {settings.home} (its master keys come from "
                  "$KEYSEAL_MASTER_KEY).", highlight=False)
    return rt


@contextmanager
def runtime(home: Path | None, db: str | None, *, reads_only: bool = False
            ) -> Iterator[Runtime]:
    """Open the home for one command; turn refusals into a clear message and exit code 1.
    A command that only reads says ``reads_only=True``: it never creates a home."""
    rt = open_home(settings_for(home, db), pooled=False, reads_only=reads_only)
    try:
        with refusals(rt.settings):
            yield rt
    finally:
        rt.close()


def read_secret(label: str, *, confirm: bool) -> str:
    """From stdin when it is not a terminal (scripts), else a hidden prompt."""
    if not sys.stdin.isatty():
        value = sys.stdin.readline().rstrip("\r\n")
        if not value:
            err.print(f"[red]error:[/] expected the {label} on standard input.")
            raise typer.Exit(2)
        return value
    return str(typer.prompt(label.capitalize(), hide_input=True, confirmation_prompt=confirm))


def print_json(data: Any) -> None:
    out.print_json(json.dumps(data), highlight=False) if out.is_terminal else print(
        json.dumps(data))


def when(ms: int | None) -> str:
    if ms is None:
        return "never"
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
