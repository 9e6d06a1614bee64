"""``keyseal key …``: the API key lifecycle."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any

import typer

from keyseal.cli.common import (
    AsJson,
    Db,
    Home,
    Switch,
    err,
    lazy,
    out,
    print_json,
    read_secret,
    refusals,
    runtime,
    when,
)
from keyseal.cli.groups import key_app
from keyseal.domain.commands import (
    CreateKey,
    DeleteKey,
    EditKey,
    FinishRotation,
    RegenerateKey,
    RetireOldSecrets,
    RotateKey,
    SetExpiryPolicy,
    SetKeyStatus,
    SweepIdleKeys,
)
from keyseal.domain.expiry import ExpiryPolicy, ExpiryScope
from keyseal.domain.keys import CreatedKey, KeyStatus, RotatedKey, parse_grace
from keyseal.tables import print_table

if TYPE_CHECKING:
    from keyseal.services import accounts as account_service
    from keyseal.services import keys as key_service
else:
    account_service = lazy("keyseal.services.accounts")
    key_service = lazy("keyseal.services.keys")

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
    passphrase = read_secret("passphrase", confirm=True)
    with runtime(home, db) as rt:
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
    print_table(out, ("field", "value"), list(shown.items()),
                title="New API key — copy it now: the secret and passphrase are shown once")


def key_row(key: Any) -> dict[str, Any]:
    return {"apiKey": key.api_key, "label": key.label, "perm": key.permission.wire(),
            "ip": key.allowlist.wire(), "environment": key.environment.value,
            "status": key.status.value, "ts": str(key.created_ms),
            "lastUsed": None if key.last_used_ms is None else str(key.last_used_ms),
            "lastUsedIp": key.last_used_ip,
            "expires": None if key.expires_ms is None else str(key.expires_ms),
            "subAccountAccess": key.sub_account_access,
            # demo keys always explain a 50113; live keys when the owner switched it on
            "explainSignatures": key.explain_signatures or key.environment.value == "demo",
            "rotation": rotation_row(key)}


def rotation_row(key: Any) -> dict[str, Any] | None:
    """A rotated key's previous secret: live or not, until when, and its last use."""
    rotation = key.rotation
    if rotation is None:
        return None

    def ms(value: int | None) -> str | None:
        return None if value is None else str(value)
    return {"rotated": ms(rotation.rotated_ms), "oldSecretLive": rotation.old_live,
            "oldSecretGraceUntil": ms(rotation.grace_until_ms),
            "oldSecretLastUsed": ms(rotation.old_last_used_ms),
            "oldSecretLastUsedIp": rotation.old_last_used_ip,
            "oldSecretEnded": ms(rotation.ended_ms)}


def rotation_line(key: Any, ends_ms: int | None) -> str | None:
    """One line on what became of a rotated key's previous secret, for people."""
    rotation = key.rotation
    if rotation is None:
        return None
    used = "not used since" if rotation.old_last_used_ms is None else (
        f"last used {when(rotation.old_last_used_ms)}"
        + (f" from {rotation.old_last_used_ip}" if rotation.old_last_used_ip else ""))
    if rotation.old_live:
        state = f"verifies until {when(ends_ms)} unless used again"
    else:
        state = f"stopped verifying {when(rotation.ended_ms)}"
    return (f"{key.label} ({key.api_key}): rotated {when(rotation.rotated_ms)}; old secret "
            f"{used}; {state}")


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
    with runtime(home, db, reads_only=True) as rt:
        found = key_service.list_keys(rt, account, sub=sub, stale_days=stale)
    rows = [key_row(k) for k in found]
    if as_json:
        print_json(rows)
        return
    owner = f"{account} / {sub}" if sub else account
    print_table(out, ("label", "apiKey", "perm", "ip", "env", "status", "created", "last used",
                      "expires"),
                [(key.label, key.api_key, key.permission.wire(), key.allowlist.wire() or "-",
                  key.environment.value, key.status.value, when(key.created_ms),
                  f"{when(key.last_used_ms)} {key.last_used_ip or ''}".strip(),
                  "never" if key.expires_ms is None else when(key.expires_ms)) for key in found],
                title=f"API keys of {owner}" + (f", unused for {stale:g}+ days" if stale else ""))
    for key in found:
        line = rotation_line(key, key_service.old_secret_ends_at(rt, key))
        if line is not None:
            out.print(line, highlight=False)


@key_app.command("rotate")
def key_rotate(
    api_key: Annotated[str, typer.Argument(help="The apiKey.")],
    grace: Annotated[str | None, typer.Option(
        "--grace", help="How long the old secret may keep verifying at the latest: 7d, 36h, "
        "90m, or days; 0 stops it now [default: KEYSEAL_ROTATION_GRACE_S, 7 days]. It stops "
        "sooner once unused for KEYSEAL_ROTATION_SILENCE_S (24 h).", show_default=False)
    ] = None,
    new_passphrase: Annotated[bool, typer.Option(
        "--new-passphrase", help="Also a new passphrase (read from stdin, or prompted); the "
        "old secret keeps the old one.")] = False,
    force: Annotated[bool, typer.Option(
        "--force", help="Rotate even while a previous secret still verifies (it stops now).")
    ] = False,
    finish: Annotated[bool, typer.Option(
        "--finish", help="Issue nothing: end the overlap now, the old secret stops verifying.")
    ] = False,
    home: Home = None, db: Db = None, as_json: AsJson = False,
) -> None:
    """A new secret for the same key id, shown once. The old secret keeps verifying until it
    has been unused for a while or the grace passes, so clients move over without downtime;
    limits, usage and the audit trail stay the key's."""
    if finish:
        if grace is not None or new_passphrase or force:
            err.print("[red]error:[/] --finish takes no --grace, --new-passphrase or --force.")
            raise typer.Exit(2)
        with runtime(home, db) as rt:
            key = key_service.finish_rotation(rt, FinishRotation(api_key))
        if as_json:
            print_json(key_row(key))
        else:
            out.print(f"key {api_key} ({key.label}): the old secret no longer verifies")
        return
    grace_ms = None
    if grace is not None:
        with refusals():
            grace_ms = parse_grace(grace)
    passphrase = read_secret("new passphrase", confirm=True) if new_passphrase else None
    with runtime(home, db) as rt:
        rotated = key_service.rotate_key(rt, RotateKey(
            api_key, grace_ms=grace_ms, new_passphrase=passphrase, force=force))
        ends = key_service.old_secret_ends_at(rt, rotated.key)
        silence_s = rt.settings.rotation_silence_s
    _show_rotated(rotated, ends, silence_s, as_json)


def _show_rotated(rotated: RotatedKey, ends_ms: int | None, silence_s: int, as_json: bool
                  ) -> None:
    key = rotated.key
    shown = {"apiKey": key.api_key, "secretKey": rotated.secret_key,
             "passphrase": rotated.passphrase, "label": key.label,
             "oldSecretGraceUntil": None if rotated.old_until_ms is None
             else str(rotated.old_until_ms),
             "oldSecretSilenceS": silence_s}
    if as_json:
        print(json.dumps(shown))
        return
    rows = [(name, value) for name, value in shown.items()
            if value is not None and name != "oldSecretSilenceS"]
    print_table(out, ("field", "value"), rows,
                title="New secret for the same API key — copy it now: it is shown once")
    if rotated.old_until_ms is None:
        err.print("the old secret no longer verifies", highlight=False)
        return
    silence = f"{silence_s / 3600:g} h" if silence_s % 3600 == 0 else f"{silence_s} s"
    err.print(f"the old secret keeps verifying until it has been unused for {silence} (if "
              f"unused from now: {when(ends_ms)}), at the latest until "
              f"{when(rotated.old_until_ms)}; put the new secret into every client, then end "
              f"the overlap with `keyseal key rotate {key.api_key} --finish`", highlight=False)


@key_app.command("edit")
def key_edit(
    api_key: Annotated[str, typer.Argument(help="The apiKey.")],
    label: Annotated[str | None, typer.Option(help="A new label.")] = None,
    ip: Annotated[str | None, typer.Option(
        help='A new IP allow-list (comma or space separated); "" unbinds every IP.')] = None,
    perm: Annotated[str | None, typer.Option(
        help="Refused: permissions are immutable; create a new key instead.")] = None,
    explain_signatures: Annotated[Switch | None, typer.Option(
        "--explain-signatures",
        help="on: a 50113 tells the caller what the server hashed (the prehash and its "
             "parts, never the secret). Demo keys always do.")] = None,
    home: Home = None, db: Db = None, as_json: AsJson = False,
) -> None:
    """Change a key's label, IP allow-list and/or whether it explains signatures."""
    if label is None and ip is None and perm is None and explain_signatures is None:
        err.print("[red]error:[/] nothing to change: give --label, --ip and/or "
                  "--explain-signatures.")
        raise typer.Exit(2)
    explain = None if explain_signatures is None else explain_signatures is Switch.ON
    with runtime(home, db) as rt:
        key = key_service.edit_key(rt, EditKey(api_key, label=label, ip=ip, perm=perm,
                                               explain_signatures=explain))
    if as_json:
        print_json(key_row(key))
    else:
        out.print(f"key {api_key}: label {key.label}, ip {key.allowlist.wire() or '(any)'}"
                  + (", explains signatures" if key_row(key)["explainSignatures"] else ""))


@key_app.command("regenerate")
def key_regenerate(
    api_key: Annotated[str, typer.Argument(help="The apiKey whose secret or passphrase is lost.")],
    disable_old: Annotated[bool | None, typer.Option(
        "--disable-old/--keep-old", help="Disable the old key (asked when not given).")] = None,
    home: Home = None, db: Db = None, as_json: AsJson = False,
) -> None:
    """Create a new key with the same settings (the old secret cannot be recovered). The new
    passphrase is read from stdin (or prompted)."""
    passphrase = read_secret("new passphrase", confirm=True)
    if disable_old is None:
        disable_old = sys.stdin.isatty() and typer.confirm("Disable the old key?", default=True)
    with runtime(home, db) as rt:
        created = key_service.regenerate_key(rt, RegenerateKey(
            api_key, passphrase=passphrase, disable_old=disable_old))
    _show_created(created, as_json)
    if disable_old:
        err.print(f"old key {api_key} is disabled", highlight=False)
    else:  # also said with --json and at a pipe, where nobody was asked
        err.print(f"[yellow]warning:[/] old key {api_key} is still enabled; disable it with "
                  f"`keyseal key disable {api_key}` once nothing uses it", highlight=False)


@key_app.command("sweep")
def key_sweep(
    as_of: Annotated[str | None, typer.Option(
        "--as-of", help="Sweep as if it were this time (ISO-8601, e.g. 2026-12-31T00:00:00Z).")
    ] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="List what would be deleted.")
                       ] = False,
    home: Home = None, db: Db = None, as_json: AsJson = False,
) -> None:
    """Delete keys past the inactivity rule (no IP allow-list, unused for 30 days), and
    retire rotated keys' old secrets whose silence or grace is over."""
    as_of_ms = None if as_of is None else _parse_time_ms(as_of)
    with runtime(home, db, reads_only=dry_run) as rt:
        swept = key_service.sweep(rt, SweepIdleKeys(as_of_ms=as_of_ms, dry_run=dry_run))
        retired = key_service.retire_old_secrets(rt, RetireOldSecrets(as_of_ms=as_of_ms,
                                                                      dry_run=dry_run))
        names = account_service.account_names(rt, [k.account_id for k in swept])
    if retired:  # on stderr: --json stays the list of deleted keys
        err.print(f"{'would retire' if dry_run else 'retired'} the old secret of "
                  f"{len(retired)} rotated key(s): "
                  + ", ".join(f"{k.api_key} ({k.label})" for k in retired), highlight=False)
    if as_json:
        print_json([{**key_row(k), "account": names[k.account_id].email,
                     "subAcct": names[k.account_id].sub_name} for k in swept])
        return
    verb = "would delete" if dry_run else "deleted"
    out.print(f"{verb} {len(swept)} idle key(s)")
    for key in swept:
        out.print(f"  {key.api_key} {key.label} of {names[key.account_id]} "
                  f"(last activity {when(key.last_activity_ms)})", highlight=False)


@key_app.command("expiry-policy")
def key_expiry_policy(
    days: Annotated[int | None, typer.Option(help="Idle days before deletion (0: never).")
                    ] = None,
    scope: Annotated[ExpiryScope | None, typer.Option(
        help="all: every key without an IP allow-list (the default); trade-or-withdraw: "
             "only those keys (OKX's current rule).")] = None,
    okx: Annotated[bool, typer.Option("--okx", help="OKX's rule: 14 days, trade-or-withdraw.")
                   ] = False,
    dry_run: Annotated[bool, typer.Option(
        "--dry-run", help="Change nothing; say how many live keys the new rule would delete "
        "now.")] = False,
    home: Home = None, db: Db = None, as_json: AsJson = False,
) -> None:
    """Show or set the inactivity rule, for every process sharing this database. Setting it
    says how many live keys are past it now (the next sweep deletes them)."""
    changing = okx or days is not None or scope is not None
    if dry_run and not changing:
        err.print("[red]error:[/] --dry-run needs a rule to try: give --days, --scope or --okx.")
        raise typer.Exit(2)
    if days is not None and days < 0:
        err.print("[red]error:[/] --days must be 0 (never) or more.")
        raise typer.Exit(2)
    due = None
    with runtime(home, db, reads_only=dry_run or not changing) as rt:
        policy = rt.settings.expiry
        if changing:
            policy = ExpiryPolicy.okx() if okx else ExpiryPolicy(
                policy.idle_days if days is None else days, scope or policy.scope)
            due = key_service.set_expiry_policy(rt, SetExpiryPolicy(policy, dry_run=dry_run))
    if as_json:
        shown: dict[str, Any] = {"idleDays": policy.idle_days, "scope": policy.scope.value}
        if due is not None:
            shown |= {"dryRun": dry_run, "dueNow": due}
        print_json(shown)
        return
    if dry_run:
        out.print(f"{due} live keys would be deleted now by this rule ({policy.describe()}); "
                  "nothing changed", highlight=False)
        return
    out.print(policy.describe(), highlight=False)
    if due is not None:
        out.print(f"{due} live keys are past this rule now; the next sweep deletes them "
                  "(`keyseal key sweep`, or a running server's own)", highlight=False)


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
        with runtime(home, db) as rt:
            key = key_service.set_key_status(rt, SetKeyStatus(api_key, status))
        if as_json:
            print_json(key_row(key))
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
    with runtime(home, db) as rt:
        key = key_service.get_key(rt, api_key)
        recent = key_service.used_recently(rt, key)
        last = when(key.last_used_ms) + (f" from {key.last_used_ip}" if key.last_used_ip else "")
        err.print(f"key {api_key} ({key.label}) was last used: {last}")
        if recent:
            err.print("[yellow]warning:[/] this key was used in the last 24 hours; something "
                      "may still depend on it.")
        if not yes and sys.stdin.isatty() and not _confirmed(recent):
            err.print("nothing deleted")
            raise typer.Exit(1)
        key = key_service.delete_key(rt, DeleteKey(api_key))
    if as_json:
        print_json(key_row(key))
    else:
        out.print(f"key {api_key} ({key.label}) deleted")
