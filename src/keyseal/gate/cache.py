"""A bounded per-process cache of key entries, with brief negative entries for unknown ids."""

from __future__ import annotations

from collections import OrderedDict

from keyseal.clock import Clock
from keyseal.gate.entry import KeyEntry


class KeyCache:
    """LRU of ``api_key → KeyEntry``; unknown ids are remembered for ``unknown_ttl`` seconds so
    a flood of random ids cannot reach the database. Memory is bounded by ``capacity``,
    not by the number of keys in the store."""

    def __init__(self, clock: Clock, capacity: int = 100_000, unknown_ttl: float = 5.0) -> None:
        self._entries: OrderedDict[str, KeyEntry | float] = OrderedDict()
        self._clock = clock
        self._capacity = capacity
        self._unknown_ttl = unknown_ttl

    def get(self, api_key: str) -> KeyEntry | None | bool:
        """The entry; ``False`` when known not to exist; ``None`` when not cached."""
        found = self._entries.get(api_key)
        if found is None:
            return None
        if isinstance(found, float):
            if found > self._clock():
                return False
            del self._entries[api_key]
            return None
        self._entries.move_to_end(api_key)
        return found

    def put(self, api_key: str, entry: KeyEntry | None) -> None:
        self._entries[api_key] = entry if entry is not None else self._clock() + self._unknown_ttl
        self._entries.move_to_end(api_key)
        while len(self._entries) > self._capacity:
            self._entries.popitem(last=False)

    def evict(self, api_key: str) -> None:
        self._entries.pop(api_key, None)

    def evict_account(self, account_id: int) -> None:
        """Drop every key of an account (a restriction, a master's change); rare, so a scan."""
        doomed = [k for k, e in self._entries.items()
                  if isinstance(e, KeyEntry) and account_id in (e.account_id, e.master_id)]
        for api_key in doomed:
            del self._entries[api_key]

    def clear(self) -> None:
        self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)
