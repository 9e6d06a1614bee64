"""The record of what actors did."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection

from keyseal.domain.actors import Actor, ActorKind
from keyseal.services.runtime import Runtime
from keyseal.store import audit as audit_rows
from keyseal.store.audit import AuditEvent


def record(conn: Connection, rt: Runtime, actor: Actor, event: str, *,
           account_id: int | None = None, api_key: str | None = None,
           **details: Any) -> None:
    """Write one audit event in the caller's transaction (so it exists iff the change does)."""
    audit_rows.record(conn, ts_ms=rt.now_ms(), event=event, actor=str(actor),
                      source_ip=actor.ip, account_id=account_id, api_key=api_key,
                      details=details)


GATE = Actor(ActorKind.SYSTEM, "gate")


def record_passphrase_guessing(rt: Runtime, *, api_key: str, account_id: int, ip: str,
                               failures: int, window_s: float, lockout_s: float) -> None:
    """A key ran out of its passphrase budget: one event in a transaction of its own (the gate
    raises it from a request that changes nothing, and writes it off the event loop). Never
    the passphrases tried."""
    with rt.db.write() as conn:
        audit_rows.record(conn, ts_ms=rt.now_ms(), event="passphrase_guessing",
                          actor=str(GATE), source_ip=ip, account_id=account_id,
                          api_key=api_key, details={"failures": failures, "window_s": window_s,
                                                    "lockout_s": lockout_s})


def events(rt: Runtime, *, account_ids: list[int] | None = None, api_key: str | None = None,
           limit: int = 1000) -> list[AuditEvent]:
    with rt.db.read() as conn:
        return audit_rows.events(conn, account_ids=account_ids, api_key=api_key, limit=limit)
