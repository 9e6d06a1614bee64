"""Helpers the endpoint families share."""

from __future__ import annotations

from keyseal import errors
from keyseal.http.routes import Call
from keyseal.services.ledger import Owner

MAX_CCY_FILTER = 20


def owner(call: Call) -> Owner:
    caller = call.caller
    return Owner(caller.key.account_id, caller.environment)


def ccy_filter(call: Call) -> set[str] | None:
    """``ccy=BTC,ETH`` (up to 20) → {"BTC", "ETH"}; None when absent."""
    raw = call.query.get("ccy", "")
    if not raw:
        return None
    wanted = {c.strip().upper() for c in raw.split(",") if c.strip()}
    if len(wanted) > MAX_CCY_FILTER:
        raise errors.PARAM_ERROR("ccy", detail=f"at most {MAX_CCY_FILTER} currencies")
    return wanted
