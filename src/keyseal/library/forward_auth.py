"""Forward-auth: Keyseal's gate verifying for a proxy (nginx ``auth_request``, Caddy
``forward_auth``) in front of a service written in any language.

The proxy asks about a request it holds; this app answers. It reads the original request
from headers the proxy's configuration sets (README, "Use Keyseal keys for your own API"):

- ``X-Forwarded-Method`` and ``X-Forwarded-Uri`` (the raw target, as the client sent it);
- the body the client signed, in one of three ways, and nothing else counts:
  1. ``X-Keyseal-Body-Framing: in-full``: the request itself, with its body (nginx proxies a
     request that has a body here in full; success is ``PASS_ON``, which nginx turns into
     the call to the upstream);
  2. ``X-Keyseal-Body: <the body>`` (Caddy's ``{http.request.body}``);
  3. ``X-Keyseal-Body-Framing: length=<Content-Length>;te=<Transfer-Encoding>`` (nginx
     ``auth_request``, which cannot pass a body): a request that had one is refused with
     70031, never passed on unverified.
  A proxy that states none of them, or two, gets 70030: its configuration is incomplete.

A verified request gets 200 (``PASS_ON`` in full) with ``X-Keyseal-Account``
(the key's account uid), ``X-Keyseal-Key`` and ``X-Keyseal-Permissions`` for the upstream. A
refusal gets the gate's OKX envelope and status (401, 429, …; a code OKX sends with 200, such
as 50120, with 403 so that no proxy reads it as "allowed"), and the envelope once more in
``X-Keyseal-Refusal`` for nginx, whose ``auth_request`` drops the body of the answer."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from keyseal import errors
from keyseal.http import envelope
from keyseal.http.app import SERVER_TIME_HEADER, wanted_headers
from keyseal.library.auth import KeysealAuth
from keyseal.library.caller import Caller
from keyseal.library.route_rules import RouteRules, route_path

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

#: the status of a verified request proxied in full: not 2xx, so that nginx intercepts it
#: (``error_page 399 = @upstream``); no client ever sees it
PASS_ON = 399
IN_FULL = b"in-full"
ACCOUNT = b"x-keyseal-account"
KEY = b"x-keyseal-key"
PERMISSIONS = b"x-keyseal-permissions"
REFUSAL = b"x-keyseal-refusal"
#: an envelope longer than this travels in ``X-Keyseal-Refusal`` without its extra fields
#: (a 50113's ``explain`` can be long): nginx refuses answers whose headers pass 4 KiB
MAX_REFUSAL_HEADER = 2048
_METHOD = re.compile(r"^[A-Z]{1,20}$")
_FRAMING = re.compile(r"^\s*length=\s*(\d*)\s*;\s*te=\s*([^;]*?)\s*$", re.IGNORECASE)
_READ = frozenset({b"x-forwarded-method", b"x-forwarded-uri", b"x-keyseal-body",
                   b"x-keyseal-body-framing"})
_JSON = (b"content-type", b"application/json")
log = logging.getLogger("keyseal.forward_auth")


class ForwardAuthApp:
    """The verify endpoint as an ASGI app: ``keyseal forward-auth`` serves it; it can be
    mounted in any ASGI server. Its lifespan starts and stops ``auth``'s loops."""

    def __init__(self, auth: KeysealAuth, rules: RouteRules) -> None:
        self.auth = auth
        self.rules = rules

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
        elif scope["type"] == "http":
            await self._http(scope, receive, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    await self.auth.start()
                except Exception as failure:
                    await send({"type": "lifespan.startup.failed", "message": str(failure)})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.auth.stop()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            in_full = _stated_headers(scope["headers"]).get(b"x-keyseal-body-framing") == IN_FULL
        except errors.OkxError as refusal:
            await self._refuse(send, refusal, in_header=True)
            return
        try:
            caller = await self.verify(scope, receive, in_full=in_full)
        except errors.OkxError as refusal:
            await self._refuse(send, refusal, in_header=not in_full)
            return
        except Exception:
            log.exception("could not verify a forwarded request")
            await self._refuse(send, errors.SYSTEM_ERROR(), in_header=not in_full)
            return
        headers = [_JSON, self._server_time()]
        if caller is None:  # a public route: empty, so that a proxy copying them clears a forgery
            headers += [(ACCOUNT, b""), (KEY, b""), (PERMISSIONS, b"")]
        else:
            headers += [(ACCOUNT, caller.uid.encode()), (KEY, caller.api_key.encode()),
                        (PERMISSIONS, ",".join(caller.permissions).encode())]
        body = envelope.encode("0", "", [])
        headers.append((b"content-length", str(len(body)).encode()))
        await send({"type": "http.response.start", "status": PASS_ON if in_full else 200,
                    "headers": headers})
        await send({"type": "http.response.body", "body": body})

    async def verify(self, scope: Scope, receive: Receive, *, in_full: bool) -> Caller | None:
        """The caller of the request the proxy holds; ``None`` for a public route. Raises
        ``OkxError`` with the gate's code, or 70030 / 70031 (see the module's docstring)."""
        stated = _stated_headers(scope["headers"])
        method = stated.get(b"x-forwarded-method")
        target = stated.get(b"x-forwarded-uri")
        if method is None:
            raise errors.FORWARD_AUTH_MISCONFIGURED("X-Forwarded-Method")
        if target is None:
            raise errors.FORWARD_AUTH_MISCONFIGURED("X-Forwarded-Uri")
        method_name = method.decode("latin-1")
        if not _METHOD.match(method_name):
            raise errors.INVALID_METHOD(detail=f"method {method_name[:30]!r}")
        if not target.startswith(b"/"):
            raise errors.ENDPOINT_UNAVAILABLE(detail=f"target {target[:100]!r}")
        raw_path, _, query = target.partition(b"?")
        path = route_path(raw_path)
        route = self.rules.lookup(method_name, path)
        if route is None:
            return None
        headers = wanted_headers(scope["headers"])
        body = await self._body(stated, headers, receive, in_full=in_full)
        original = {"type": "http", "method": method_name, "path": path, "raw_path": raw_path,
                    "query_string": query, "headers": scope["headers"],
                    "client": scope.get("client")}
        return await self.auth.verify(original, body, route.guard, headers=headers)

    async def _body(self, stated: dict[bytes, bytes], headers: dict[str, str], receive: Receive,
                    *, in_full: bool) -> bytes:
        given = stated.get(b"x-keyseal-body")
        framing = stated.get(b"x-keyseal-body-framing")
        if given is not None and framing is not None:
            raise errors.FORWARD_AUTH_MISCONFIGURED(
                "one body statement (X-Keyseal-Body or X-Keyseal-Body-Framing, not both)")
        if in_full:
            return await self.auth.body_of(receive, headers)
        if given is not None:
            if len(given) > self.auth.rt.settings.max_body_bytes:
                raise errors.BODY_TOO_LARGE(self.auth.rt.settings.max_body_bytes)
            return given
        if framing is None:
            raise errors.FORWARD_AUTH_MISCONFIGURED(
                "whether the request has a body (X-Keyseal-Body or X-Keyseal-Body-Framing)")
        stated_framing = _FRAMING.match(framing.decode("latin-1"))
        if stated_framing is None:
            raise errors.FORWARD_AUTH_MISCONFIGURED(
                "X-Keyseal-Body-Framing as 'length=<Content-Length>;te=<Transfer-Encoding>'")
        length, transfer_encoding = stated_framing.groups()
        if (length and int(length) > 0) or transfer_encoding:
            raise errors.BODY_NOT_FORWARDED(
                detail=f"length {length or '-'}, transfer-encoding {transfer_encoding or '-'}")
        return b""

    async def _refuse(self, send: Send, refusal: errors.OkxError, *, in_header: bool) -> None:
        status, body = envelope.failure(refusal)
        if status < 300:  # OKX sends 50120 and friends with 200: a proxy would let it through
            status = 403
        headers = [_JSON, (b"content-length", str(len(body)).encode()), self._server_time()]
        if in_header:
            headers.append((REFUSAL, _header_envelope(refusal, body)))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    def _server_time(self) -> tuple[bytes, bytes]:
        return SERVER_TIME_HEADER, str(int(self.auth.rt.clock() * 1000)).encode()


def _stated_headers(raw: list[tuple[bytes, bytes]]) -> dict[bytes, bytes]:
    """The headers in which the proxy states the original request, raw bytes; one stated
    twice is a configuration that passed a client's own on (70030), never resolved."""
    found: dict[bytes, bytes] = {}
    for name, value in raw:
        name = name.lower()
        if name in _READ:
            if name in found:
                raise errors.FORWARD_AUTH_MISCONFIGURED(
                    f"{name.decode('latin-1')} once (it came twice)")
            found[name] = value
    return found


def _header_envelope(refusal: errors.OkxError, body: bytes) -> bytes:
    """The envelope as one header value: ASCII JSON (``\\u`` escapes, no line breaks)."""
    text = json.dumps(json.loads(body), ensure_ascii=True, separators=(",", ":"))
    if len(text) > MAX_REFUSAL_HEADER:
        text = json.dumps({"code": refusal.code, "msg": refusal.message, "data": []},
                          ensure_ascii=True, separators=(",", ":"))
    return text.encode("ascii")
