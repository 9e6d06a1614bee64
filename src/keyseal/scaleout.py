"""Settings of the state several serving processes share: the Redis that holds their rate
limits and replay memory and fans out key changes, and the seeds' limits on top of OKX's.

Kept apart from ``settings.py`` (one field there, ``Settings.scaleout``) so the settings
library can take it over whole. Each field has a ``KEYSEAL_*`` environment variable."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from keyseal.gate.ratelimit import Rate

REDIS_URL_ENV = "KEYSEAL_REDIS_URL"
REDIS_PREFIX_ENV = "KEYSEAL_REDIS_PREFIX"
REDIS_TIMEOUT_ENV = "KEYSEAL_REDIS_TIMEOUT_S"
REDIS_RETRY_ENV = "KEYSEAL_REDIS_RETRY_S"
PUBLIC_IP_RATE_ENV = "KEYSEAL_PUBLIC_IP_RATE"
PRIVATE_KEY_RATE_ENV = "KEYSEAL_PRIVATE_KEY_RATE"


def parse_rate(text: str, name: str = "rate") -> Rate | None:
    """``"10/1"`` (10 requests per 1 second) or ``"off"``."""
    text = text.strip()
    if text.lower() in ("off", "none", "0"):
        return None
    limit, sep, period = text.partition("/")
    try:
        rate = Rate(int(limit), float(period.removesuffix("s")) if sep else 1.0)
    except ValueError:
        raise ValueError(f"{name} must be N/SECONDS (e.g. 10/1) or off, not {text[:20]!r}"
                         ) from None
    if rate.limit < 1 or not rate.period_s > 0:
        raise ValueError(f"{name} must allow at least 1 request in more than 0 s, not {text!r}")
    return rate


def _env_rate(name: str, default: str) -> Rate | None:
    return parse_rate(os.environ.get(name, "").strip() or default, name)


def _env_seconds(name: str, default: float) -> float:
    text = os.environ.get(name, "").strip()
    try:
        value = float(text) if text else default
    except ValueError:
        raise ValueError(f"{name} must be a number of seconds, not {text[:20]!r}") from None
    if not value > 0:
        raise ValueError(f"{name} must be more than 0")
    return value


@dataclass(repr=False)
class ScaleOut:
    #: ``redis://[:password@]host:port/db``; empty: every limit and memory is this process's
    redis_url: str = field(default_factory=lambda: os.environ.get(REDIS_URL_ENV, "").strip())
    #: put before every Redis key and channel: processes that share one are one deployment
    redis_prefix: str = field(
        default_factory=lambda: os.environ.get(REDIS_PREFIX_ENV, "").strip() or "keyseal:")
    #: a Redis command slower than this counts as Redis being away (limits fall back)
    redis_timeout_s: float = field(default_factory=lambda: _env_seconds(REDIS_TIMEOUT_ENV, 0.25))
    #: while Redis is away, it is tried again this often; the shared limits resume when it answers
    redis_retry_s: float = field(default_factory=lambda: _env_seconds(REDIS_RETRY_ENV, 0.5))
    #: every public endpoint together, per client IP, on top of each endpoint's own limit
    public_ip_rate: Rate | None = field(
        default_factory=lambda: _env_rate(PUBLIC_IP_RATE_ENV, "10/1"))
    #: every private endpoint together, per API key, on top of OKX's per-account limits
    private_key_rate: Rate | None = field(
        default_factory=lambda: _env_rate(PRIVATE_KEY_RATE_ENV, "50/1"))

    def __post_init__(self) -> None:
        if self.redis_url and not self.redis_url.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError(f"{REDIS_URL_ENV} (--redis) must start with redis://, rediss:// or "
                             "unix://")

    @property
    def shown_redis_url(self) -> str:
        """The URL with any password masked, for logs and messages."""
        if not self.redis_url:
            return "none"
        from keyseal.settings import mask_url_parameters  # settings imports this module

        masked = mask_url_parameters(self.redis_url)
        scheme, sep, rest = masked.partition("://")
        auth, at, host = rest.rpartition("@")
        if not at:
            return masked
        user = auth.partition(":")[0]
        return f"{scheme}{sep}{user}:***@{host}" if ":" in auth or user else masked

    def __repr__(self) -> str:  # the URL may carry a password: never print it
        return (f"ScaleOut(redis_url={self.shown_redis_url!r}, redis_prefix={self.redis_prefix!r}, "
                f"public_ip_rate={self.public_ip_rate}, private_key_rate={self.private_key_rate})")
