"""Does this key work, and is it safe? One signed test request, read back and explained.

The check measures the clock against ``/api/v5/public/time``, signs ``GET
/api/v5/account/balance`` with the local clock (as a naive bot would), reads the key's own
settings from ``GET /api/v5/account/config``, and reports each refusal with what to do.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from keyseal.client.backoff import Backoff
from keyseal.client.clock import Clock, ClockReading
from keyseal.client.credentials import Credentials
from keyseal.client.errors import OkxApiError, TimestampExpired
from keyseal.client.masking import mask
from keyseal.client.models import PERMISSIONS, AccountConfig, parse_perms

if TYPE_CHECKING:  # httpx loads when a check runs: `keyseal vault list` need not wait for it
    import httpx

    from keyseal.client.rest import Client

#: OKX's inactivity rule: a live key with trade or withdraw permission and no IP allow-list
#: is deleted after this many days unused. A Keyseal server says its own rule instead.
DEFAULT_IDLE_DAYS = 14
#: Beyond this many seconds of skew a signed request is refused (OKX's window is ±30 s).
SKEW_WARNING_SECONDS = 5.0

HINTS: dict[str, str] = {
    "50100": "The key or its account is disabled or frozen: on a Keyseal server the "
             "operator re-enables it with `keyseal key enable API_KEY`; on OKX, in the API "
             "page of the website. Ask why it was frozen.",
    "50101": "The key belongs to the other environment: demo keys need the demo flag "
             "(x-simulated-trading: 1), live keys must not have it. Re-add the entry with or "
             "without --demo.",
    "50102": "The request timestamp is outside the server's window: sync this machine's clock "
             "(NTP), or let keyseal.client correct for it (sync_clock()).",
    "50103": "The API key is empty: re-add the entry with all three values.",
    "50104": "The passphrase is empty: re-add the entry with all three values.",
    "50105": "The passphrase is wrong: it is the one chosen when the key was created and "
             "cannot be recovered (watch for '$' eaten by a shell); if it is lost, create a "
             "new key.",
    "50106": "The signature is empty: the secret key is missing from the entry.",
    "50107": "The timestamp is empty: a client bug; report it.",
    "50110": "This machine's IP is not in the key's IP allow-list: add it to the key, or run "
             "from an allow-listed host.",
    "50111": "The server does not know this API key: it was deleted (keys without an IP "
             "allow-list expire when idle), mistyped, or belongs to another server (check "
             "--base-url).",
    "50112": "The timestamp is malformed: a client bug; report it.",
    "50113": "The signature does not match: the secret key is wrong, or the secret and the "
             "passphrase are swapped.",
    "50119": "The server does not know this API key: it was deleted, mistyped, or belongs to "
             "another server or region (check --base-url).",
    "50120": "The key lacks the permission for this endpoint: create a key with read "
             "permission.",
    "50030": "The key lacks the permission for this endpoint.",
    "50011": "Rate limited: the account's other clients share the limit; check again later.",
    "network": "The server could not be reached: check --base-url, DNS, proxy and firewall.",
}
FALLBACK_HINT = "Read the server's message above; the code is in OKX's error catalogue."


def hint_for(code: str) -> str:
    return HINTS.get(code, FALLBACK_HINT)


def parse_permission_list(text: str) -> frozenset[str]:
    """``"read_only,trade"`` → a set; raises ``ValueError`` naming an unknown permission."""
    perms = parse_perms(text)
    unknown = sorted(perms - set(PERMISSIONS))
    if unknown:
        raise ValueError(f"unknown permission {', '.join(unknown)}; use {', '.join(PERMISSIONS)}")
    return perms


@dataclass(frozen=True, slots=True)
class Refusal:
    code: str
    msg: str
    http_status: int
    hint: str


@dataclass(slots=True)
class HealthReport:
    """The outcome of one check. ``ok`` is what a platform gates on."""

    name: str | None
    base_url: str
    environment: str
    api_key: str
    works: bool = False
    refusal: Refusal | None = None
    uid: str | None = None
    label: str | None = None
    perms: list[str] | None = None
    ips: list[str] | None = None
    clock_skew_ms: float | None = None
    #: the same (server minus local, ms) as the server saw it on the signed request: from a
    #: Keyseal server's time header, or its 50102's skew; None from OKX, which sends neither
    server_skew_ms: float | None = None
    latency_ms: float | None = None
    idle_expiry_days: int | None = None
    #: whose inactivity rule ``idle_expiry_days`` follows: the server's own, or OKX's
    expiry_rule: str | None = None
    warnings: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.works and not self.failures

    def to_json(self) -> dict[str, Any]:
        return {"ok": self.ok, **asdict(self)}


def check_key(credentials: Credentials, *, base_url: str, demo: bool = False,
              require: Iterable[str] = (), forbid: Iterable[str] = (),
              idle_days: int = DEFAULT_IDLE_DAYS, name: str | None = None,
              clock: Clock = time.time, timeout: float = 10.0,
              transport: httpx.BaseTransport | None = None) -> HealthReport:
    """Check one key against its server; never raises for a refusal, it reports it."""
    import httpx

    from keyseal.client.rest import Client

    report = HealthReport(name=name, base_url=base_url, environment="demo" if demo else "live",
                          api_key=mask(credentials.api_key, 8, 4))
    with Client(credentials, base_url=base_url, demo=demo, clock=clock, timeout=timeout,
                auto_sync_clock=False, backoff=Backoff(max_retries=2),
                transport=transport) as client:
        reading = _measure_clock(client, report)
        started = clock()
        try:
            try:
                client.balance()
            except TimestampExpired:
                if reading is None:
                    raise
                report.warnings.append(
                    f"This machine's clock is {reading.offset:+.1f} s off the server's: requests "
                    "signed with it are refused (50102). Sync the clock (NTP); keyseal.client "
                    "corrects for it with sync_clock().")
                client.sync_clock()
                started = clock()
                client.balance()
            report.latency_ms = round((clock() - started) * 1000, 1)
            report.works = True
            _server_skew(client, report)
            config = client.account_config()
        except OkxApiError as refused:
            if not report.works:
                if isinstance(refused, TimestampExpired) and refused.skew_ms is not None:
                    report.server_skew_ms = float(-refused.skew_ms)
                else:
                    _server_skew(client, report)
                report.refusal = Refusal(refused.code, refused.msg, refused.http_status,
                                         hint_for(refused.code))
                return report
            report.failures.append(f"The key works, but its settings could not be read "
                                   f"(account/config: {refused.code} {refused.msg}).")
            return report
        except httpx.HTTPError as unreachable:
            report.refusal = Refusal("network", f"{type(unreachable).__name__}: {unreachable}",
                                     0, hint_for("network"))
            return report
    report.uid, report.label = config.uid, config.label
    report.perms = sorted(config.perms)
    report.ips = list(config.ips)
    _judge(report, config, set(require), set(forbid), idle_days, demo)
    return report


def _server_skew(client: Client, report: HealthReport) -> None:
    reading = client.server_reading
    if reading is not None:
        report.server_skew_ms = round(reading.offset * 1000, 1)


def _measure_clock(client: Client, report: HealthReport) -> ClockReading | None:
    import httpx

    try:
        reading = client.measure_clock()
    except (OkxApiError, httpx.HTTPError) as exc:
        report.warnings.append(f"Could not read the server time ({exc}); clock skew unknown.")
        return None
    report.clock_skew_ms = round(reading.offset * 1000, 1)
    if abs(reading.offset) > SKEW_WARNING_SECONDS and abs(reading.offset) <= 30:
        report.warnings.append(f"This machine's clock is {reading.offset:+.1f} s off the "
                               "server's; past 30 s every signed request is refused.")
    return reading


def _judge(report: HealthReport, config: AccountConfig, require: set[str], forbid: set[str],
           okx_idle_days: int, demo: bool) -> None:
    perms = config.perms
    for perm in sorted(require - perms):
        report.failures.append(f"Required permission {perm} is missing "
                               f"(the key has {','.join(sorted(perms)) or 'none'}).")
    for perm in sorted(forbid & perms):
        report.failures.append(f"Forbidden permission {perm} is granted to this key.")
    if "withdraw" in perms and "trade" in perms:
        report.warnings.append("The key can trade and withdraw: a trading bot's key should not "
                               "be able to move funds out; use a separate key for withdrawals.")
    report.idle_expiry_days, report.expiry_rule = _idle_expiry(config, okx_idle_days, demo)
    if report.ips:
        return
    report.warnings.append("No IP allow-list: the key works from any address; bind it to the "
                           "IPs of the machines that use it.")
    if "withdraw" in perms:
        report.warnings.append("Withdraw permission without an IP allow-list: whoever holds "
                               "this key can move funds out from anywhere.")
    if report.idle_expiry_days is not None:
        report.warnings.append(f"Without an IP allow-list the key is deleted after "
                               f"{report.idle_expiry_days} days without use ({report.expiry_rule}).")


def _idle_expiry(config: AccountConfig, okx_idle_days: int, demo: bool
                 ) -> tuple[int | None, str]:
    """After how many idle days the key is deleted (None: never), and by whose rule. A
    Keyseal server says so itself; for OKX, its published rule applies."""
    if config.expiry_rule is not None:
        return config.idle_expiry_days, f"the server's rule: {config.expiry_rule}"
    rule = (f"OKX's rule: live keys with trade or withdraw and no IP allow-list, "
            f"{okx_idle_days} idle days")
    if demo or config.ips or not config.perms & {"trade", "withdraw"}:
        return None, rule
    return okx_idle_days, rule
