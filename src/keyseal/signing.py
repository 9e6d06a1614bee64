"""OKX V5 request signing, shared by the server (to verify) and the client (to sign).

The signature is ``base64(HMAC-SHA256(secret, timestamp + METHOD + request_target + body))``
where the HMAC key is the secret's UTF-8 bytes (not hex-decoded), ``request_target`` is the
path plus ``?query`` exactly as sent on the wire and ``body`` is the raw body. Verifiers must
hash the bytes they received and never a re-serialisation: clients differ in query encoding
and JSON spacing, and any rebuild breaks one of them.

Standard library only, so that ``keyseal.client`` can use it without the server.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import math
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from urllib.parse import unquote_to_bytes

_ISO_8601 = re.compile(
    r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?(Z|[+-]\d{2}:\d{2})?", re.ASCII)
_WS_SECONDS = re.compile(r"[0-9]{1,12}(\.[0-9]{1,9})?")

#: The fixed request a WebSocket login signs after its timestamp.
WS_LOGIN_TARGET = b"GET/users/self/verify"


def _bytes(value: str | bytes) -> bytes:
    return value.encode("utf-8") if isinstance(value, str) else value


def prehash(timestamp: str | bytes, method: str | bytes, target: str | bytes,
            body: str | bytes = b"") -> bytes:
    """The exact bytes OKX signs: timestamp + upper-case method + request target + body."""
    return _bytes(timestamp) + _bytes(method).upper() + _bytes(target) + _bytes(body)


def sign(secret: str | bytes, message: bytes) -> str:
    """Base64 (with padding) of HMAC-SHA256 of ``message`` under the secret's UTF-8 bytes."""
    return base64.b64encode(hmac.digest(_bytes(secret), message, "sha256")).decode("ascii")


def sign_request(secret: str | bytes, timestamp: str, method: str, target: str | bytes,
                 body: str | bytes = b"") -> str:
    """``OK-ACCESS-SIGN`` for one REST request."""
    return sign(secret, prehash(timestamp, method, target, body))


def sign_ws_login(secret: str | bytes, timestamp: str | int) -> str:
    """``sign`` of a WebSocket ``op=login``: the timestamp (Unix seconds) + ``GET/users/self/verify``."""
    return sign(secret, _bytes(str(timestamp)) + WS_LOGIN_TARGET)


def request_target(path: str | bytes, query: str | bytes = b"") -> bytes:
    """Path plus ``?query`` when there is a query, as OKX signs it (no ``?`` when empty)."""
    path_b, query_b = _bytes(path), _bytes(query)
    return path_b + b"?" + query_b if query_b else path_b


def decoded_target(target: bytes) -> bytes:
    """The percent-decoded form of a target: python-okx signs values before httpx encodes them."""
    return unquote_to_bytes(target)


def _text(value: bytes) -> str:
    return value.decode("utf-8", "backslashreplace")


def explain(timestamp: str | bytes, method: str | bytes, target: str | bytes,
            body: str | bytes = b"") -> dict[str, str]:
    """What a verifier hashes for one request, part by part: the prehash, its timestamp,
    method, request target (as given and percent-decoded, both of which a Keyseal server
    accepts) and the body's length and SHA-256. JSON-ready strings under the wire names a
    Keyseal server sends on 50113; bytes that are not UTF-8 show as ``\\xNN``.

    It holds only what the request itself carries, never the secret and never the expected
    signature: a signature the server computed would be an oracle for forging one."""
    ts, verb, path, data = _bytes(timestamp), _bytes(method).upper(), _bytes(target), _bytes(body)
    return {
        "timestamp": _text(ts), "method": _text(verb), "target": _text(path),
        "decodedTarget": _text(decoded_target(path)), "bodyLength": str(len(data)),
        "bodySha256": hashlib.sha256(data).hexdigest(),
        "prehash": _text(prehash(ts, verb, path, data)),
    }


#: the parts ``differing_parts`` names, in prehash order
EXPLAINED_PARTS = ("timestamp", "method", "target", "body")


def differing_parts(server: Mapping[str, str], local: Mapping[str, str]) -> list[str]:
    """The parts of two ``explain`` results that differ, in prehash order: ``timestamp``,
    ``method``, ``target``, ``body``. The target matches if the local one is either form
    the server tried (raw or percent-decoded). An empty list means both sides hashed the
    same bytes, so the secret (or the signature's encoding) is what differs."""
    differing = []
    if server.get("timestamp") != local.get("timestamp"):
        differing.append("timestamp")
    if server.get("method") != local.get("method"):
        differing.append("method")
    if local.get("target") not in (server.get("target"), server.get("decodedTarget")):
        differing.append("target")
    if (server.get("bodyLength"), server.get("bodySha256")) != (
            local.get("bodyLength"), local.get("bodySha256")):
        differing.append("body")
    return differing


def format_timestamp(epoch_seconds: float) -> str:
    """``2020-12-08T09:08:57.715Z``: UTC ISO-8601 with exactly three millisecond digits,
    truncated from the number as written (``1.001`` gives ``.001``, though ``1.001 * 1000``
    is 1000.99999... in floating point)."""
    millis = math.floor(Decimal(repr(float(epoch_seconds))) * 1000)
    moment = datetime.fromtimestamp(millis // 1000, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{millis % 1000:03d}Z"


def parse_timestamp(value: str) -> float:
    """Seconds since the epoch of an ``OK-ACCESS-TIMESTAMP``.

    Accepts ISO-8601 with a ``Z`` or an explicit offset; a value without an offset is read as
    UTC, as OKX documents all timestamps in UTC. Raises ``ValueError`` for anything else
    (including bare epoch numbers, which OKX's REST API does not document).
    """
    if not 19 <= len(value) <= 32 or value[10] != "T" or not _ISO_8601.fullmatch(value):
        raise ValueError("not an ISO-8601 timestamp")
    moment = datetime.fromisoformat(value)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def parse_ws_timestamp(value: object) -> float:
    """Seconds of a WebSocket login timestamp: a string or JSON number of Unix seconds."""
    if isinstance(value, bool):
        raise ValueError("not a number of seconds")
    if isinstance(value, int | float) or (isinstance(value, str)
                                          and _WS_SECONDS.fullmatch(value)):
        seconds = float(value)
    else:
        raise ValueError("not a number of seconds")
    if seconds != seconds or seconds in (float("inf"), float("-inf")):
        raise ValueError("not a finite number of seconds")
    return seconds


def signatures_match(given: str | bytes, expected: str | bytes) -> bool:
    """Constant-time comparison of two signatures."""
    return hmac.compare_digest(_bytes(given), _bytes(expected))
