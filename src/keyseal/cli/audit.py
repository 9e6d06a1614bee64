"""``keyseal audit list``: the audit trail."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated

import typer

from keyseal.cli.common import AsJson, Db, Home, lazy, out, print_json, runtime, when
from keyseal.cli.groups import audit_app
from keyseal.tables import print_table

if TYPE_CHECKING:
    from keyseal.services import accounts as account_service
    from keyseal.services import audit
else:
    account_service = lazy("keyseal.services.accounts")
    audit = lazy("keyseal.services.audit")

# -- audit -------------------------------------------------------------------------------
@audit_app.command("list")
def audit_list(
    account: Annotated[str | None, typer.Option(
        "--account", help="Only this account's events (and its sub-accounts').")] = None,
    key: Annotated[str | None, typer.Option("--key", help="Only this apiKey's events.")] = None,
    limit: Annotated[int, typer.Option(help="At most this many, newest first.")] = 200,
    home: Home = None, db: Db = None, as_json: AsJson = False,
) -> None:
    """The audit trail: time, actor, source IP, account (by email), key and what changed."""
    from keyseal.services import audit

    with runtime(home, db, reads_only=True) as rt:
        account_ids = None
        if account is not None:
            owner = account_service.account_by_email(rt, account)
            account_ids = [owner.id, *(s.id for s in account_service.sub_accounts(rt, owner))]
        events = audit.events(rt, account_ids=account_ids, api_key=key, limit=limit)
    rows = [{"ts": str(e.ts_ms), "event": e.event, "actor": e.actor, "ip": e.source_ip,
             "accountId": e.account_id, "account": e.account.email if e.account else None,
             "subAcct": e.account.sub_name if e.account else None, "apiKey": e.api_key,
             "details": e.details} for e in events]
    if as_json:
        print_json(rows)
        return
    print_table(out, ("time", "event", "actor", "ip", "account", "apiKey", "details"),
                [(when(e.ts_ms), e.event, e.actor, e.source_ip or "-", e.account or "-",
                  e.api_key or "-", json.dumps(e.details, sort_keys=True)) for e in events],
                title="Audit trail (newest first)")
