"""A key's activity chart: requests per day, let through or refused by code. The gate
counts them in memory (``gate/activity.py``); the usage writer adds them here in batches."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from keyseal import errors
from keyseal.domain.activity import MAX_DAYS, DayUsage, daily_series
from keyseal.domain.actors import Actor
from keyseal.gate.activity import Counts
from keyseal.services.keys import _key_in_scope
from keyseal.services.runtime import Runtime
from keyseal.services.unit_of_work import Work, reading
from keyseal.store import activity as activity_rows

_EPOCH = date(1970, 1, 1)


def requests_per_day(rt: Runtime, actor: Actor, api_key: str, days: int = 30
                     ) -> list[DayUsage]:
    """The key's last ``days`` UTC days, today last, days without requests at zero. Only
    for an actor who may act for the key's owner (its account, or the master of a
    sub-account); to anyone else the key answers as if it did not exist."""
    if not 1 <= days <= MAX_DAYS:
        raise errors.PARAM_ERROR("days", detail=f"days={days}, not 1..{MAX_DAYS}")
    today = today_utc(rt)
    first = today - timedelta(days=days - 1)
    with reading(rt) as conn:  # authorised and read in one transaction
        key, _, _ = _key_in_scope(Work(rt, conn), actor, api_key)
        rows = activity_rows.requests_between(conn, key.api_key, first, today)
    return daily_series(rows, today, days)


def record_requests(rt: Runtime, counts: Counts) -> None:
    """Add a batch of the gate's counts to the store, in one statement."""
    with rt.db.write() as conn:
        activity_rows.add_requests(conn, [(key, _EPOCH + timedelta(days=day), code, n)
                                          for (key, day, code), n in counts.items()])


def forget_old_days(rt: Runtime, keep_days: int = MAX_DAYS) -> int:
    """Delete the counts of days no chart shows any more (older than ``keep_days``), so the
    table grows with the keys, not with time; the sweeper calls it."""
    with rt.db.write() as conn:
        return activity_rows.forget_before(conn, today_utc(rt) - timedelta(days=keep_days - 1))


def today_utc(rt: Runtime) -> date:
    return datetime.fromtimestamp(rt.now_ms() / 1000, UTC).date()
