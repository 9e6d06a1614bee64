"""The gate: one small check per step, each refusing with one OKX code. The order, as
``Gate.authenticate`` runs it:

the source address within its guessing budget (70080) → headers present (50103 key,
50106 sign, 50107 timestamp, 50104 passphrase) → timestamp
parses (50112) → key known (50111) → environment (50101) → key disabled or account
restricted (50100) → timestamp within the window (50102, saying ``skewMs``) → signature
(50113, with ``explain`` for demo keys and keys that ask for it; a rotated key's previous
secret is tried after the current one while its overlap lasts) → IP allow-list (50110) →
passphrase (50105) → permission (50120) → sub-account management (59500,
70010, 50035: the key must be really bound to IPs) → not a repeat of a signed request already
let through (70017; state-changing requests, reads too if so set) → rate limit (50011) →
usage recorded. The rate limit is OKX's for the route, per account, and the seeds' for
every private route together, per key, charged together (all or none); with Redis the limits
and the replay memory are every process's (``shared_limits``, ``shared_replay``).
Every judgement of an existing key, let through or refused, is counted by day and code
for its activity chart (``gate/activity.py``).
A failed signature or passphrase is counted against the address's and the key's guessing
budgets (gate/guessing.py); a passphrase not yet accepted is checked only within the key's
(70081).

The signature comes before a passphrase the cache has not yet accepted: that check costs
argon2, so it is spent only on a caller who holds the secret, and a key id alone buys no
hashing and no guesses (docs/decisions/0004). The allow-list comes before the passphrase,
so that from outside it a stolen secret cannot be used to test passphrases. Format errors of
key management (label, IP entries) are Keyseal's 70012-70016, not OKX's 59502/59503.

Warm requests do no I/O; the slow parts (loading a key, the first argon2 check of a
passphrase) run off the event loop."""

from __future__ import annotations

import asyncio
import hmac
from base64 import b64encode
from collections.abc import Awaitable, Callable, Hashable, Mapping
from dataclasses import dataclass, field
from typing import TypeVar

from keyseal import errors
from keyseal.clock import Clock
from keyseal.crypto.passwords import FastVerifier
from keyseal.domain.keys import Environment, looks_like_api_key
from keyseal.domain.permissions import Permission
from keyseal.gate.activity import RequestCounter
from keyseal.gate.cache import KeyCache
from keyseal.gate.entry import KeyEntry, PreviousSecret
from keyseal.gate.guessing import GuessingGuard
from keyseal.gate.known_keys import KnownKeys
from keyseal.gate.ratelimit import Charge, Rate, RateLimiter
from keyseal.gate.replay import ReplayGuard
from keyseal.gate.shared_limits import SharedLimiter
from keyseal.gate.shared_replay import SharedReplay
from keyseal.gate.usage import UsageRecorder
from keyseal.signing import (
    decoded_target,
    explain,
    parse_timestamp,
    sign_ws_login,
    signatures_match,
)

KeyLoader = Callable[[str], Awaitable[KeyEntry | None]]
PassphraseCheck = Callable[[str, str], Awaitable[bool]]
MAX_BAD_PASSPHRASES = 8
_LIVE = Environment.LIVE
K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


@dataclass(frozen=True, slots=True)
class SignedRequest:
    method: str
    target: bytes  # raw path + ?raw query, exactly as received
    body: bytes
    headers: Mapping[str, str] = field(repr=False)  # lower-case names; holds the passphrase
    client_ip: str


@dataclass(frozen=True, slots=True)
class Guard:
    """What a route demands of the key that calls it."""

    permission: Permission
    rate: Rate | None
    rate_group: str
    #: only a master account's key with sub-account access (else 59500 / 70010)
    manages_subs: bool = False
    #: and only when that key is bound to IPs (else 50035)
    needs_ip_binding: bool = False
    permission_bits: int = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "permission_bits", int(self.permission))


@dataclass(slots=True)
class Principal:
    """Who is calling: the verified key and the environment it acts in."""

    key: KeyEntry
    environment: Environment
    client_ip: str


class Gate:
    def __init__(self, *, clock: Clock, cache: KeyCache, load_key: KeyLoader,
                 check_passphrase: PassphraseCheck, limiter: RateLimiter,
                 usage: UsageRecorder, window_s: float = 30.0,
                 known_keys: KnownKeys | None = None,
                 replay: ReplayGuard | None = None, key_rate: Rate | None = None,
                 shared_limits: SharedLimiter | None = None,
                 shared_replay: SharedReplay | None = None,
                 activity: RequestCounter | None = None,
                 guessing: GuessingGuard | None = None) -> None:
        self._clock = clock
        self._cache = cache
        self._load_key = load_key
        self._check_passphrase = check_passphrase
        self._limiter = limiter
        self._usage = usage
        self._window_s = window_s
        #: the ids that exist: an id outside it is refused without reading the store
        self._known_keys = known_keys
        #: signed requests already let through, refused if they come again (70017)
        self._replay = replay
        #: requests per key, day and result code, for the owner's activity chart
        self._activity = activity
        #: every private endpoint together, per API key (the seeds' limit), beside OKX's
        self._key_rate = key_rate
        #: with Redis: the limits and the replay memory every process shares (None: this
        #: process's own, checked without an await)
        self._shared_limits = shared_limits
        self._shared_replay = shared_replay
        #: failed signatures and passphrases per address and key (None: not budgeted)
        self.guessing = guessing
        self._fast = FastVerifier()
        # concurrent misses for one key share one load, and concurrent first uses of one
        # passphrase share one argon2 check: a burst on a cold key costs one of each
        self._loading: dict[str, asyncio.Future[KeyEntry | None]] = {}
        self._checking: dict[tuple[str, bytes], asyncio.Future[bool]] = {}

    async def authenticate(self, request: SignedRequest, guard: Guard) -> Principal:
        try:
            return await self._authenticate(request, guard)
        except errors.OkxError as refusal:
            self._count_refusal(request.headers.get("ok-access-key", ""), refusal.code)
            raise

    async def _authenticate(self, request: SignedRequest, guard: Guard) -> Principal:
        if self.guessing is not None:  # before the key is looked up: refused for free
            self.guessing.check_address(request.client_ip)
        headers = request.headers
        api_key = headers.get("ok-access-key", "")
        signature = headers.get("ok-access-sign", "")
        timestamp = headers.get("ok-access-timestamp", "")
        passphrase = headers.get("ok-access-passphrase", "")
        if not (api_key and signature and timestamp and passphrase):
            _require_headers(api_key, signature, timestamp, passphrase)
        sent_at = _parse_timestamp(timestamp)
        entry = self._cache.get(api_key)  # the warm path stays synchronous
        if not isinstance(entry, KeyEntry):
            entry = await self._entry(api_key)
        simulated = headers.get("x-simulated-trading")
        environment = _LIVE if simulated is None else Environment.from_header(simulated)
        now = self._clock()
        now_ms = int(now * 1000)
        self._check_state(entry, environment, now - sent_at)
        # the signature first: a passphrase not yet accepted costs an argon2 check, spent only
        # on a caller who holds the secret, so a key id alone buys no hashing and no guesses
        try:
            previous = _verify_signature(entry, request, timestamp, signature, now_ms)
        except errors.OkxError:
            if self.guessing is not None:
                self.guessing.signature_failed(request.client_ip)
            raise
        # then the allow-list: outside it, the holder of a stolen secret cannot test
        # passphrases, since none is tried (and no argon2 is spent) for such a caller
        if entry.allowlist and not entry.allowlist.permits(request.client_ip):
            raise errors.IP_NOT_ALLOWED(request.client_ip, detail=f"key {api_key}")
        if previous is not None:  # a rotated key's previous secret: its own passphrase
            await self._verify_passphrase(entry, passphrase, request.client_ip, previous)
        elif (ok := entry.passphrase_ok) is None or not self._fast.same(
                ok, self._fast.digest(passphrase)):
            await self._verify_passphrase(entry, passphrase, request.client_ip)
        if guard.permission_bits & entry.permission_bits != guard.permission_bits:
            raise errors.NO_PERMISSION(
                detail=f"key {api_key} lacks {guard.permission!r} for {guard.rate_group}")
        if guard.manages_subs:
            _check_sub_management(entry, guard)
        replay = self._replay
        if replay is not None and replay.applies_to(request.method):
            shared_replay = self._shared_replay
            if not (replay.first_use(api_key, timestamp, signature, sent_at, now)
                    if shared_replay is None else await shared_replay.first_use(
                        api_key, timestamp, signature, sent_at, now)):
                raise errors.REPLAYED(detail=f"key {api_key}: {request.method} repeated")
        rate, key_rate = guard.rate, self._key_rate
        if (rate is not None or key_rate is not None) and self._limiter.enabled:
            route = (entry.account_id, environment, guard.rate_group)
            shared = self._shared_limits
            if not (self._limited_here(route, rate, ("key", api_key), key_rate)
                    if shared is None else await shared.take(
                        _charges(route, rate, ("key", api_key), key_rate))):
                raise errors.RATE_LIMITED(detail=f"account {entry.uid}: {guard.rate_group} "
                                                 f"{rate}, key {api_key} {key_rate}")
        self._usage.record(api_key, now_ms, request.client_ip)
        if self._activity is not None:
            self._activity.count(api_key, now_ms)
        if previous is not None:
            self._used_previous(api_key, previous, now_ms, request.client_ip)
        return Principal(entry, environment, request.client_ip)

    def _limited_here(self, route: Hashable, rate: Rate | None, key: Hashable,
                      key_rate: Rate | None) -> bool:
        """This process's limits: the route's per account and the key's, all or none."""
        if rate is None:
            assert key_rate is not None
            return self._limiter.allow(key, key_rate)
        if key_rate is None:
            return self._limiter.allow(route, rate)
        return self._limiter.allow_pair(route, rate, key, key_rate)

    async def login(self, api_key: str, passphrase: str, timestamp_s: float, signature: str,
                    timestamp_text: str, environment: Environment, client_ip: str) -> KeyEntry:
        """A WebSocket ``op=login``: the same key checks, over the fixed login prehash."""
        try:
            return await self._login(api_key, passphrase, timestamp_s, signature,
                                     timestamp_text, environment, client_ip)
        except errors.OkxError as refusal:
            self._count_refusal(api_key, refusal.code)
            raise

    async def _login(self, api_key: str, passphrase: str, timestamp_s: float, signature: str,
                     timestamp_text: str, environment: Environment, client_ip: str
                     ) -> KeyEntry:
        if self.guessing is not None:
            self.guessing.check_address(client_ip)
        entry = await self._entry(api_key)
        self._check_state(entry, environment, self._clock() - timestamp_s)
        previous = None
        if not signatures_match(signature, sign_ws_login(entry.secret, timestamp_text)):
            previous = entry.previous
            if previous is None or not previous.live(int(self._clock() * 1000)) or \
                    not signatures_match(signature, sign_ws_login(previous.secret, timestamp_text)):
                if self.guessing is not None:
                    self.guessing.signature_failed(client_ip)
                raise errors.INVALID_SIGN(detail=f"key {api_key}: login signature mismatch")
        if not entry.allowlist.permits(client_ip):  # before the passphrase, as above
            raise errors.IP_NOT_ALLOWED(client_ip, detail=f"key {api_key}")
        await self._verify_passphrase(entry, passphrase, client_ip, previous)
        now_ms = int(self._clock() * 1000)
        self._usage.record(api_key, now_ms, client_ip)
        if self._activity is not None:
            self._activity.count(api_key, now_ms)
        if previous is not None:
            self._used_previous(api_key, previous, now_ms, client_ip)
        return entry

    def _count_refusal(self, api_key: str, code: str) -> None:
        """Count a refusal for its key's chart, only when the key exists: a random or
        deleted id adds nothing, so the counter's memory follows the real keys."""
        activity = self._activity
        if activity is None or not api_key:
            return
        known = self._known_keys  # the cache first: cheaper than parsing the id for the set
        if self._cache.holds(api_key) or (
                known is not None and api_key in known):
            activity.count(api_key, int(self._clock() * 1000), code)

    def _used_previous(self, api_key: str, previous: PreviousSecret, now_ms: int,
                       client_ip: str) -> None:
        """A use of the previous secret keeps it from falling silent, here at once and, once
        written, for the sweeper and the other processes."""
        previous.used(now_ms)
        self._usage.record_old_secret(api_key, now_ms, client_ip)

    def _check_state(self, entry: KeyEntry, environment: Environment, age_s: float) -> None:
        """Environment, then disabled/restricted, then the timestamp window (§1.9 order)."""
        if entry.environment is not environment:
            raise errors.WRONG_ENVIRONMENT(detail=f"key {entry.api_key} is {entry.environment}")
        if entry.frozen:
            raise errors.API_FROZEN(
                detail=f"key {entry.api_key} is disabled or its account restricted")
        if abs(age_s) > self._window_s:
            # how far off, beside msg: the timestamp minus our time (positive: it is ahead)
            raise errors.TIMESTAMP_EXPIRED(detail=f"timestamp {age_s:+.1f} s from now",
                                           extra={"skewMs": str(round(-age_s * 1000))})

    async def _entry(self, api_key: str) -> KeyEntry:
        cached = self._cache.get(api_key)
        if cached is None:
            if not looks_like_api_key(api_key):
                raise errors.INVALID_KEY(detail="not a UUID")
            try:
                known = self._known_keys is None or await self._known_keys.exists(api_key)
                if not known:
                    raise errors.INVALID_KEY(detail=f"unknown key {api_key}")
                loaded_at = self._cache.evictions
                loaded = await _single_flight(self._loading, api_key,
                                              lambda: self._load_key(api_key))
            except errors.OkxError:
                raise
            except Exception as failure:  # the store is away: cached keys still verify
                raise errors.SERVICE_UNAVAILABLE(
                    detail=f"cannot read key {api_key}: {type(failure).__name__}") from None
            if self._cache.get(api_key) is None:
                self._cache.put(api_key, loaded, loaded_at=loaded_at)
            cached = loaded if loaded is not None else False
        if not isinstance(cached, KeyEntry):
            raise errors.INVALID_KEY(detail=f"unknown key {api_key}")
        return cached

    async def _verify_passphrase(self, entry: KeyEntry, passphrase: str, client_ip: str,
                                 previous: PreviousSecret | None = None) -> None:
        """The passphrase of the secret that signed: the key's, or the previous secret's own
        when a new passphrase came with the rotation. Every failure counts against the
        guessing budgets; past the key's, no argon2 check starts (70081)."""
        holder: KeyEntry | PreviousSecret = entry
        if previous is not None and previous.passphrase_hash is not None:
            holder = previous
        stored = holder.passphrase_hash
        assert stored is not None
        digest = self._fast.digest(passphrase)
        if holder.passphrase_ok is not None and self._fast.same(holder.passphrase_ok, digest):
            return
        guessing = self.guessing
        # the same passphrase already being checked: wait for that check, which is one guess
        # under way however many requests share it (a burst of right ones is no attack)
        joining = (stored, digest) in self._checking
        if guessing is not None and not joining:
            guessing.check_key(entry.api_key, client_ip)
        if digest in holder.passphrase_bad:
            if guessing is not None:
                guessing.passphrase_failed(entry.api_key, entry.account_id, client_ip)
            raise errors.PASSPHRASE_INCORRECT(detail=f"key {entry.api_key}")
        if guessing is None or joining:
            accepted = await self._argon2(stored, digest, passphrase)
        else:
            guessing.checking(entry.api_key, client_ip)
            try:
                accepted = await self._argon2(stored, digest, passphrase)
            finally:
                guessing.checked(entry.api_key, client_ip)
        if accepted:
            holder.passphrase_ok = digest
            return
        if len(holder.passphrase_bad) < MAX_BAD_PASSPHRASES:
            holder.passphrase_bad.add(digest)
        if guessing is not None:
            guessing.passphrase_failed(entry.api_key, entry.account_id, client_ip)
        raise errors.PASSPHRASE_INCORRECT(detail=f"key {entry.api_key}")

    def _argon2(self, stored: str, digest: bytes, passphrase: str) -> Awaitable[bool]:
        return _single_flight(
            self._checking, (stored, digest), lambda: self._check_passphrase(stored, passphrase))


async def _single_flight(pending: dict[K, asyncio.Future[V]], key: K,
                         start: Callable[[], Awaitable[V]]) -> V:
    """Await the call already under way for ``key``, or start it as a task of its own, so
    that one caller giving up (a dropped connection) cancels nobody else's wait."""
    running = pending.get(key)
    if running is None:
        running = pending[key] = asyncio.ensure_future(start())
        running.add_done_callback(lambda _: pending.pop(key, None))
    return await asyncio.shield(running)


def _charges(route: Hashable, rate: Rate | None, key: Hashable, key_rate: Rate | None
             ) -> list[Charge]:
    return [(subject, r, 1) for subject, r in ((route, rate), (key, key_rate)) if r is not None]


def _check_sub_management(entry: KeyEntry, guard: Guard) -> None:
    if entry.is_sub:
        raise errors.ONLY_MAIN_ACCOUNT(detail=f"key {entry.api_key} is a sub-account's")
    if not entry.sub_account_access:
        raise errors.NO_SUB_ACCOUNT_ACCESS(detail=f"key {entry.api_key}")
    if guard.needs_ip_binding and not entry.allowlist.bound:
        raise errors.IP_BINDING_REQUIRED(detail=f"key {entry.api_key} has no IP allow-list")


def _require_headers(api_key: str, signature: str, timestamp: str, passphrase: str) -> None:
    if not api_key:
        raise errors.KEY_HEADER_EMPTY()
    if not signature:
        raise errors.SIGN_HEADER_EMPTY()
    if not timestamp:
        raise errors.TIMESTAMP_HEADER_EMPTY()
    if not passphrase:
        raise errors.PASSPHRASE_HEADER_EMPTY()


def _parse_timestamp(timestamp: str) -> float:
    try:
        return parse_timestamp(timestamp)
    except (ValueError, OverflowError, OSError):
        raise errors.INVALID_TIMESTAMP(detail=f"cannot parse {timestamp[:40]!r}") from None


def _verify_signature(entry: KeyEntry, request: SignedRequest, timestamp: str,
                      signature: str, now_ms: int) -> PreviousSecret | None:
    """The raw target first; then once more percent-decoded (python-okx signs values that
    httpx encodes afterwards). Both need the secret. Bytes throughout: this runs on every
    request, and the same computation as ``signing.sign_request`` without its conversions.
    Then, for a rotated key whose previous secret is still live, the same with that secret;
    returns it when it signed (None: the current secret did)."""
    given = signature.encode("latin-1")
    head = timestamp.encode("latin-1") + request.method.encode("ascii")
    raw = head + request.target + request.body
    if hmac.compare_digest(given, b64encode(entry.signer.digest(raw))):
        return None
    decoded = decoded_target(request.target)
    other = head + decoded + request.body if decoded != request.target else None
    if other is not None and _signed(entry.secret, given, other):
        return None
    previous = entry.previous
    if previous is not None and previous.live(now_ms) and (
            _signed(previous.secret, given, raw)
            or (other is not None and _signed(previous.secret, given, other))):
        return previous
    # a demo key, or one whose owner asked, is told what was hashed: all of it comes from the
    # request itself, so it gives away neither the secret nor the signature we expected
    extra = {"explain": explain(timestamp, request.method, request.target, request.body)} \
        if entry.explains else None
    raise errors.INVALID_SIGN(detail=f"key {entry.api_key}: signature mismatch", extra=extra)


def _signed(secret: bytes, given: bytes, prehash: bytes) -> bool:
    return hmac.compare_digest(given, b64encode(hmac.digest(secret, prehash, "sha256")))
