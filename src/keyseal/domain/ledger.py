"""What the ledger holds: balances per currency, and the withdrawals it has made."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from keyseal import errors
from keyseal.domain.money import add, subtract

#: digits before the point a balance may reach: with 36 after it (a price times a size), the
#: widest balance still fits its 64-character column
MAX_BALANCE_DIGITS = 24


@dataclass(frozen=True, slots=True)
class Balance:
    ccy: str
    cash: Decimal
    frozen: Decimal
    updated_ms: int

    @property
    def available(self) -> Decimal:
        return subtract(self.cash, self.frozen)

    def moved(self, cash_delta: Decimal, frozen_delta: Decimal, ts_ms: int) -> Balance:
        """This balance after one ledger entry, exactly; beyond ``MAX_BALANCE_DIGITS`` digits
        the entry is refused (70015) rather than rounded."""
        cash, frozen = add(self.cash, cash_delta), add(self.frozen, frozen_delta)
        for value in (cash, frozen):
            if value != 0 and value.adjusted() >= MAX_BALANCE_DIGITS:
                raise errors.BALANCE_TOO_LARGE(self.ccy, MAX_BALANCE_DIGITS,
                                               detail=f"the balance would be {value:e}")
        return Balance(self.ccy, cash, frozen, ts_ms)


@dataclass(frozen=True, slots=True)
class Withdrawal:
    wd_id: str
    ccy: str
    chain: str
    amount: Decimal
    fee: Decimal
    client_id: str
