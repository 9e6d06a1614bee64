"""Replay refusal: within OKX's ±30 s window a captured signed request would verify again,
so the gate remembers each signature it let through until that request's timestamp leaves
the window, and refuses an exact repeat (70017).

Only state-changing requests (any method but GET and HEAD: an order, a cancel, a transfer, a
withdrawal, a key change) are remembered by default: two identical polls in one millisecond
are normal. ``KEYSEAL_REFUSE_REPEATED_READS=1`` remembers reads too. The memory is this
process's; with Redis configured, ``shared_replay.SharedReplay`` shares it between processes."""

from __future__ import annotations

import hashlib
from collections import deque

READ_METHODS = frozenset({"GET", "HEAD"})


class ReplayGuard:
    """The signatures seen, each kept until its request's timestamp is out of the window.
    ``first_use`` is synchronous, so a check and its record cannot interleave on one loop."""

    def __init__(self, window_s: float, *, refuse_repeated_reads: bool = False) -> None:
        self._window_s = window_s
        self.refuse_repeated_reads = refuse_repeated_reads
        self._seen: dict[bytes, float] = {}
        self._expiring: deque[tuple[float, bytes]] = deque()

    def applies_to(self, method: str) -> bool:
        return self.refuse_repeated_reads or method.upper() not in READ_METHODS

    def first_use(self, api_key: str, timestamp: str, signature: str, sent_at: float,
                  now: float) -> bool:
        """True the first time this signed request is seen (and remembers it); False for a
        repeat while its timestamp is still inside the window."""
        self._forget_until(now)
        digest = request_digest(api_key, timestamp, signature)
        if digest in self._seen:
            return False
        until = self.remember_until(sent_at, now)
        self._seen[digest] = until
        self._expiring.append((until, digest))
        return True

    def remember_until(self, sent_at: float, now: float) -> float:
        """Accepted while |now - sent_at| <= window: remembered until the window's far edge."""
        return max(now, sent_at + self._window_s) + 1.0

    def _forget_until(self, now: float) -> None:
        expiring = self._expiring
        while expiring and expiring[0][0] < now:
            _, digest = expiring.popleft()
            self._seen.pop(digest, None)

    def __len__(self) -> int:
        return len(self._seen)


def request_digest(api_key: str, timestamp: str, signature: str) -> bytes:
    """What identifies one signed request: the key, its timestamp and its signature."""
    return hashlib.blake2b(f"{api_key}\n{timestamp}\n{signature}".encode(),
                           digest_size=16).digest()
