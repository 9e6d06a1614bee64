"""Last-used time and IP, kept in memory and written in batches: one write per key per
interval, however many requests arrive. A use of a rotated key's previous secret is also
kept apart, so its owner sees when and from where the old secret was last used."""

from __future__ import annotations

Usage = list[tuple[str, int, str]]


class UsageRecorder:
    def __init__(self) -> None:
        self._pending: dict[str, tuple[int, str]] = {}
        self._old_secrets: dict[str, tuple[int, str]] = {}

    def record(self, api_key: str, at_ms: int, ip: str) -> None:
        self._pending[api_key] = (at_ms, ip)

    def record_old_secret(self, api_key: str, at_ms: int, ip: str) -> None:
        """The request was signed with the key's previous secret (``record`` it too)."""
        self._old_secrets[api_key] = (at_ms, ip)

    def drain(self) -> Usage:
        """Take what is pending (the caller writes it)."""
        pending, self._pending = self._pending, {}
        return [(key, at, ip) for key, (at, ip) in pending.items()]

    def drain_old_secrets(self) -> Usage:
        pending, self._old_secrets = self._old_secrets, {}
        return [(key, at, ip) for key, (at, ip) in pending.items()]

    def restore(self, usage: Usage, old_secrets: Usage | None = None) -> None:
        """Put back a batch whose write failed, unless newer usage arrived meanwhile."""
        for pending, batch in ((self._pending, usage), (self._old_secrets, old_secrets or [])):
            for key, at, ip in batch:
                current = pending.get(key)
                if current is None or current[0] < at:
                    pending[key] = (at, ip)

    def __len__(self) -> int:
        return len(self._pending)
