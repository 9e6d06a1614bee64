"""Test doubles for the client tests: fresh credentials, injected time, a scripted OKX.

Credentials are generated per test, so the repository itself holds no credential-shaped
strings for `keyseal scan` to trip over.
"""

from __future__ import annotations

import json
import secrets
import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx

from keyseal.client import Credentials
from keyseal.signing import parse_timestamp, sign_request

START = 1_800_000_000.0


def envelope(code: str = "0", msg: str = "", data: list[Any] | None = None,
             status: int = 200) -> httpx.Response:
    return httpx.Response(status, json={"code": code, "msg": msg, "data": data or []})


@dataclass
class FakeTime:
    """The true time, advanced by hand (or by an injected sleep); never by waiting."""

    now: float = START
    slept: list[float] = field(default_factory=list)

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds

    async def async_sleep(self, seconds: float) -> None:
        self.sleep(seconds)


@dataclass
class FakeOkx:
    """Verifies requests the way OKX does (raw target, raw body, ±30 s) and answers scripts.

    ``results`` maps a path to the ``data`` of its success envelope; ``refuse`` holds
    responses to return, in order, before the normal handling (e.g. 429s).
    """

    creds: Credentials
    time: FakeTime
    demo: bool = False
    results: dict[str, list[Any]] = field(default_factory=dict)
    refuse: list[httpx.Response] = field(default_factory=list)
    requests: list[httpx.Request] = field(default_factory=list)
    #: answer as a Keyseal server does: its time in a header, the skew in a 50102
    keyseal: bool = False

    def __call__(self, request: httpx.Request) -> httpx.Response:
        response = self._answer(request)
        if self.keyseal:
            response.headers["x-keyseal-server-time"] = str(int(self.time.now * 1000))
        return response

    def _answer(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        path = request.url.path
        if path == "/api/v5/public/time":
            return envelope(data=[{"ts": str(int(self.time.now * 1000))}])
        if path.startswith("/api/v5/public/"):
            return envelope(data=self.results.get(path, []))
        if request.headers.get("OK-ACCESS-KEY") != self.creds.api_key:
            return envelope("50111", "Invalid OK-ACCESS-KEY", status=401)
        if (request.headers.get("x-simulated-trading") == "1") != self.demo:
            return envelope("50101", "APIKey does not match current environment.", status=401)
        stamp = request.headers["OK-ACCESS-TIMESTAMP"]
        skew = parse_timestamp(stamp) - self.time.now
        if abs(skew) > 30:
            if self.keyseal:
                return httpx.Response(401, json={"code": "50102", "msg": "Timestamp request "
                                                 "expired", "data": [],
                                                 "skewMs": str(round(skew * 1000))})
            return envelope("50102", "Timestamp request expired", status=401)
        if request.headers.get("OK-ACCESS-PASSPHRASE") != self.creds.passphrase:
            return envelope("50105", 'Request header "OK-ACCESS-PASSPHRASE" incorrect.',
                            status=401)
        expected = sign_request(self.creds.secret_key, stamp, request.method,
                                request.url.raw_path, request.content)
        if request.headers.get("OK-ACCESS-SIGN") != expected:
            return envelope("50113", "Invalid Sign", status=401)
        if self.refuse:
            return self.refuse.pop(0)
        return envelope(data=self.results.get(path, [{}]))

    def signed(self) -> list[httpx.Request]:
        return [r for r in self.requests if "OK-ACCESS-SIGN" in r.headers]

    def body(self, index: int = -1) -> Any:
        return json.loads(self.requests[index].content)


def new_credentials() -> Credentials:
    return Credentials(str(uuid.uuid4()), secrets.token_hex(16).upper(),
                       "Pp-" + secrets.token_urlsafe(9))
