"""A bounded per-process cache of key entries, and a separate, smaller memory of unknown ids."""

from __future__ import annotations

from collections import OrderedDict

from keyseal.clock import Clock
from keyseal.gate.entry import KeyEntry


class KeyCache:
    """LRU of ``api_key → KeyEntry``, each entry reloaded after ``max_age`` seconds, so a
    change the follower missed cannot keep a disabled key working for as long as it is hot.
    Unknown ids are remembered for ``unknown_ttl`` seconds in a separate LRU, so ids that pass
    the known-keys filter but are gone from the store cannot push real keys out. Memory is
    bounded by the capacities, not by the number of keys in the store."""

    def __init__(self, clock: Clock, capacity: int = 100_000, unknown_ttl: float = 5.0,
                 unknown_capacity: int = 10_000, max_age: float = 60.0) -> None:
        #: api_key → (entry, when it must be reloaded)
        self._entries: OrderedDict[str, tuple[KeyEntry, float]] = OrderedDict()
        self._unknown: OrderedDict[str, float] = OrderedDict()
        self._clock = clock
        self._capacity = capacity
        self._unknown_ttl = unknown_ttl
        self._unknown_capacity = unknown_capacity
        self._max_age = max_age
        #: bumped by every eviction; a load that raced one must not write back what it read
        self.evictions = 0
        #: keys served from the cache, and loads from the store (for /metrics)
        self.hits = 0
        self.misses = 0

    def get(self, api_key: str) -> KeyEntry | None | bool:
        """The entry; ``False`` when known not to exist; ``None`` when not cached (or cached
        longer than ``max_age`` ago: it is then reloaded)."""
        found = self._entries.get(api_key)
        if found is not None:
            entry, stale_at = found
            if stale_at > self._clock():
                self._entries.move_to_end(api_key)
                self.hits += 1
                return entry
            return None  # kept until the reload replaces it, to carry its passphrase results
        until = self._unknown.get(api_key)
        if until is None:
            return None
        if until > self._clock():
            return False
        del self._unknown[api_key]
        return None

    def holds(self, api_key: str) -> bool:
        """Whether a key entry is cached, without counting a hit or touching its recency (for
        bookkeeping such as the activity counter, which must not skew /metrics)."""
        return api_key in self._entries

    def put(self, api_key: str, entry: KeyEntry | None, *, loaded_at: int | None = None) -> None:
        """Cache a load; ``loaded_at`` (the ``evictions`` count when the load began) drops the
        result if a change evicted anything meanwhile, so a stale read cannot outlive it."""
        self.misses += 1
        if loaded_at is not None and loaded_at != self.evictions:
            return
        if entry is None:
            self._entries.pop(api_key, None)
            self._unknown[api_key] = self._clock() + self._unknown_ttl
            self._unknown.move_to_end(api_key)
            while len(self._unknown) > self._unknown_capacity:
                self._unknown.popitem(last=False)
            return
        aged = self._entries.get(api_key)
        if aged is not None and aged[0].passphrase_hash == entry.passphrase_hash:
            # a reload after max_age: the same hash accepts and refuses the same passphrases,
            # so a hot key costs no argon2 check each time it ages out
            entry.passphrase_ok, entry.passphrase_bad = aged[0].passphrase_ok, aged[0].passphrase_bad
        if aged is not None:
            _carry_previous(aged[0], entry)
        self._entries[api_key] = (entry, self._clock() + self._max_age)
        self._entries.move_to_end(api_key)
        while len(self._entries) > self._capacity:
            self._entries.popitem(last=False)

    def forget_unknown(self, api_key: str) -> None:
        """A key was created: drop a "no such key" mark for its id (and any load under way),
        but keep an entry already loaded, which can only have been read after the creation."""
        self.evictions += 1
        self._unknown.pop(api_key, None)

    def evict(self, api_key: str) -> None:
        self.evictions += 1
        self._entries.pop(api_key, None)
        self._unknown.pop(api_key, None)

    def evict_account(self, account_id: int) -> None:
        """Drop every key of an account and of its sub-accounts (a restriction); rare, so a scan."""
        self.evictions += 1
        doomed = [k for k, (e, _) in self._entries.items()
                  if account_id in (e.account_id, e.master_id)]
        for api_key in doomed:
            del self._entries[api_key]

    def clear(self) -> None:
        self.evictions += 1
        self._entries.clear()
        self._unknown.clear()

    def __len__(self) -> int:
        return len(self._entries) + len(self._unknown)


def _carry_previous(aged: KeyEntry, entry: KeyEntry) -> None:
    """A reload after max_age keeps what this process knows of the same previous secret:
    its passphrase results, and its uses here that the usage writer has not stored yet."""
    old, new = aged.previous, entry.previous
    if old is None or new is None or old.secret != new.secret \
            or old.grace_until_ms != new.grace_until_ms:
        return
    new.ends_ms = max(new.ends_ms, old.ends_ms)
    if old.passphrase_hash == new.passphrase_hash:
        new.passphrase_ok, new.passphrase_bad = old.passphrase_ok, old.passphrase_bad
