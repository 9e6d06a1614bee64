"""``keyseal master-key …``: rotate, reseal, retire and list the master keys."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from keyseal.cli.common import AsJson, Db, Home, err, lazy, out, print_json, runtime, when
from keyseal.cli.groups import master_key_app
from keyseal.tables import print_table

if TYPE_CHECKING:
    from keyseal.services import master_keys
else:
    master_keys = lazy("keyseal.services.master_keys")

# -- master keys -------------------------------------------------------------------------
@master_key_app.command("rotate")
def master_key_rotate(home: Home = None, db: Db = None, as_json: AsJson = False) -> None:
    """Add a new master key version and re-seal every secret under it (all or nothing)."""
    with runtime(home, db) as rt:
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
    with runtime(home, db) as rt:
        changed = master_keys.reseal_all(rt)
    _report_reseal(rt.ring.current_version, changed, as_json)


@master_key_app.command("retire")
def master_key_retire(
    version: Annotated[int, typer.Argument(help="The version to remove (see `master-key list`).")],
    home: Home = None, db: Db = None, as_json: AsJson = False,
) -> None:
    """Remove an old master key version that no secret uses any more."""
    with runtime(home, db) as rt:
        master_keys.retire(rt, version)
        left = [v.version for v in master_keys.versions(rt)]
    if as_json:
        print_json({"retired": version, "versions": left})
    else:
        out.print(f"master key v{version} retired; versions left: "
                  + ", ".join(f"v{v}" for v in left))


@master_key_app.command("list")
def master_key_list(home: Home = None, db: Db = None, as_json: AsJson = False) -> None:
    """The master key versions: fingerprint (never the key), created, secrets each seals."""
    with runtime(home, db, reads_only=True) as rt:
        found = master_keys.versions(rt)
    rows = [{"version": v.version, "fingerprint": v.fingerprint, "ts": str(v.created_ms),
             "sealed": v.sealed} for v in found]
    if as_json:
        print_json(rows)
        return
    print_table(out, ("version", "fingerprint", "created", "secrets sealed"),
                [(f"v{v.version}", v.fingerprint[:16], when(v.created_ms), v.sealed)
                 for v in found], title="Master keys (the newest seals; every one opens)")


def _report_reseal(version: int, changed: int, as_json: bool) -> None:
    if as_json:
        print_json({"version": version, "resealed": changed})
    else:
        out.print(f"master key v{version} now seals every secret ({changed} re-sealed)")
