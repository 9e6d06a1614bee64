"""The audit trail: who did what to which account or key, from where. Never a secret."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, insert, select

from keyseal.store.accounts import AccountName, name_columns
from keyseal.store.tables import accounts, audit_events


@dataclass(frozen=True, slots=True)
class AuditEvent:
    id: int
    ts_ms: int
    event: str
    actor: str
    source_ip: str | None
    account_id: int | None
    api_key: str | None
    details: dict[str, Any]
    #: the account the event is about, by name; None when it is about no account
    account: AccountName | None = None


def record(conn: Connection, *, ts_ms: int, event: str, actor: str, source_ip: str | None,
           account_id: int | None, api_key: str | None, details: dict[str, Any]) -> None:
    conn.execute(insert(audit_events).values(
        ts_ms=ts_ms, event=event, actor=actor, source_ip=source_ip, account_id=account_id,
        api_key=api_key, details=json.dumps(details, sort_keys=True)))


def events(conn: Connection, *, account_ids: list[int] | None = None,
           api_key: str | None = None, limit: int = 1000) -> list[AuditEvent]:
    master = accounts.alias("master")
    query = (select(audit_events, *name_columns(accounts, master))
             .outerjoin(accounts, accounts.c.id == audit_events.c.account_id)
             .outerjoin(master, master.c.id == accounts.c.master_id))
    if account_ids is not None:
        query = query.where(audit_events.c.account_id.in_(account_ids))
    if api_key is not None:
        query = query.where(audit_events.c.api_key == api_key)
    rows = conn.execute(query.order_by(audit_events.c.id.desc()).limit(limit))
    return [AuditEvent(r.id, r.ts_ms, r.event, r.actor, r.source_ip, r.account_id, r.api_key,
                       json.loads(r.details),
                       None if r.account_id is None else AccountName(r.account_email,
                                                                     r.account_sub))
            for r in rows]
