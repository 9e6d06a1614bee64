"""Spot orders in the sandbox: what a request must say and what it freezes.

There is no matching engine: a valid limit order freezes what it could spend and rests as
``live`` until it is cancelled.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal

from keyseal import errors
from keyseal.domain.market import Instrument, Market
from keyseal.domain.money import is_multiple, multiply, parse_amount

MAX_BATCH = 20
RESTING_TYPES = ("limit", "post_only")
_CLIENT_ID = re.compile(r"[A-Za-z0-9]{1,32}")


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
        return multiply(self.px, self.sz) if self.side == "buy" else self.sz


def new_order(market: Market, *, inst_id: str, td_mode: str, side: str, ord_type: str,
              px: object, sz: object, cl_ord_id: str = "", tag: str = "",
              tgt_ccy: str | None = None) -> OrderRequest:
    """Validate one spot order; raises the OKX error a real exchange would return. Amounts
    arrive as given (JSON strings or numbers) and are parsed here."""
    instrument = market.instruments.get(inst_id)
    if instrument is None:
        raise errors.INSTRUMENT_UNKNOWN()
    if td_mode != "cash":
        raise errors.PARAM_ERROR("tdMode", detail="spot orders use tdMode=cash")
    if side not in ("buy", "sell"):
        raise errors.PARAM_ERROR("side")
    if ord_type not in RESTING_TYPES:
        raise errors.ORDER_TYPE_UNSUPPORTED(ord_type[:20] or "empty")
    if tgt_ccy not in (None, "base_ccy"):
        raise errors.PARAM_ERROR("tgtCcy")
    if px is None:
        raise errors.PARAM_EMPTY("px")
    price = parse_amount(px, "px")
    size = parse_amount(sz, "sz")
    if not is_multiple(price, instrument.tick_sz):
        raise errors.PARAM_ERROR("px", detail=f"px must be a multiple of {instrument.tick_sz}")
    if not is_multiple(size, instrument.lot_sz):
        raise errors.PARAM_ERROR("sz", detail=f"sz must be a multiple of {instrument.lot_sz}")
    if size < instrument.min_sz:
        raise errors.BELOW_MIN_SIZE()
    if cl_ord_id and not _CLIENT_ID.fullmatch(cl_ord_id):
        raise errors.PARAM_ERROR("clOrdId")
    if tag and not (len(tag) <= 16 and tag.isalnum()):
        raise errors.PARAM_ERROR("tag")
    return OrderRequest(instrument, side, ord_type, price, size, cl_ord_id, tag)


@dataclass(frozen=True, slots=True)
class Order:
    """A resting (``live``) or ``canceled`` order."""

    ord_id: str
    inst_id: str
    cl_ord_id: str
    tag: str
    side: str
    ord_type: str
    px: str
    sz: str
    state: str
    frozen_ccy: str
    frozen_amount: str
    created_ms: int
    updated_ms: int

    @property
    def base_ccy(self) -> str:
        return self.inst_id.split("-")[0]

    @property
    def quote_ccy(self) -> str:
        return self.inst_id.split("-")[1]
