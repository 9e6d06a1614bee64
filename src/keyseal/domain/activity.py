"""A key's activity: requests per UTC day, let through or refused by code."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta

OK = "0"
#: how far back a chart may look (the store keeps a key's rows as long as the key)
MAX_DAYS = 366


@dataclass(frozen=True, slots=True)
class DayUsage:
    """One UTC day of one key: requests the gate let through (``ok``) and those it refused,
    by OKX code (``{"50113": 3}``: three bad signatures)."""

    day: date
    ok: int = 0
    refusals: Mapping[str, int] = field(default_factory=dict)

    @property
    def refused(self) -> int:
        return sum(self.refusals.values())

    @property
    def total(self) -> int:
        return self.ok + self.refused


def daily_series(rows: Iterable[tuple[date, str, int]], last: date, days: int
                 ) -> list[DayUsage]:
    """Every day of the ``days`` ending with ``last``, oldest first (days without requests
    too, at zero), from (day, code, requests) rows; rows outside the range are ignored."""
    first = last - timedelta(days=days - 1)
    ok: dict[date, int] = {}
    refusals: dict[date, dict[str, int]] = {}
    for day, code, n in rows:
        if not first <= day <= last:
            continue
        if code == OK:
            ok[day] = ok.get(day, 0) + n
        else:
            by_code = refusals.setdefault(day, {})
            by_code[code] = by_code.get(code, 0) + n
    series = []
    for offset in range(days):
        day = first + timedelta(days=offset)
        series.append(DayUsage(day, ok.get(day, 0), dict(sorted(refusals.get(day, {}).items()))))
    return series
