"""Spot orders in the sandbox: what a request must say and what it freezes.

There is no matching engine: a valid limit order freezes what it could spend and rests as
``live`` until it is cancelled. ``""`` and ``null`` mean "not set", as python-okx sends every
optional field.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from keyseal import errors
from keyseal.domain.market import Instrument, Market
from keyseal.domain.money import is_multiple, parse_amount

MAX_BATCH = 20
RESTING_TYPES = ("limit", "post_only")
_CLIENT_ID = re.compile(r"[A-Za-z0-9]{1,32}")


def given(body: dict[str, Any], field: str) -> Any:
    """The field's value, or None when absent, ``""`` or ``null``."""
    value = body.get(field)
    return None if value is None or value == "" else value


@dataclass(frozen=True, slots=True)
class OrderRequest:
    instrument: Instrument
    side: str
    ord_type: str
    px: Decimal
    sz: Decimal
    cl_ord_id: str
    tag: str

    @property
    def freeze_ccy(self) -> str:
        return self.instrument.quote_ccy if self.side == "buy" else self.instrument.base_ccy

    @property
    def freeze_amount(self) -> Decimal:
        return self.px * self.sz if self.side == "buy" else self.sz


def parse_order(body: object, market: Market) -> OrderRequest:
    """Validate one order object; raises the OKX error a real exchange would return."""
    if not isinstance(body, dict):
        raise errors.PARAM_ERROR("body")
    for field in ("instId", "tdMode", "side", "ordType", "sz"):
        if given(body, field) is None:
            raise errors.PARAM_EMPTY(field)
    instrument = market.instruments.get(str(body["instId"]))
    if instrument is None:
        raise errors.INSTRUMENT_UNKNOWN()
    if body["tdMode"] != "cash":
        raise errors.PARAM_ERROR("tdMode", detail="spot orders use tdMode=cash")
    side = body["side"]
    if side not in ("buy", "sell"):
        raise errors.PARAM_ERROR("side")
    ord_type = body["ordType"]
    if ord_type not in RESTING_TYPES:
        raise errors.PARAM_ERROR(
            "ordType", detail="the sandbox has no matching engine: use limit or post_only")
    tgt_ccy = given(body, "tgtCcy")
    if tgt_ccy not in (None, "base_ccy"):
        raise errors.PARAM_ERROR("tgtCcy")
    if given(body, "px") is None:
        raise errors.PARAM_EMPTY("px")
    px = parse_amount(body["px"], "px")
    sz = parse_amount(body["sz"], "sz")
    if not is_multiple(px, instrument.tick_sz):
        raise errors.PARAM_ERROR("px", detail=f"px must be a multiple of {instrument.tick_sz}")
    if not is_multiple(sz, instrument.lot_sz):
        raise errors.PARAM_ERROR("sz", detail=f"sz must be a multiple of {instrument.lot_sz}")
    if sz < instrument.min_sz:
        raise errors.BELOW_MIN_SIZE()
    cl_ord_id = given(body, "clOrdId") or ""
    tag = given(body, "tag") or ""
    if cl_ord_id and not _CLIENT_ID.fullmatch(str(cl_ord_id)):
        raise errors.PARAM_ERROR("clOrdId")
    if tag and not (isinstance(tag, str) and len(tag) <= 16 and tag.isalnum()):
        raise errors.PARAM_ERROR("tag")
    return OrderRequest(instrument, side, ord_type, px, sz, str(cl_ord_id), str(tag))
