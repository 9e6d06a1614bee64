"""The sandbox's market: the instruments and currencies an operator configures."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal


@dataclass(frozen=True, slots=True)
class Instrument:
    inst_id: str
    base_ccy: str
    quote_ccy: str
    tick_sz: Decimal
    lot_sz: Decimal
    min_sz: Decimal
    list_time_ms: int = 1_600_000_000_000

    def to_okx(self) -> dict[str, str]:
        """The OKX ``public/instruments`` fields for a SPOT instrument."""
        return {
            "alias": "", "auctionEndTime": "", "baseCcy": self.base_ccy, "category": "1",
            "ctMult": "", "ctType": "", "ctVal": "", "ctValCcy": "", "expTime": "",
            "instFamily": "", "instId": self.inst_id, "instType": "SPOT", "lever": "",
            "listTime": str(self.list_time_ms), "lotSz": _s(self.lot_sz), "maxIcebergSz": "",
            "maxLmtAmt": "20000000", "maxLmtSz": "99999999999", "maxMktAmt": "1000000",
            "maxMktSz": "1000000", "maxStopSz": "", "maxTriggerSz": "", "maxTwapSz": "",
            "minSz": _s(self.min_sz), "optType": "", "quoteCcy": self.quote_ccy,
            "ruleType": "normal", "settleCcy": "", "state": "live", "stk": "",
            "tickSz": _s(self.tick_sz), "uly": "",
        }


@dataclass(frozen=True, slots=True)
class Chain:
    name: str
    min_wd: Decimal
    fee: Decimal


@dataclass(frozen=True, slots=True)
class Currency:
    ccy: str
    name: str
    chains: tuple[Chain, ...]
    usd_price: Decimal

    def to_okx(self) -> list[dict[str, object]]:
        """One ``asset/currencies`` row per chain, as OKX lists them."""
        return [
            {
                "canDep": True, "canInternal": True, "canWd": True, "ccy": self.ccy,
                "chain": chain.name, "depQuotaFixed": "", "depQuoteDailyLayer2": "",
                "fee": _s(chain.fee), "logoLink": "", "mainNet": index == 0,
                "maxFee": _s(chain.fee), "maxFeeForCtAddr": "", "maxWd": "1000000",
                "minDep": "0.00000001", "minDepArrivalConfirm": "1", "minFee": _s(chain.fee),
                "minFeeForCtAddr": "", "minInternal": "0.0001", "minWd": _s(chain.min_wd),
                "minWdUnlockConfirm": "2", "name": self.name, "needTag": False,
                "usedDepQuotaFixed": "", "usedWdQuota": "0", "wdQuota": "10000000",
                "wdTickSz": "8",
            }
            for index, chain in enumerate(self.chains)
        ]

    def chain(self, name: str | None) -> Chain | None:
        if not name:
            return self.chains[0] if self.chains else None
        return next((c for c in self.chains if c.name == name), None)


@dataclass(frozen=True, slots=True)
class Market:
    instruments: dict[str, Instrument]
    currencies: dict[str, Currency]

    def usd_value(self, ccy: str, amount: Decimal) -> Decimal | None:
        currency = self.currencies.get(ccy)
        return None if currency is None else amount * currency.usd_price


def _s(value: Decimal) -> str:
    return format(value.normalize(), "f")


def default_market() -> Market:
    d = Decimal
    instruments = [
        Instrument("BTC-USDT", "BTC", "USDT", d("0.1"), d("0.00000001"), d("0.00001")),
        Instrument("ETH-USDT", "ETH", "USDT", d("0.01"), d("0.000001"), d("0.0001")),
        Instrument("ETH-BTC", "ETH", "BTC", d("0.00001"), d("0.000001"), d("0.001")),
    ]
    currencies = [
        Currency("BTC", "Bitcoin", (Chain("BTC-Bitcoin", d("0.0005"), d("0.0001")),), d("60000")),
        Currency("ETH", "Ethereum", (Chain("ETH-ERC20", d("0.001"), d("0.0005")),), d("3000")),
        Currency("USDT", "Tether", (Chain("USDT-TRC20", d("1"), d("1")),
                                    Chain("USDT-ERC20", d("10"), d("3"))), d("1")),
    ]
    return Market({i.inst_id: i for i in instruments}, {c.ccy: c for c in currencies})
