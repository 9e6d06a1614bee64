"""``keyseal key usage``: a key's requests per day, let through and refused by code."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from keyseal.cli.common import AsJson, Db, Home, lazy, out, print_json, runtime
from keyseal.cli.groups import key_app
from keyseal.domain.activity import MAX_DAYS, DayUsage
from keyseal.domain.actors import OPERATOR
from keyseal.tables import print_table

if TYPE_CHECKING:
    from keyseal.services import activity as activity_service
else:
    activity_service = lazy("keyseal.services.activity")


@key_app.command("usage")
def key_usage(
    api_key: Annotated[str, typer.Argument(help="The apiKey.")],
    days: Annotated[int, typer.Option(
        "--days", min=1, max=MAX_DAYS, help="How many UTC days, today the last.")] = 30,
    home: Home = None, db: Db = None, as_json: AsJson = False,
) -> None:
    """Show a key's requests per UTC day: let through (code 0) and refused, by OKX code.
    Serving processes write their counts about once a second, and when they stop."""
    with runtime(home, db, reads_only=True) as rt:
        series = activity_service.requests_per_day(rt, OPERATOR, api_key, days)
    if as_json:
        print_json([day_row(day) for day in series])
        return
    codes = sorted({code for day in series for code in day.refusals})
    print_table(out, ("day", "total", "ok", *codes),
                [(day.day.isoformat(), day.total, day.ok,
                  *(day.refusals.get(code, 0) for code in codes)) for day in series],
                title=f"Requests per day of {api_key}")
    if out.is_terminal:  # a pipe gets the rows alone, for cut and awk
        total = sum(day.total for day in series)
        refused = sum(day.refused for day in series)
        out.print(f"{total} request(s) in {days} day(s), {refused} refused.", highlight=False)


def day_row(day: DayUsage) -> dict[str, Any]:
    return {"day": day.day.isoformat(), "total": day.total, "ok": day.ok,
            "refusals": dict(day.refusals)}
