"""The one-time reveal. A created key's secret and passphrase are held in this process's
memory only between the POST that created the key and the one GET that shows them (a
redirect apart, so a reload never re-submits the form): the first read takes them out, and
anything unread is dropped after ``MAX_AGE_S``. They are never written anywhere."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

from keyseal.domain.keys import CreatedKey

MAX_AGE_S = 120.0


@dataclass(frozen=True)
class Pending:
    created: CreatedKey = field(repr=False)
    at: float


class OneTimeReveals:
    def __init__(self) -> None:
        self._held: dict[str, Pending] = {}
        self._lock = threading.Lock()

    def hold(self, session_token: str, created: CreatedKey) -> None:
        now = time.monotonic()
        with self._lock:
            for token in [t for t, p in self._held.items() if now - p.at > MAX_AGE_S]:
                del self._held[token]
            self._held[session_token] = Pending(created, now)

    def take(self, session_token: str) -> Pending | None:
        """The pending reveal of this session, removed as it is read."""
        with self._lock:
            found = self._held.pop(session_token, None)
        if found is None or time.monotonic() - found.at > MAX_AGE_S:
            return None
        return found
