"""Settings of one Keyseal home: where the data lives and how the server behaves."""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields
from pathlib import Path

from keyseal.domain.accounts import LoginPolicy
from keyseal.domain.expiry import ExpiryPolicy
from keyseal.domain.ipallow import AllowlistRules
from keyseal.domain.market import Market, default_market
from keyseal.scaleout import ScaleOut

HOME_ENV = "KEYSEAL_HOME"
DB_ENV = "KEYSEAL_DB"
KEY_CACHE_MAX_AGE_ENV = "KEYSEAL_KEY_CACHE_MAX_AGE_S"
REFUSE_REPEATED_READS_ENV = "KEYSEAL_REFUSE_REPEATED_READS"
ROTATION_SILENCE_ENV = "KEYSEAL_ROTATION_SILENCE_S"
ROTATION_GRACE_ENV = "KEYSEAL_ROTATION_GRACE_S"
MIN_IPV4_PREFIX_ENV = "KEYSEAL_MIN_IPV4_PREFIX"
MIN_IPV6_PREFIX_ENV = "KEYSEAL_MIN_IPV6_PREFIX"
MAX_BODY_BYTES_ENV = "KEYSEAL_MAX_BODY_BYTES"
WEB_SESSION_IDLE_ENV = "KEYSEAL_WEB_SESSION_IDLE_S"
WEB_SESSION_MAX_ENV = "KEYSEAL_WEB_SESSION_MAX_S"


class HomeUnusable(Exception):
    """The home cannot be used as asked: it is missing (for a command that only reads), a
    file, not writable, or under ``/proc``. The message says which, and what to do."""


def default_home() -> Path:
    return Path(os.environ.get(HOME_ENV) or Path.home() / ".keyseal").expanduser()


def _env_int(name: str, default: int) -> int:
    text = os.environ.get(name, "").strip()
    if not text:
        return default
    try:
        return int(text)
    except ValueError:
        raise ValueError(f"{name} must be a whole number, not {text[:20]!r}") from None


def _env_float(name: str, default: float) -> float:
    text = os.environ.get(name, "").strip()
    if not text:
        return default
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{name} must be a number of seconds, not {text[:20]!r}") from None
    if not value > 0:
        raise ValueError(f"{name} must be more than 0, not {text[:20]!r}")
    return value


def _env_count(name: str, default: int) -> int:
    value = _env_int(name, default)
    if value < 1:
        raise ValueError(f"{name} must be 1 or more, not {value}")
    return value


@dataclass(frozen=True)
class ConnectionLimits:
    """What one client may hold of the server: time to send its request, the size of its
    headers, a share of the connections, and the pace of its WebSocket frames. A client past
    a limit is refused with an OKX envelope (or, on a WebSocket, a close code) and closed, so
    slow or greedy clients cannot hold the server's memory or lock out everyone else.

    Each field has a ``KEYSEAL_*`` environment variable (named beside it) so that tests and
    operators can change it without code."""

    #: from connecting (or the first byte of a keep-alive request) to the end of the headers;
    #: a connection that sends nothing in this time is closed, one that sent part gets a 408
    header_timeout_s: float = field(
        default_factory=lambda: _env_float("KEYSEAL_HEADER_TIMEOUT_S", 10.0))
    #: from the end of the headers to the end of the body (the whole body, not between chunks,
    #: so a body trickled byte by byte cannot outlast it)
    body_timeout_s: float = field(
        default_factory=lambda: _env_float("KEYSEAL_BODY_TIMEOUT_S", 20.0))
    #: the request line and every header line together, counted as they arrive, so a huge
    #: header is refused (431) before it is held in memory
    max_header_bytes: int = field(
        default_factory=lambda: _env_count("KEYSEAL_MAX_HEADER_BYTES", 16 * 1024))
    max_headers: int = field(default_factory=lambda: _env_count("KEYSEAL_MAX_HEADERS", 100))
    #: the path and query of a request (414 past it); OKX's longest GET query is well under
    max_target_bytes: int = field(
        default_factory=lambda: _env_count("KEYSEAL_MAX_TARGET_BYTES", 8 * 1024))
    #: open HTTP and WebSocket connections of the process; past it a request gets 503 (50001)
    #: and its connection is closed, while idle connections still close on their timeouts
    max_connections: int = field(
        default_factory=lambda: _env_count("KEYSEAL_MAX_CONNECTIONS", 1000))
    #: one WebSocket message, as received (1009 past it, before the payload is read)
    ws_max_frame_bytes: int = field(
        default_factory=lambda: _env_count("KEYSEAL_WS_MAX_FRAME_BYTES", 64 * 1024))
    #: WebSocket messages per second on one connection; past it: 60014, then closed (1008)
    ws_frames_per_s: int = field(
        default_factory=lambda: _env_count("KEYSEAL_WS_FRAMES_PER_S", 100))
    #: ``op=login`` per minute on one connection; past it each login is answered 60014
    ws_logins_per_min: int = field(
        default_factory=lambda: _env_count("KEYSEAL_WS_LOGINS_PER_MIN", 10))

    def __post_init__(self) -> None:
        if self.max_target_bytes > self.max_header_bytes:
            raise ValueError("KEYSEAL_MAX_TARGET_BYTES cannot be more than "
                             "KEYSEAL_MAX_HEADER_BYTES: the request line is part of the headers")


@dataclass(frozen=True)
class GuessingLimits:
    """How many failed signatures and passphrases an address, and failed passphrases a key,
    may have in a window before it is refused for a lock-out (70080 / 70081); and how many
    threads check passphrases with argon2 (their own, so a flood of checks cannot delay the
    change follower, the key loader or the usage writer). ``KEYSEAL_GUESS_*`` and
    ``KEYSEAL_ARGON2_WORKERS`` set them."""

    address_failures: int = field(
        default_factory=lambda: _env_count("KEYSEAL_GUESS_ADDRESS_FAILURES", 30))
    address_window_s: float = field(
        default_factory=lambda: _env_float("KEYSEAL_GUESS_ADDRESS_WINDOW_S", 60.0))
    address_lockout_s: float = field(
        default_factory=lambda: _env_float("KEYSEAL_GUESS_ADDRESS_LOCKOUT_S", 60.0))
    key_failures: int = field(
        default_factory=lambda: _env_count("KEYSEAL_GUESS_KEY_FAILURES", 10))
    key_window_s: float = field(
        default_factory=lambda: _env_float("KEYSEAL_GUESS_KEY_WINDOW_S", 600.0))
    key_lockout_s: float = field(
        default_factory=lambda: _env_float("KEYSEAL_GUESS_KEY_LOCKOUT_S", 600.0))
    argon2_workers: int = field(default_factory=lambda: _env_count("KEYSEAL_ARGON2_WORKERS", 1))


def normalise_db_url(url: str) -> str:
    """Accept ``postgresql://`` and ``postgres://`` and use the psycopg 3 driver for them."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


#: query parameters of a database or Redis URL that carry a secret (libpq's and redis-py's)
SECRET_URL_PARAMETERS = frozenset({"password", "sslpassword", "passfile"})


def mask_url_parameters(url: str) -> str:
    """``url`` with the values of secret query parameters (``?password=…``) masked."""
    base, sep, query = url.partition("?")
    if not sep:
        return url
    parts = []
    for item in query.split("&"):
        name, eq, _ = item.partition("=")
        parts.append(f"{name}=***" if eq and name.lower() in SECRET_URL_PARAMETERS else item)
    return base + sep + "&".join(parts)


def shown_db_url(url: str) -> str:
    """The database URL with its password masked (in the authority and in the query), for
    logs, messages and reprs."""
    from sqlalchemy.engine import make_url  # here, not at import: the CLI starts faster

    try:
        return mask_url_parameters(make_url(url).render_as_string(hide_password=True))
    except Exception:  # not a URL SQLAlchemy can parse: show none of it
        return "<unparsable database URL>"


@dataclass(repr=False)
class Settings:
    home: Path = field(default_factory=default_home)
    db_url: str = ""
    host: str = "127.0.0.1"
    port: int = 8400
    rate_limits: bool = True
    timestamp_window_s: float = 30.0
    trusted_proxies: tuple[str, ...] = ()
    #: a body past it is refused (413) when declared, and as soon as it grows past when chunked
    max_body_bytes: int = field(default_factory=lambda: _env_count(MAX_BODY_BYTES_ENV, 1 << 20))
    limits: ConnectionLimits = field(default_factory=ConnectionLimits)
    guessing: GuessingLimits = field(default_factory=GuessingLimits)
    key_cache_size: int = 100_000
    unknown_key_ttl_s: float = 5.0
    #: a cached key is reloaded after this long, so a change the follower missed cannot keep
    #: a disabled key working while it stays hot
    key_cache_max_age_s: float = field(
        default_factory=lambda: float(os.environ.get(KEY_CACHE_MAX_AGE_ENV) or 60.0))
    #: an unknown key id waits for a read of the change log (a key another process has just
    #: created); such reads start at most once per this interval, however many ids arrive
    unknown_key_catch_up_s: float = 0.05
    usage_flush_interval_s: float = 1.0
    change_poll_interval_s: float = 0.2
    market: Market = field(default_factory=default_market)
    expiry: ExpiryPolicy = field(default_factory=ExpiryPolicy)
    sweep_interval_s: float = 600.0
    #: after a rotation the previous secret stops verifying once unused for this long
    #: (counted from the rotation if never used since) ...
    rotation_silence_s: int = field(
        default_factory=lambda: _env_int(ROTATION_SILENCE_ENV, 24 * 3600))
    #: ... or at the latest this long after the rotation (``key rotate --grace`` overrides)
    rotation_grace_s: int = field(
        default_factory=lambda: _env_int(ROTATION_GRACE_ENV, 7 * 24 * 3600))
    #: an exact repeat of a signed request is refused (70017) for state-changing requests;
    #: with this on, for reads too
    refuse_repeated_reads: bool = field(
        default_factory=lambda: os.environ.get(REFUSE_REPEATED_READS_ENV, "").strip() == "1")
    min_kyc_for_keys: int = 2
    #: a dashboard session ends after this long without a page view, and this long after
    #: login whatever happens (the dashboard)
    web_session_idle_s: int = field(default_factory=lambda: _env_count(WEB_SESSION_IDLE_ENV, 1800))
    web_session_max_s: int = field(default_factory=lambda: _env_count(WEB_SESSION_MAX_ENV, 12 * 3600))
    login: LoginPolicy = field(default_factory=LoginPolicy)
    # IP allow-list entries wider than these prefixes are refused (an entry of /0 always is)
    min_ipv4_prefix: int = field(default_factory=lambda: _env_int(MIN_IPV4_PREFIX_ENV, 16))
    min_ipv6_prefix: int = field(default_factory=lambda: _env_int(MIN_IPV6_PREFIX_ENV, 48))
    #: Redis (shared limits, replay memory, change push) and the seeds' limits: scaleout.py
    scaleout: ScaleOut = field(default_factory=ScaleOut)

    @property
    def allowlist_rules(self) -> AllowlistRules:
        return AllowlistRules(self.min_ipv4_prefix, self.min_ipv6_prefix)

    def __post_init__(self) -> None:
        AllowlistRules(self.min_ipv4_prefix, self.min_ipv6_prefix)  # out of range: refused now
        if self.rotation_silence_s < 1:
            raise ValueError(f"{ROTATION_SILENCE_ENV} must be 1 or more seconds")
        if not 0 <= self.rotation_grace_s <= 90 * 24 * 3600:
            raise ValueError(f"{ROTATION_GRACE_ENV} must be 0 to 90 days, in seconds")
        self.home = Path(self.home).expanduser()
        if not self.db_url:
            self.db_url = os.environ.get(DB_ENV) or f"sqlite:///{self.home / 'keyseal.db'}"
        self.db_url = normalise_db_url(self.db_url)

    def __repr__(self) -> str:
        # the database URL may carry a password: never print it
        shown = {f.name: getattr(self, f.name) for f in fields(self)}
        shown["db_url"] = shown_db_url(self.db_url)
        return "Settings(" + ", ".join(f"{name}={value!r}" for name, value in shown.items()) + ")"
