"""The time the server believes it is, as far as this client can tell.

OKX refuses a request whose timestamp is more than 30 s off its own clock (50102), and a
machine whose clock drifted cannot fix that by retrying. The client measures its offset
against ``GET /api/v5/public/time`` and signs with the corrected time.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

#: Seconds since the epoch, as ``time.time`` returns them; injectable so tests skew it.
Clock = Callable[[], float]


@dataclass(frozen=True, slots=True)
class ClockReading:
    """One measurement against the server: how far off this machine is, and how long it took.

    ``offset`` is server time minus local time, in seconds (positive: the local clock is
    behind). It assumes the server stamped its reply half-way through the round trip.
    """

    offset: float
    round_trip: float

    @classmethod
    def from_exchange(cls, sent_at: float, received_at: float, server_time: float) -> ClockReading:
        return cls(offset=server_time - (sent_at + received_at) / 2,
                   round_trip=max(0.0, received_at - sent_at))


class ServerClock:
    """Local time plus the last measured offset to the server."""

    def __init__(self, local: Clock = time.time) -> None:
        self.local = local
        self.offset = 0.0
        self.synced = False

    def now(self) -> float:
        return self.local() + self.offset

    def apply(self, reading: ClockReading) -> None:
        self.offset = reading.offset
        self.synced = True
