"""Time as a dependency: the server reads the clock through this, so tests can move it."""

from __future__ import annotations

import time
from collections.abc import Callable

Clock = Callable[[], float]
"""A function returning seconds since the epoch."""

system_clock: Clock = time.time


def millis(clock: Clock) -> int:
    """The clock's time in whole milliseconds, as OKX writes ``ts`` fields."""
    return int(clock() * 1000)


class ManualClock:
    """A clock that moves only when told to; for tests and the sweeper's ``--as-of``."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds
