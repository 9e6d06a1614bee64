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
