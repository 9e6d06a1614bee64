"""Everything one serving process holds: the runtime, the gate and its caches."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Protocol

from keyseal.crypto import verify_hash
from keyseal.gate.cache import KeyCache
from keyseal.gate.entry import KeyEntry
from keyseal.gate.ratelimit import RateLimiter
from keyseal.gate.usage import UsageRecorder
from keyseal.gate.verifier import Gate
from keyseal.services import keys as key_service
from keyseal.services.balance_cache import BalanceCache
from keyseal.services.runtime import Runtime


class SessionCloser(Protocol):
    """A logged-in WebSocket session, as far as the change follower needs it."""

    entry: KeyEntry

    async def close(self, code: int, reason: str) -> None: ...


@dataclass
class ServerState:
    rt: Runtime
    gate: Gate
    key_cache: KeyCache
    limiter: RateLimiter
    usage: UsageRecorder
    balances: BalanceCache
    #: logged-in private WebSocket sessions, by API key
    sessions: dict[str, set[SessionCloser]] = field(default_factory=dict)

    def close_sessions(self, *, api_key: str | None = None, account_id: int | None = None
                       ) -> None:
        """Close the sessions of a changed key (or of every key of an account) with OKX's
        4007, so a disabled or deleted key does not stay logged in."""
        doomed: list[SessionCloser] = []
        if api_key is not None:
            doomed.extend(self.sessions.pop(api_key, ()))
        if account_id is not None:
            for key in [k for k, group in self.sessions.items()
                        if any(account_id in (s.entry.account_id, s.entry.master_id)
                               for s in group)]:
                doomed.extend(self.sessions.pop(key))
        for session in doomed:
            asyncio.ensure_future(session.close(
                4007, "API key has been updated or deleted. Please reconnect."))



def _load_entry(rt: Runtime, api_key: str) -> KeyEntry | None:
    found = key_service.load_credentials(rt, api_key)
    if found is None:
        return None
    creds, secret = found
    key = creds.key
    return KeyEntry(
        api_key=key.api_key, account_id=key.account_id, uid=creds.uid, main_uid=creds.main_uid,
        label=key.label, secret=secret, passphrase_hash=creds.passphrase_hash,
        permission=key.permission, allowlist=key.allowlist, environment=key.environment,
        frozen=key.status.value != "enabled" or creds.account_restricted,
        master_id=creds.master_id, kyc_level=creds.kyc_level,
        sub_account_access=creds.sub_account_access)


def build_state(rt: Runtime) -> ServerState:
    settings = rt.settings
    cache = KeyCache(rt.clock, settings.key_cache_size, settings.unknown_key_ttl_s)
    limiter = RateLimiter(rt.clock, enabled=settings.rate_limits)
    usage = UsageRecorder()

    async def load_key(api_key: str) -> KeyEntry | None:
        return await asyncio.to_thread(_load_entry, rt, api_key)

    async def check_passphrase(stored: str, candidate: str) -> bool:
        return await asyncio.to_thread(verify_hash, stored, candidate)

    gate = Gate(clock=rt.clock, cache=cache, load_key=load_key,
                check_passphrase=check_passphrase, limiter=limiter, usage=usage,
                window_s=settings.timestamp_window_s)
    return ServerState(rt, gate, cache, limiter, usage, BalanceCache(rt))
