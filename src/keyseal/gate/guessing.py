"""Guessing budgets: failed signatures and passphrases, counted per source address and per key.

An address past its budget is refused (70080) before its key is looked up, so a flood from it
costs a dict lookup: no store read, no HMAC, no argon2. A key past its budget refuses any
passphrase its process has not already accepted (70081) without an argon2 check, so the
holder of a stolen secret cannot try passphrases from many addresses either; a caller who
already proved both the secret and the passphrase keeps working, so an attacker who knows
only a key id cannot lock its owner out. Checks under way count against the budget, so a
burst of concurrent guesses cannot overrun it before the first one fails.

The tallies live in this process's memory, bounded in size; a key's lock-out also raises
one audit event (``passphrase_guessing``) through ``report``, off the hot path."""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field

from keyseal import errors
from keyseal.clock import Clock


@dataclass(frozen=True, slots=True)
class Budget:
    """``failures`` failed attempts within ``window_s``; past them, refused for ``lockout_s``."""

    failures: int
    window_s: float
    lockout_s: float


@dataclass(frozen=True, slots=True)
class KeyLockedOut:
    """A key's passphrase budget ran out: what the audit event records (never a passphrase)."""

    api_key: str
    account_id: int
    failures: int
    window_s: float
    lockout_s: float
    last_ip: str


@dataclass(slots=True)
class _Tally:
    failures: deque[float] = field(default_factory=deque)
    in_flight: int = 0
    blocked_until: float = 0.0


class _Tallies:
    """One budget over many subjects (addresses or keys)."""

    def __init__(self, clock: Clock, budget: Budget, max_subjects: int) -> None:
        self._clock = clock
        self.budget = budget
        self._max = max_subjects
        self._tallies: dict[Hashable, _Tally] = {}

    def retry_in(self, subject: Hashable, *, pending: bool = False) -> int:
        """0 if ``subject`` may try; else whole seconds until it may. With ``pending``, checks
        under way count as failures (for a check about to start)."""
        tally = self._tallies.get(subject)
        if tally is None:
            return 0
        now = self._clock()
        if tally.blocked_until > now:
            return max(1, math.ceil(tally.blocked_until - now))
        if pending:
            self._expire(tally, now)
            if len(tally.failures) + tally.in_flight >= self.budget.failures:
                oldest = tally.failures[0] if tally.failures else now
                return max(1, math.ceil(oldest + self.budget.window_s - now))
        return 0

    def begin(self, subject: Hashable) -> None:
        self._tally(subject).in_flight += 1

    def end(self, subject: Hashable) -> None:
        tally = self._tallies.get(subject)
        if tally is not None and tally.in_flight > 0:
            tally.in_flight -= 1

    def failed(self, subject: Hashable) -> bool:
        """Count a failure; True when it used up the budget (the subject is now locked out)."""
        tally = self._tally(subject)
        now = self._clock()
        self._expire(tally, now)
        tally.failures.append(now)
        if len(tally.failures) < self.budget.failures:
            return False
        tally.failures.clear()
        tally.blocked_until = now + self.budget.lockout_s
        return True

    def _expire(self, tally: _Tally, now: float) -> None:
        while tally.failures and tally.failures[0] <= now - self.budget.window_s:
            tally.failures.popleft()

    def _tally(self, subject: Hashable) -> _Tally:
        tally = self._tallies.get(subject)
        if tally is None:
            if len(self._tallies) >= self._max:
                self.prune()
            tally = self._tallies[subject] = _Tally()
        return tally

    def prune(self) -> None:
        """Forget subjects with nothing left to remember; if still full, the oldest half
        (a flood from many addresses then forgets the earliest, never grows without end)."""
        now = self._clock()
        for subject, tally in list(self._tallies.items()):
            self._expire(tally, now)
            if not tally.failures and not tally.in_flight and tally.blocked_until <= now:
                del self._tallies[subject]
        if len(self._tallies) >= self._max:
            for subject in list(self._tallies)[: len(self._tallies) // 2]:
                del self._tallies[subject]

    def __len__(self) -> int:
        return len(self._tallies)


class GuessingGuard:
    """The gate's budgets of failed signatures and passphrases.

    Counters, for an exporter to read (plain ints, only ever increased):
    ``failed_signatures`` and ``failed_passphrases`` (attempts that failed),
    ``refused_addresses`` (requests refused 70080) and ``refused_keys`` (70081), and
    ``keys_locked_out`` (lock-outs of a key, each also an audit event)."""

    def __init__(self, clock: Clock, *, per_address: Budget, per_key: Budget,
                 report: Callable[[KeyLockedOut], None] | None = None,
                 max_subjects: int = 100_000) -> None:
        self._addresses = _Tallies(clock, per_address, max_subjects)
        self._keys = _Tallies(clock, per_key, max_subjects)
        self._report = report
        self.failed_signatures = 0
        self.failed_passphrases = 0
        self.refused_addresses = 0
        self.refused_keys = 0
        self.keys_locked_out = 0

    def check_address(self, ip: str) -> None:
        """Before anything else: an address past its budget is refused at once."""
        wait = self._addresses.retry_in(ip)
        if wait:
            self.refused_addresses += 1
            raise errors.TOO_MANY_FAILURES_FROM_ADDRESS(wait, detail=f"address {ip}")

    def check_key(self, api_key: str, ip: str) -> None:
        """Before an argon2 check of a passphrase not yet accepted: refused when the key, or
        the address with its checks under way, is past its budget."""
        wait = self._keys.retry_in(api_key, pending=True)
        if wait:
            self.refused_keys += 1
            raise errors.TOO_MANY_FAILURES_FOR_KEY(wait, detail=f"key {api_key} from {ip}")
        wait = self._addresses.retry_in(ip, pending=True)
        if wait:
            self.refused_addresses += 1
            raise errors.TOO_MANY_FAILURES_FROM_ADDRESS(wait, detail=f"address {ip}")

    def checking(self, api_key: str, ip: str) -> None:
        """An argon2 check starts: it counts against both budgets until ``checked``."""
        self._keys.begin(api_key)
        self._addresses.begin(ip)

    def checked(self, api_key: str, ip: str) -> None:
        self._keys.end(api_key)
        self._addresses.end(ip)

    def signature_failed(self, ip: str) -> None:
        self.failed_signatures += 1
        self._addresses.failed(ip)

    def passphrase_failed(self, api_key: str, account_id: int, ip: str) -> None:
        self.failed_passphrases += 1
        self._addresses.failed(ip)
        if self._keys.failed(api_key):
            self.keys_locked_out += 1
            if self._report is not None:
                budget = self._keys.budget
                self._report(KeyLockedOut(api_key, account_id, budget.failures,
                                          budget.window_s, budget.lockout_s, ip))

    def prune(self) -> None:
        self._addresses.prune()
        self._keys.prune()

    @property
    def tracked(self) -> int:
        """How many addresses and keys are remembered now."""
        return len(self._addresses) + len(self._keys)
