"""Amounts: exact decimals, written the way OKX writes numbers (strings, no exponent)."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from keyseal import errors

ZERO = Decimal(0)
MAX_INTEGER_DIGITS = 18
MAX_DECIMALS = 18


def parse_amount(value: object, field: str, *, allow_zero: bool = False) -> Decimal:
    """A positive decimal from a JSON string or number; anything else is 51000 naming ``field``."""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise errors.PARAM_ERROR(field)
    try:
        amount = Decimal(str(value).strip())
    except InvalidOperation:
        raise errors.PARAM_ERROR(field) from None
    if not amount.is_finite() or amount < 0 or (amount == 0 and not allow_zero):
        raise errors.PARAM_ERROR(field)
    exponent = amount.as_tuple().exponent
    if amount.adjusted() >= MAX_INTEGER_DIGITS or (
            isinstance(exponent, int) and exponent < -MAX_DECIMALS):
        raise errors.PARAM_ERROR(field, detail="amount out of range")
    return amount


def fmt(amount: Decimal) -> str:
    """``Decimal('1.50')`` → ``"1.5"``; never scientific notation."""
    if amount == 0:
        return "0"
    text = format(amount.normalize(), "f")
    return text


def is_multiple(amount: Decimal, step: Decimal) -> bool:
    return step == 0 or (amount % step) == 0
