"""Requests per key, per UTC day and per result code (``"0"`` let through, else the OKX
code of the refusal), counted in memory and written in batches like the last-used time:
the owner's activity chart reads them, and no request waits for a write.

Memory is bounded twice over: only keys that exist are counted (the gate checks before it
counts a refusal, so a flood of random key ids adds nothing), and the map holds at most
``capacity`` (key, day, code) entries between two flushes; past that, new entries are
dropped and counted in ``dropped`` (old entries still count), so a burst of distinct keys
costs memory up to the bound and never more."""

from __future__ import annotations

DAY_MS = 86_400_000
OK = "0"

#: (api_key, day as days since 1970-01-01 UTC, code) → requests
Counts = dict[tuple[str, int, str], int]


class RequestCounter:
    def __init__(self, capacity: int = 100_000) -> None:
        self._counts: Counts = {}
        self._capacity = capacity
        #: increments refused for want of room since the process started
        self.dropped = 0
        self._dropped_told = 0

    def count(self, api_key: str, now_ms: int, code: str = OK) -> None:
        """One request judged at ``now_ms`` with result ``code``. The hot path: a tuple, a
        dict read and a dict write."""
        entry = (api_key, now_ms // DAY_MS, code)
        counts = self._counts
        n = counts.get(entry)
        if n is not None:
            counts[entry] = n + 1
        elif len(counts) < self._capacity:
            counts[entry] = 1
        else:
            self.dropped += 1

    def drain(self) -> Counts:
        """Take what is pending (the caller writes it, adding to what is stored)."""
        counts, self._counts = self._counts, {}
        return counts

    def restore(self, counts: Counts) -> None:
        """Put back a batch whose write failed, adding to what arrived meanwhile. The bound
        holds here too: what does not fit is dropped, so a database down for hours costs
        bounded memory (and undercounts, which ``dropped`` says)."""
        pending = self._counts
        for entry, n in counts.items():
            current = pending.get(entry)
            if current is not None:
                pending[entry] = current + n
            elif len(pending) < self._capacity:
                pending[entry] = n
            else:
                self.dropped += n

    def newly_dropped(self) -> int:
        """Increments dropped since the last call (the writer logs them)."""
        news, self._dropped_told = self.dropped - self._dropped_told, self.dropped
        return news

    def __len__(self) -> int:
        return len(self._counts)
