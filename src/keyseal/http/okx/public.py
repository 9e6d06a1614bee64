"""Public endpoints: no key, limited per IP."""

from __future__ import annotations

from typing import Any

from keyseal import errors
from keyseal.clock import millis
from keyseal.domain.market import Instrument
from keyseal.domain.money import fmt
from keyseal.gate.ratelimit import Rate
from keyseal.http.routes import Call, RouteTable

table = RouteTable()
OTHER_INSTRUMENT_TYPES = {"MARGIN", "SWAP", "FUTURES", "OPTION"}


@table.public("GET", "/api/v5/public/time", Rate(10, 2))
async def server_time(call: Call) -> list[Any]:
    """Server time in milliseconds."""
    return [{"ts": str(millis(call.state.rt.clock))}]


@table.public("GET", "/api/v5/public/instruments", Rate(20, 2))
async def instruments(call: Call) -> list[Any]:
    """Instruments of a type; the sandbox lists its configured SPOT pairs."""
    inst_type = call.query.get("instType", "")
    if not inst_type:
        raise errors.PARAM_EMPTY("instType")
    if inst_type in OTHER_INSTRUMENT_TYPES:
        return []
    if inst_type != "SPOT":
        raise errors.PARAM_ERROR("instType")
    inst_id = call.query.get("instId")
    market = call.state.rt.settings.market
    return [instrument_fields(i) for i in market.instruments.values()
            if not inst_id or i.inst_id == inst_id]


def instrument_fields(instrument: Instrument) -> dict[str, str]:
    """The OKX ``public/instruments`` fields for a SPOT instrument."""
    return {
        "alias": "", "auctionEndTime": "", "baseCcy": instrument.base_ccy, "category": "1",
        "ctMult": "", "ctType": "", "ctVal": "", "ctValCcy": "", "expTime": "",
        "instFamily": "", "instId": instrument.inst_id, "instType": "SPOT", "lever": "",
        "listTime": str(instrument.list_time_ms), "lotSz": fmt(instrument.lot_sz),
        "maxIcebergSz": "", "maxLmtAmt": "20000000", "maxLmtSz": "99999999999",
        "maxMktAmt": "1000000", "maxMktSz": "1000000", "maxStopSz": "", "maxTriggerSz": "",
        "maxTwapSz": "", "minSz": fmt(instrument.min_sz), "optType": "",
        "quoteCcy": instrument.quote_ccy, "ruleType": "normal", "settleCcy": "",
        "state": "live", "stk": "", "tickSz": fmt(instrument.tick_sz), "uly": "",
    }
