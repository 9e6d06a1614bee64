"""Balances kept in memory per serving process, so a balance read on the hot path does not
touch the database. Writes in this process evict at once; writes elsewhere (the CLI, another
node) reach every process through the change log."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from keyseal.domain.commands import Owner
from keyseal.domain.ledger import Balance
from keyseal.services import ledger
from keyseal.services.runtime import Runtime


class Holdings:
    """One account's balances in one environment, as of one read; immutable once made, so
    anything derived from it (a rendered response) can be kept alongside until it is evicted."""

    __slots__ = ("balances", "_derived")

    def __init__(self, balances: dict[str, Balance]) -> None:
        self.balances = balances
        self._derived: dict[str, Any] = {}

    def derived(self, name: str, make: Callable[[dict[str, Balance]], Any]) -> Any:
        found = self._derived.get(name)
        if found is None:
            found = self._derived[name] = make(self.balances)
        return found


class BalanceCache:
    def __init__(self, rt: Runtime, capacity: int = 100_000) -> None:
        self._rt = rt
        self._capacity = capacity
        self._entries: dict[tuple[int, str], Holdings] = {}
        self._generation: dict[int, int] = {}

    async def get(self, owner: Owner) -> Holdings:
        key = (owner.account_id, owner.environment.value)
        found = self._entries.get(key)
        if found is not None:
            return found
        generation = self._generation.get(owner.account_id, 0)
        loaded = Holdings(await asyncio.to_thread(ledger.balances, self._rt, owner))
        # an eviction that raced the load wins: keep the result only if none happened
        if self._generation.get(owner.account_id, 0) == generation:
            if len(self._entries) >= self._capacity:
                self._entries.clear()
            self._entries[key] = loaded
        return loaded

    def evict(self, account_id: int) -> None:
        self._generation[account_id] = self._generation.get(account_id, 0) + 1
        for environment in ("live", "demo"):
            self._entries.pop((account_id, environment), None)

    def clear(self) -> None:
        self._entries.clear()
