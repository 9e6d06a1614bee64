"""The REST protocol without I/O: signing, envelopes, clock sync and rate-limit retries.

Each call is a generator that yields what it needs done (``Send`` a request, ``Sleep`` a
while) and receives the ``httpx.Response``; ``Client`` and ``AsyncClient`` only drive it.
So the sync and async clients cannot drift apart, and every retry re-signs: the timestamp
and signature are made when a ``Send`` is built, never reused.
"""

from __future__ import annotations

import json
from collections.abc import Generator, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import quote, urlencode

import httpx

from keyseal.client.backoff import Backoff
from keyseal.client.clock import ClockReading, ServerClock
from keyseal.client.credentials import Credentials
from keyseal.client.errors import (
    InvalidSignature,
    MissingCredentials,
    RateLimited,
    TimestampExpired,
    UnexpectedResponse,
    error_for,
)
from keyseal.signing import explain, format_timestamp, request_target, sign_request

T = TypeVar("T")

DEFAULT_BASE_URL = "https://www.okx.com"
SERVER_TIME_PATH = "/api/v5/public/time"
#: a Keyseal server's clock, in epoch ms, on every response (OKX sends no such header)
SERVER_TIME_HEADER = "x-keyseal-server-time"
_ENVELOPE_FIELDS = frozenset({"code", "msg", "data"})


@dataclass(frozen=True, slots=True)
class Send:
    """Send this request exactly: ``url`` already holds the encoded query that was signed."""

    method: str
    url: str
    headers: dict[str, str] = field(repr=False)
    content: bytes = field(default=b"", repr=False)


@dataclass(frozen=True, slots=True)
class Sleep:
    seconds: float


Step = Send | Sleep
#: A call in progress: yields steps, receives a response after each ``Send``, returns ``T``.
Exchange = Generator[Step, httpx.Response | None, T]


def encode_query(params: Mapping[str, Any] | None) -> str:
    """The query string as sent and signed.

    ``None`` and ``""`` mean "not set" and are left out; booleans become ``true``/``false``,
    lists are comma-joined, and values are percent-encoded with ``quote`` (``,`` → ``%2C``),
    as ccxt does, so no transport can re-encode what was signed.
    """
    pairs: list[tuple[str, str]] = []
    for key, value in (params or {}).items():
        if value is None or value == "":
            continue
        if isinstance(value, bool):
            text = "true" if value else "false"
        elif isinstance(value, list | tuple):
            text = ",".join(str(v) for v in value)
        else:
            text = str(value)
        pairs.append((key, text))
    return urlencode(pairs, quote_via=quote)


def encode_body(body: Mapping[str, Any] | list[Any] | None) -> bytes:
    """Compact JSON; ``{}`` for a POST without parameters (OKX refuses an empty body)."""
    payload = {} if body is None else body
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


class RestProtocol:
    """Everything a REST call decides, for one base URL, environment and key."""

    def __init__(self, credentials: Credentials | None = None, *,
                 base_url: str = DEFAULT_BASE_URL, demo: bool = False,
                 clock: ServerClock | None = None, backoff: Backoff | None = None,
                 auto_sync_clock: bool = True) -> None:
        self.credentials = credentials
        self.base_url = base_url.rstrip("/")
        self.demo = demo
        self.clock = clock or ServerClock()
        self.backoff = backoff or Backoff()
        self.auto_sync_clock = auto_sync_clock
        #: the offset to the server measured from the last response's time header, if any
        self.server_reading: ClockReading | None = None

    # -- building requests ---------------------------------------------------------------

    def build(self, method: str, path: str, *, params: Mapping[str, Any] | None = None,
              body: Mapping[str, Any] | list[Any] | None = None, signed: bool = True) -> Send:
        """One request, signed now with a fresh timestamp."""
        method = method.upper()
        target = request_target(path, encode_query(params)).decode("ascii")
        content = encode_body(body) if method == "POST" else b""
        headers = {"x-simulated-trading": "1" if self.demo else "0"}
        if method == "POST":
            headers["Content-Type"] = "application/json"
        if signed:
            creds = self.credentials
            if creds is None:
                raise MissingCredentials("", "this call needs credentials; none were given",
                                         request=f"{method} {path}")
            timestamp = format_timestamp(self.clock.now())
            headers.update({
                "OK-ACCESS-KEY": creds.api_key,
                "OK-ACCESS-SIGN": sign_request(creds.secret_key, timestamp, method, target,
                                               content),
                "OK-ACCESS-TIMESTAMP": timestamp,
                "OK-ACCESS-PASSPHRASE": creds.passphrase,
            })
        return Send(method, self.base_url + target, headers, content)

    # -- calls -----------------------------------------------------------------------------

    def call(self, method: str, path: str, *, params: Mapping[str, Any] | None = None,
             body: Mapping[str, Any] | list[Any] | None = None,
             signed: bool = True) -> Exchange[list[Any]]:
        """``data`` of a successful envelope; retries 50011 with backoff and 50102 after a sync."""
        retries = 0
        resynced = False
        while True:
            request = self.build(method, path, params=params, body=body, signed=signed)
            response = yield from self._send(request)
            try:
                return read_envelope(response, f"{method.upper()} {path}")
            except InvalidSignature as refused:
                # what was signed, beside what the server hashed: ``refused.compare()``
                refused.local = explain(request.headers.get("OK-ACCESS-TIMESTAMP", ""),
                                        request.method, request.url[len(self.base_url):],
                                        request.content)
                raise
            except TimestampExpired:
                if not (signed and self.auto_sync_clock) or resynced:
                    raise
                resynced = True
                if self.server_reading is not None and SERVER_TIME_HEADER in response.headers:
                    # the refusal itself said the server's time: no round trip to ask it
                    self.clock.apply(self.server_reading)
                else:
                    yield from self.sync_clock()
            except RateLimited:
                if retries >= self.backoff.max_retries:
                    raise
                yield Sleep(self.backoff.delay(retries, _retry_after(response)))
                retries += 1

    def _send(self, request: Send) -> Generator[Step, httpx.Response | None, httpx.Response]:
        sent_at = self.clock.local()
        response = yield request
        assert response is not None
        self._observe(response, sent_at, self.clock.local())
        return response

    def _observe(self, response: httpx.Response, sent_at: float, received_at: float) -> None:
        """A server time header on the answer updates ``server_reading``."""
        stamp = response.headers.get(SERVER_TIME_HEADER, "")
        if stamp.isascii() and stamp.isdigit() and len(stamp) <= 15:
            self.server_reading = ClockReading.from_exchange(sent_at, received_at,
                                                             int(stamp) / 1000)

    def measure_clock(self) -> Exchange[ClockReading]:
        """How far the local clock is from the server's; changes nothing."""
        sent_at = self.clock.local()
        response = yield self.build("GET", SERVER_TIME_PATH, signed=False)
        received_at = self.clock.local()
        assert response is not None
        self._observe(response, sent_at, received_at)
        server_time = parse_server_time(read_envelope(response, f"GET {SERVER_TIME_PATH}"))
        return ClockReading.from_exchange(sent_at, received_at, server_time)

    def sync_clock(self) -> Exchange[ClockReading]:
        """Measure the offset to the server and sign with it from now on."""
        reading = yield from self.measure_clock()
        self.clock.apply(reading)
        return reading


def parse_server_time(data: list[Any]) -> float:
    """Epoch seconds of ``public/time``'s ``[{"ts": "<ms>"}]``."""
    try:
        return int(data[0]["ts"]) / 1000
    except (IndexError, KeyError, TypeError, ValueError) as exc:
        raise UnexpectedResponse("", f"public/time has no ts: {data!r:.100}",
                                 request=f"GET {SERVER_TIME_PATH}") from exc


def read_envelope(response: httpx.Response, request: str) -> list[Any]:
    """``data`` of ``{"code":"0","msg":"","data":[...]}``; the typed error for any other code.

    A failed single order answers ``code`` 1 with the reason in ``data[0].sCode``; that
    inner code is the one worth raising.
    """
    try:
        envelope = response.json()
    except ValueError:
        envelope = None
    if not isinstance(envelope, dict) or "code" not in envelope:
        if response.status_code == 429:
            raise RateLimited("", "Too Many Requests", 429, request=request)
        snippet = response.text[:200].strip()
        raise UnexpectedResponse("", f"not an OKX envelope: {snippet!r}", response.status_code,
                                 request=request)
    code = str(envelope["code"])
    msg = str(envelope.get("msg") or "")
    data = envelope.get("data")
    items: list[Any] = data if isinstance(data, list) else ([] if data is None else [data])
    if code == "0":
        return items
    if code == "1" and len(items) == 1 and isinstance(items[0], dict):
        inner = str(items[0].get("sCode") or "")
        if inner and inner != "0":
            code, msg = inner, str(items[0].get("sMsg") or msg)
    extra = {name: value for name, value in envelope.items() if name not in _ENVELOPE_FIELDS}
    raise error_for(code, msg, response.status_code, request=request, data=items, extra=extra)


def _retry_after(response: httpx.Response) -> float | None:
    try:
        return float(response.headers["Retry-After"])
    except (KeyError, ValueError):
        return None

