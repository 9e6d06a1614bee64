"""Last-used time and IP, kept in memory and written in batches: one write per key per
interval, however many requests arrive."""

from __future__ import annotations


class UsageRecorder:
    def __init__(self) -> None:
        self._pending: dict[str, tuple[int, str]] = {}

    def record(self, api_key: str, at_ms: int, ip: str) -> None:
        self._pending[api_key] = (at_ms, ip)

    def drain(self) -> list[tuple[str, int, str]]:
        """Take what is pending (the caller writes it)."""
        pending, self._pending = self._pending, {}
        return [(key, at, ip) for key, (at, ip) in pending.items()]

    def restore(self, usage: list[tuple[str, int, str]]) -> None:
        """Put back a batch whose write failed, unless newer usage arrived meanwhile."""
        for key, at, ip in usage:
            current = self._pending.get(key)
            if current is None or current[0] < at:
                self._pending[key] = (at, ip)

    def __len__(self) -> int:
        return len(self._pending)
