"""What the ledger holds: balances per currency, and the withdrawals it has made."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal


@dataclass(frozen=True, slots=True)
class Balance:
    ccy: str
    cash: Decimal
    frozen: Decimal
    updated_ms: int

    @property
    def available(self) -> Decimal:
        return self.cash - self.frozen


@dataclass(frozen=True, slots=True)
class Withdrawal:
    wd_id: str
    ccy: str
    chain: str
    amount: Decimal
    fee: Decimal
    client_id: str
