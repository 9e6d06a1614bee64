"""``keyseal vault …`` and ``keyseal scan``: the key holder's commands.

The server's CLI mounts them with ``app.add_typer(vault_app, name="vault")`` and
``app.command("scan")(scan_command)``; ``python -m keyseal.client.cli`` runs them alone.
Data goes to stdout (a Rich table, or JSON with ``--json``); messages go to stderr. Exit
status: 0 fine, 1 a refusal, a failed check or a find, 2 a usage error.
"""

from __future__ import annotations

import getpass
import hmac
import json
import os
import sys
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import Progress

from keyseal.client.credentials import Credentials
from keyseal.client.health import (
    DEFAULT_IDLE_DAYS,
    HealthReport,
    check_key,
    parse_permission_list,
)
from keyseal.client.leakscan import (
    HEX32,
    UUID,
    Finding,
    NotAGitRepository,
    Skipped,
    scan_git_history,
    scan_path,
)
from keyseal.client.masking import mask, mask_secret
from keyseal.client.scan_baseline import BASELINE_FILE, BadBaseline, Baseline, write_baseline
from keyseal.client.scan_ignore import IGNORE_FILE, IgnoreRules
from keyseal.client.vault import (
    Vault,
    VaultEntry,
    VaultError,
    backup_path,
    check_name,
    default_vault_path,
)
from keyseal.client.vault_password import (
    PasswordSource,
    VaultPassword,
    prompt_password,
    resolve_password,
)
from keyseal.tables import print_table

vault_app = typer.Typer(rich_markup_mode=None,
    help="Keep OKX-style API keys in an encrypted vault file, and check that they work.",
    no_args_is_help=True, add_completion=False)

VaultOption = Annotated[Path | None, typer.Option(
    "--vault", envvar="KEYSEAL_VAULT", show_default=False,
    help="Vault file (default ~/.config/keyseal/vault).")]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON.")]


def _out() -> Console:
    return Console(highlight=False, soft_wrap=True)


def _err() -> Console:
    return Console(stderr=True, highlight=False, soft_wrap=True)


def _fail(message: str, code: int = 1) -> NoReturn:
    _err().print(f"[red]error:[/red] {escape(message)}")
    raise typer.Exit(code)


def _print_json(data: Any) -> None:
    typer.echo(json.dumps(data, indent=2, default=str, ensure_ascii=False))


def _open(path: Path | None, *, create: bool = False) -> tuple[Vault, VaultPassword]:
    """Open the vault; only ``add`` may create it."""
    path = (path or default_vault_path()).expanduser()
    if not create and not path.exists():
        _fail(f"no vault at {path}; create it with `keyseal vault add NAME` (or pass --vault).")
    try:
        password = resolve_password(path, creating=not path.exists())
        return Vault.open(path, password.value), password
    except VaultError as exc:
        _fail(str(exc))


def _save(vault: Vault) -> None:
    try:
        vault.save()
    except (VaultError, OSError) as exc:
        _fail(f"could not write {vault.path}: {exc}. The previous vault file is unchanged.")


# -- add ---------------------------------------------------------------------------------------

def _read_credentials(from_env: bool, env_names: tuple[str, str, str]) -> Credentials:
    """From named env vars, hidden prompts on a terminal, or three lines of piped stdin."""
    if from_env:
        missing = [name for name in env_names if not os.environ.get(name)]
        if missing:
            _fail(f"--from-env: {', '.join(missing)} not set", 2)
        values = [os.environ[name] for name in env_names]
    elif sys.stdin.isatty():
        values = [getpass.getpass(f"{label}: ")
                  for label in ("API key", "Secret key", "Passphrase")]
    else:
        values = [line.rstrip("\r\n") for line in sys.stdin.read().splitlines()[:3]]
    if len(values) < 3 or not all(value.strip() for value in values):
        _fail("need three values: API key, secret key and passphrase (one per line on stdin)", 2)
    return Credentials(values[0].strip(), values[1].strip(), values[2])


def _shape_warnings(creds: Credentials) -> list[str]:
    notes = []
    if not UUID.fullmatch(creds.api_key):
        notes.append("the API key is not shaped like an OKX key (a UUID)")
    if not HEX32.fullmatch(creds.secret_key):
        notes.append("the secret key is not shaped like an OKX secret (32 hex digits)")
        if HEX32.fullmatch(creds.passphrase):
            notes.append("the passphrase looks like a secret: are secret and passphrase swapped?")
    return notes


@vault_app.command("add")
def add_command(
    name: Annotated[str, typer.Argument(help="Entry name, e.g. okx-main.")],
    base_url: Annotated[str, typer.Option(help="Server base URL.")] = "https://www.okx.com",
    demo: Annotated[bool, typer.Option("--demo", help="A demo-trading key.")] = False,
    purpose: Annotated[str, typer.Option(help="What the key is for (free text).")] = "",
    from_env: Annotated[bool, typer.Option(
        "--from-env", help="Read the three values from environment variables.")] = False,
    key_env: Annotated[str, typer.Option(help="Variable holding the API key.")] = "OKX_API_KEY",
    secret_env: Annotated[str, typer.Option(
        help="Variable holding the secret key.")] = "OKX_SECRET_KEY",  # noqa: S107 - a name
    passphrase_env: Annotated[str, typer.Option(
        help="Variable holding the passphrase.")] = "OKX_PASSPHRASE",  # noqa: S107 - a name
    vault_path: VaultOption = None,
    as_json: JsonOption = False,
) -> None:
    """Store a key: prompted (hidden), piped as three lines, or read with --from-env.

    Never as arguments, which would leave the secret in shell history and `ps`."""
    try:
        check_name(name)
    except VaultError as exc:
        _fail(str(exc), 2)
    vault, _ = _open(vault_path, create=True)
    if name in vault:
        _fail(f"an entry named {name!r} already exists; remove or rename it first")
    creds = _read_credentials(from_env, (key_env, secret_env, passphrase_env))
    entry = VaultEntry(name, creds.api_key, creds.secret_key, creds.passphrase,
                       base_url=base_url.rstrip("/"), environment="demo" if demo else "live",
                       purpose=purpose)
    vault.add(entry)
    _save(vault)
    for note in _shape_warnings(creds):
        _err().print(f"[yellow]warning:[/yellow] {note}")
    if as_json:
        _print_json({"added": entry.to_masked_json(), "vault": str(vault.path)})
    else:
        _err().print(f"Added {name} ({entry.environment}, {entry.base_url}) to {vault.path}")


# -- list, show, remove, rename ----------------------------------------------------------------

@vault_app.command("list")
def list_command(vault_path: VaultOption = None, as_json: JsonOption = False) -> None:
    """List the entries; API keys and secrets are masked."""
    vault, _ = _open(vault_path)
    if as_json:
        _print_json([entry.to_masked_json() for entry in vault])
        return
    print_table(_out(), ("Name", "Env", "API key", "Secret", "Base URL", "Purpose", "Created"),
                [(entry.name, entry.environment, mask(entry.api_key, 8, 4),
                  mask_secret(entry.secret_key), entry.base_url, entry.purpose, entry.created)
                 for entry in vault])
    if not len(vault):
        _err().print(f"{vault.path} has no entries; add one with `keyseal vault add NAME`.")


@vault_app.command("show")
def show_command(
    name: str,
    reveal: Annotated[bool, typer.Option(
        "--reveal", help="Show the secret and passphrase (asks the vault password again).")]
    = False,
    vault_path: VaultOption = None,
    as_json: JsonOption = False,
) -> None:
    """Show one entry, masked unless --reveal."""
    vault, password = _open(vault_path)
    entry = _get(vault, name)
    if reveal and password.source is not PasswordSource.ENV:
        try:
            again = prompt_password(vault.path, creating=False)
        except VaultError as exc:
            _fail(str(exc))
        if not hmac.compare_digest(again.encode(), password.value.encode()):
            _fail("wrong vault password; nothing revealed")
    data = entry.to_json() if reveal else entry.to_masked_json()
    if as_json:
        _print_json(data)
        return
    print_table(_out(), ("field", "value"), list(data.items()))


def _get(vault: Vault, name: str) -> VaultEntry:
    try:
        return vault.get(name)
    except VaultError as exc:
        _fail(str(exc))


@vault_app.command("remove")
def remove_command(name: str, vault_path: VaultOption = None,
                   as_json: JsonOption = False) -> None:
    """Remove an entry (the previous vault file is kept as <vault>.bak)."""
    vault, _ = _open(vault_path)
    _get(vault, name)
    vault.remove(name)
    _save(vault)
    if as_json:
        _print_json({"removed": name, "backup": str(backup_path(vault.path))})
    else:
        _err().print(f"Removed {name}; the previous vault is at {backup_path(vault.path)}")


@vault_app.command("rename")
def rename_command(old: str, new: str, vault_path: VaultOption = None,
                   as_json: JsonOption = False) -> None:
    """Rename an entry."""
    vault, _ = _open(vault_path)
    try:
        vault.rename(old, new)
    except VaultError as exc:
        _fail(str(exc))
    _save(vault)
    if as_json:
        _print_json({"renamed": old, "to": new})
    else:
        _err().print(f"Renamed {old} to {new}")


# -- check -------------------------------------------------------------------------------------

def _permissions(option: str, text: str) -> frozenset[str]:
    try:
        return parse_permission_list(text)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint=option) from None


@vault_app.command("check")
def check_command(
    name: Annotated[str | None, typer.Argument(help="Entry to check.")] = None,
    check_all: Annotated[bool, typer.Option("--all", help="Check every entry.")] = False,
    require: Annotated[str, typer.Option(
        help="Fail unless the key has these permissions, e.g. read_only,trade.")] = "",
    forbid: Annotated[str, typer.Option(
        help="Fail if the key has any of these permissions, e.g. withdraw.")] = "",
    idle_days: Annotated[int, typer.Option(
        min=1, help="For OKX: days without use after which a live trade or withdraw key "
                    "without an IP allow-list is deleted. A Keyseal server says its own "
                    "rule.")] = DEFAULT_IDLE_DAYS,
    timeout: Annotated[float, typer.Option(help="Seconds per request.")] = 10.0,
    vault_path: VaultOption = None,
    as_json: JsonOption = False,
) -> None:
    """Send a signed test request with a stored key and report what works and what to fix.

    Exits 1 when the key is refused or a --require/--forbid condition fails."""
    if check_all == (name is not None):
        raise typer.BadParameter("give an entry NAME or --all (not both)")
    required, forbidden = _permissions("--require", require), _permissions("--forbid", forbid)
    vault, _ = _open(vault_path)
    entries = list(vault) if check_all else [_get(vault, name or "")]

    def run(entry: VaultEntry) -> HealthReport:
        return check_key(entry.credentials, base_url=entry.base_url, demo=entry.demo,
                         require=required, forbid=forbidden, idle_days=idle_days,
                         name=entry.name, timeout=timeout)

    if check_all:
        reports = []
        with Progress(console=_err(), transient=True) as progress:
            task = progress.add_task("Checking keys", total=len(entries))
            for entry in entries:
                progress.update(task, description=f"Checking {entry.name}")
                reports.append(run(entry))
                progress.advance(task)
        if as_json:
            _print_json([report.to_json() for report in reports])
        else:
            _print_summary(reports)
    else:
        reports = [run(entries[0])]
        if as_json:
            _print_json(reports[0].to_json())
        else:
            _print_report(reports[0])
    if not all(report.ok for report in reports):
        raise typer.Exit(1)


def _print_report(report: HealthReport) -> None:
    out = _out()
    where = f"{report.environment}, {report.base_url}, key {report.api_key}"
    if report.refusal:
        refusal = report.refusal
        status = f" (HTTP {refusal.http_status})" if refusal.http_status else ""
        out.print(f"[red]✘ {escape(report.name or '')} refused:[/red] {refusal.code} "
                  f"{escape(refusal.msg)}{status}  [dim]({escape(where)})[/dim]")
        out.print(f"  what to do: {escape(refusal.hint)}")
    else:
        headline = ("[green]✔ {} works[/]" if report.ok else
                    "[red]✘ {} works, but " + _count(len(report.failures), "check") + " failed[/]")
        out.print(headline.format(escape(report.name or "")) + f"  [dim]({escape(where)})[/dim]")
        out.print(f"  uid {report.uid}, label {escape(repr(report.label))}")
        out.print(f"  permissions    {','.join(report.perms or []) or 'none'}")
        out.print(f"  IP allow-list  {','.join(report.ips or []) or 'none'}")
    if report.clock_skew_ms is not None:
        out.print(f"  clock skew     {report.clock_skew_ms:+.1f} ms"
                  + (f", latency {report.latency_ms:.0f} ms" if report.latency_ms else ""))
    if report.server_skew_ms is not None:
        out.print(f"  server's skew  {report.server_skew_ms:+.1f} ms, as the server saw the "
                  "signed request")
    for warning in report.warnings:
        out.print(f"  [yellow]warning:[/yellow] {escape(warning)}")
    for failure in report.failures:
        out.print(f"  [red]failed:[/red] {escape(failure)}")


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")


def _skew_cell(report: HealthReport) -> str:
    """The measured skew, and the server's own view of it when it said (a Keyseal server)."""
    cells = [] if report.clock_skew_ms is None else [f"{report.clock_skew_ms:+.1f}"]
    if report.server_skew_ms is not None:
        cells.append(f"(server {report.server_skew_ms:+.1f})")
    return " ".join(cells)


def _print_summary(reports: list[HealthReport]) -> None:
    """One row per key; its notes list every failure, refusal hint and warning."""
    rows = []
    for r in reports:
        result = ("ok" if r.ok else "failed") if r.works \
            else f"refused {r.refusal.code if r.refusal else ''}"
        notes = [f"failed: {f}" for f in r.failures]
        if r.refusal:
            notes += [r.refusal.msg, f"what to do: {r.refusal.hint}"]
        notes += [f"warning: {w}" for w in r.warnings]
        rows.append((r.name or "", result, r.environment, ",".join(r.perms or []),
                     ",".join(r.ips or []) or ("none" if r.works else ""),
                     _skew_cell(r),
                     " | ".join(notes)))
    print_table(_out(), ("Name", "Result", "Env", "Permissions", "IPs", "Skew ms", "Notes"), rows)


# -- scan --------------------------------------------------------------------------------------

def scan_command(
    path: Annotated[Path, typer.Argument(exists=True, help="File or folder to scan.")],
    git_history: Annotated[bool, typer.Option(
        "--git-history", help="Also scan every commit of every branch.")] = False,
    ignore: Annotated[list[str] | None, typer.Option(
        "--ignore", metavar="GLOB", help=f"Leave matching paths alone (repeatable); added to "
        f"the patterns in PATH/{IGNORE_FILE}.")] = None,
    baseline: Annotated[Path | None, typer.Option(
        help=f"Known findings not to report again [default: PATH/{BASELINE_FILE}].",
        dir_okay=False)] = None,
    update_baseline: Annotated[bool, typer.Option(
        "--update-baseline", help="Record every current finding as known, then exit 0.")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Find OKX-style credentials (API key, secret, passphrase) in files and git history.

    Exits 1 when something new is found, 0 when clean."""
    folder = path if path.is_dir() else path.parent
    rules = IgnoreRules.load(path, ignore or ())
    report = scan_path(path, rules)
    findings = report.findings
    if git_history:
        try:
            findings = findings + scan_git_history(folder, rules)
        except NotAGitRepository as exc:
            _fail(f"--git-history: {exc}", 2)
    baseline_path = baseline or folder / BASELINE_FILE
    if update_baseline:
        count = write_baseline(baseline_path, findings)
        _err().print(f"Baseline {baseline_path} now holds {count} known finding(s); "
                     "commit it, and later scans report only new ones")
        return
    try:
        new, known = Baseline.load(baseline_path).split(findings)
    except BadBaseline as exc:
        _fail(str(exc), 2)
    if as_json:
        _print_json({"findings": [finding.to_json() for finding in new], "known": len(known),
                     "skipped": [{"path": s.path, "reason": s.reason} for s in report.skipped]})
    else:
        _print_scan(path, new, known, report.skipped)
    if new:
        raise typer.Exit(1)


def _print_scan(path: Path, new: list[Finding], known: list[Finding],
                skipped: list[Skipped]) -> None:
    out, err = _out(), _err()
    for f in new:
        detail = f"  [dim]{escape(f.detail)}[/dim]" if f.detail else ""
        out.print(f"{escape(f.location())}  [red]{f.rule}[/red]  {escape(f.masked)}{detail}")
    for s in skipped[:20]:
        err.print(f"[yellow]skipped[/yellow] {escape(s.path)}: {escape(s.reason)}")
    if len(skipped) > 20:
        err.print(f"[yellow]skipped[/yellow] {len(skipped) - 20} more file(s) (--json lists all)")
    quiet = f" ({len(known)} known from the baseline not shown)" if known else ""
    if new:
        err.print(f"{len(new)} credential(s) found in {path}{quiet}")
    else:
        err.print(f"No {'new ' if known else ''}credentials found in {path}{quiet}")


def standalone_app() -> typer.Typer:
    """The commands as the server's CLI mounts them, for ``python -m keyseal.client.cli``."""
    app = typer.Typer(no_args_is_help=True, add_completion=False, rich_markup_mode=None)
    app.add_typer(vault_app, name="vault")
    app.command("scan")(scan_command)
    return app


if __name__ == "__main__":
    standalone_app()()
