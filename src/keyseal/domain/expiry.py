"""Inactivity expiry: which keys the rule deletes, and when.

The seeds' rule (the default): a key not bound to IPs that is unused for 30 days is deleted.
OKX's current rule is a setting away: 14 days, and only keys with trade or withdraw. Keys
bound to IPs and demo keys never expire; "bound" means a real binding
(``IpAllowlist.bound``), not a list that admits every address.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from keyseal.domain.keys import Environment
from keyseal.domain.permissions import Permission

DAY_MS = 86_400_000


class ExpiryScope(enum.StrEnum):
    ALL = "all"  # every key without an allow-list (the seeds)
    TRADE_OR_WITHDRAW = "trade-or-withdraw"  # OKX's current rule


@dataclass(frozen=True, slots=True)
class ExpiryPolicy:
    idle_days: int = 30
    scope: ExpiryScope = ExpiryScope.ALL

    @classmethod
    def okx(cls) -> ExpiryPolicy:
        return cls(14, ExpiryScope.TRADE_OR_WITHDRAW)

    def to_text(self) -> str:
        return f"{self.idle_days}:{self.scope.value}"

    @classmethod
    def from_text(cls, text: str) -> ExpiryPolicy:
        days, _, scope = text.partition(":")
        return cls(int(days), ExpiryScope(scope))

    def describe(self) -> str:
        if self.idle_days <= 0:
            return "keys never expire"
        which = ("keys with trade or withdraw" if self.scope is ExpiryScope.TRADE_OR_WITHDRAW
                 else "keys")
        return (f"live {which} without an IP allow-list are deleted after {self.idle_days} "
                "idle days")

    def applies(self, permission: Permission, ip_bound: bool,
                environment: Environment) -> bool:
        if ip_bound or environment is Environment.DEMO or self.idle_days <= 0:
            return False
        if self.scope is ExpiryScope.TRADE_OR_WITHDRAW:
            return bool(permission & (Permission.TRADE | Permission.WITHDRAW))
        return True

    def expires_ms(self, permission: Permission, ip_bound: bool,
                   environment: Environment, last_activity_ms: int) -> int | None:
        """When a key idle since ``last_activity_ms`` is deleted; None if never."""
        if not self.applies(permission, ip_bound, environment):
            return None
        return last_activity_ms + self.idle_days * DAY_MS
