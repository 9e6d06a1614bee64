"""Amounts: exact decimals, written the way OKX writes numbers (strings, no exponent).

Python's default decimal context keeps 28 significant digits, fewer than one accepted amount
may have (18 before and 18 after the point), so arithmetic on money goes through ``EXACT``:
wide enough for any sum or product of accepted amounts, and trapping any rounding."""

from __future__ import annotations

import re
from decimal import Context, Decimal, DivisionByZero, Inexact, InvalidOperation, Overflow

from keyseal import errors

ZERO = Decimal(0)
#: how an amount is written in a string: ASCII digits, and a point with digits after it
PLAIN_DECIMAL = re.compile(r"[0-9]{1,40}(\.[0-9]{1,40})?")
MAX_INTEGER_DIGITS = 18
MAX_DECIMALS = 18
#: a product of two accepted amounts has at most 72 significant digits
EXACT = Context(prec=100, traps=[InvalidOperation, DivisionByZero, Overflow, Inexact])


def add(a: Decimal, b: Decimal) -> Decimal:
    return EXACT.add(a, b)


def subtract(a: Decimal, b: Decimal) -> Decimal:
    return EXACT.subtract(a, b)


def multiply(a: Decimal, b: Decimal) -> Decimal:
    return EXACT.multiply(a, b)


def negate(a: Decimal) -> Decimal:
    return EXACT.minus(a)


def parse_amount(value: object, field: str, *, allow_zero: bool = False) -> Decimal:
    """A positive decimal from a JSON string or number; anything else is 51000 naming ``field``.

    A string must be a plain ASCII decimal (``PLAIN_DECIMAL``): Python's ``Decimal`` would
    also read ``"０.００１"``, ``"١٠٠٠"``, ``"0.00_1"``, ``" 0.001 "`` and ``"1e-3"``, which
    another reader of the same request might not. A JSON number was written by a JSON
    encoder, so its exponent form (``1e-05``) is read as the number it is."""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise errors.PARAM_ERROR(field)
    if isinstance(value, str) and not PLAIN_DECIMAL.fullmatch(value):
        raise errors.PARAM_ERROR(field, detail="not a plain decimal")
    try:
        amount = Decimal(value if isinstance(value, str) else repr(value))
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
    return format(amount.normalize(EXACT), "f")


def is_multiple(amount: Decimal, step: Decimal) -> bool:
    return step == 0 or EXACT.remainder(amount, step) == 0
