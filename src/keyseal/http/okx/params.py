"""Reading OKX's request parameters: JSON body fields and query strings, by OKX's names.
``""`` and ``null`` mean "not set", as python-okx sends every optional field."""

from __future__ import annotations

from typing import Any

from keyseal import errors

MAX_CCY_FILTER = 20


def given(body: dict[str, Any], field: str) -> Any:
    """The field's value, or None when absent, ``""`` or ``null``."""
    value = body.get(field)
    return None if value is None or value == "" else value


def required(body: dict[str, Any], field: str) -> Any:
    """The field's value; 50014 naming it when it is not set."""
    value = given(body, field)
    if value is None:
        raise errors.PARAM_EMPTY(field)
    return value


def text(body: dict[str, Any], field: str) -> str | None:
    """An optional field as text (numbers are accepted, as OKX does)."""
    value = given(body, field)
    return None if value is None else str(value)


def ccy_filter(query: dict[str, str]) -> set[str] | None:
    """``ccy=BTC,ETH`` (up to 20) → {"BTC", "ETH"}; None when absent."""
    raw = query.get("ccy", "")
    if not raw:
        return None
    wanted = {c.strip().upper() for c in raw.split(",") if c.strip()}
    if len(wanted) > MAX_CCY_FILTER:
        raise errors.PARAM_ERROR("ccy", detail=f"at most {MAX_CCY_FILTER} currencies")
    return wanted


def limit(query: dict[str, str], *, default: int = 100, most: int = 100) -> int:
    raw = query.get("limit") or str(default)
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 3) or not 1 <= int(raw) <= most:
        raise errors.PARAM_ERROR("limit")
    return int(raw)
