"""Typed views of the OKX responses the helpers return; ``raw`` keeps every field."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

PERMISSIONS = ("read_only", "trade", "withdraw")


def _decimal(value: Any) -> Decimal | None:
    """OKX sends numbers as strings and ``""`` for fields that do not apply."""
    if value is None or value == "":
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def parse_perms(perm: str) -> frozenset[str]:
    """``"read_only,trade"`` → ``{"read_only", "trade"}``; OKX's older ``read`` is ``read_only``."""
    names = {name.strip() for name in perm.split(",") if name.strip()}
    return frozenset("read_only" if name == "read" else name for name in names)


def parse_ips(ip: str) -> tuple[str, ...]:
    """``"1.2.3.4,10.0.0.0/8"`` → a tuple; ``""`` (no allow-list) → ``()``."""
    return tuple(part.strip() for part in ip.replace(" ", ",").split(",") if part.strip())


@dataclass(frozen=True, slots=True)
class CurrencyBalance:
    ccy: str
    eq: Decimal | None
    cash_bal: Decimal | None
    avail_bal: Decimal | None
    frozen_bal: Decimal | None
    raw: Mapping[str, Any] = field(repr=False, compare=False)

    @classmethod
    def from_okx(cls, item: Mapping[str, Any]) -> CurrencyBalance:
        return cls(ccy=str(item.get("ccy", "")), eq=_decimal(item.get("eq")),
                   cash_bal=_decimal(item.get("cashBal")),
                   avail_bal=_decimal(item.get("availBal")),
                   frozen_bal=_decimal(item.get("frozenBal")), raw=item)


@dataclass(frozen=True, slots=True)
class Balance:
    """``GET /api/v5/account/balance``: the trading account, one detail per currency held."""

    total_eq: Decimal | None
    updated_ms: int | None
    details: tuple[CurrencyBalance, ...]
    raw: Mapping[str, Any] = field(repr=False, compare=False)

    @classmethod
    def from_okx(cls, item: Mapping[str, Any]) -> Balance:
        details = tuple(CurrencyBalance.from_okx(d) for d in item.get("details") or ())
        return cls(total_eq=_decimal(item.get("totalEq")), updated_ms=_int(item.get("uTime")),
                   details=details, raw=item)

    def get(self, ccy: str) -> CurrencyBalance | None:
        return next((d for d in self.details if d.ccy == ccy), None)


@dataclass(frozen=True, slots=True)
class FundingBalance:
    """One currency of ``GET /api/v5/asset/balances`` (the funding account)."""

    ccy: str
    bal: Decimal | None
    avail_bal: Decimal | None
    frozen_bal: Decimal | None
    raw: Mapping[str, Any] = field(repr=False, compare=False)

    @classmethod
    def from_okx(cls, item: Mapping[str, Any]) -> FundingBalance:
        return cls(ccy=str(item.get("ccy", "")), bal=_decimal(item.get("bal")),
                   avail_bal=_decimal(item.get("availBal")),
                   frozen_bal=_decimal(item.get("frozenBal")), raw=item)


@dataclass(frozen=True, slots=True)
class AccountConfig:
    """``GET /api/v5/account/config``: the account and the calling key's own settings."""

    uid: str
    main_uid: str
    label: str
    perms: frozenset[str]
    ips: tuple[str, ...]
    acct_lv: str
    raw: Mapping[str, Any] = field(repr=False, compare=False)
    #: a Keyseal server's own inactivity rule (None from OKX, which does not say)
    expiry_rule: str | None = None
    #: on a Keyseal server: the days of disuse after which this key is deleted (None: never)
    idle_expiry_days: int | None = None

    @classmethod
    def from_okx(cls, item: Mapping[str, Any]) -> AccountConfig:
        rule = item.get("keysealExpiryRule")
        days = str(item.get("keysealIdleExpiryDays") or "")
        return cls(uid=str(item.get("uid", "")), main_uid=str(item.get("mainUid", "")),
                   label=str(item.get("label", "")), perms=parse_perms(str(item.get("perm", ""))),
                   ips=parse_ips(str(item.get("ip", ""))), acct_lv=str(item.get("acctLv", "")),
                   raw=item, expiry_rule=str(rule) if isinstance(rule, str) else None,
                   idle_expiry_days=int(days) if days.isdigit() else None)

    @property
    def is_sub_account(self) -> bool:
        return bool(self.main_uid) and self.uid != self.main_uid
