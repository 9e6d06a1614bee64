"""How long to wait before retrying a rate-limited request."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Backoff:
    """Exponential backoff with jitter, for a bounded number of retries.

    The n-th retry (from 0) waits ``min(cap, base * factor**n)`` scaled by a random factor in
    [0.5, 1): the randomness keeps many clients of one account from retrying in lock-step and
    hitting the shared limit together again.
    """

    max_retries: int = 4
    base: float = 0.25
    factor: float = 2.0
    cap: float = 4.0
    random: Callable[[], float] = field(default=random.random, repr=False)

    def delay(self, retry: int, retry_after: float | None = None) -> float:
        """Seconds to wait before retry number ``retry``; at least what the server asked for."""
        ceiling = min(self.cap, self.base * self.factor ** retry)
        wait = ceiling * (0.5 + self.random() / 2)
        if retry_after is not None:
            wait = max(wait, min(retry_after, self.cap))
        return wait


#: A backoff that never retries, for callers that handle 50011 themselves.
NO_RETRY = Backoff(max_retries=0)
