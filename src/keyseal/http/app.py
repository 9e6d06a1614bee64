"""The ASGI application. The OKX routes are the hot path, so they are dispatched by a small
ASGI callable of our own (a dict lookup), not a framework router: see
docs/decisions/0001-bare-asgi-for-okx-routes.md."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from collections.abc import Mapping
from time import perf_counter
from typing import Any
from urllib.parse import parse_qsl

import orjson

from keyseal import errors
from keyseal.gate.ratelimit import Charge, Rate
from keyseal.gate.verifier import SignedRequest
from keyseal.http import envelope
from keyseal.http.background import (
    ChangeFollower,
    flush_usage,
    follow_pushes,
    sweeper,
    usage_writer,
)
from keyseal.http.client_address import TrustedProxies
from keyseal.http.metrics import RequestCounts
from keyseal.http.okx import all_routes
from keyseal.http.openapi import openapi_document
from keyseal.http.ops import ops_routes
from keyseal.http.routes import Call, Reply, Route
from keyseal.http.state import ServerState, build_state
from keyseal.http.ws import serve_private
from keyseal.services.outage import is_outage
from keyseal.services.runtime import Runtime

log = logging.getLogger("keyseal.server")
access = logging.getLogger("keyseal.access")
_JSON = [(b"content-type", b"application/json")]
#: the server's clock in epoch milliseconds, on every response: a client sees its own skew
#: without a request to public/time, and before a 50102 tells it
SERVER_TIME_HEADER = b"x-keyseal-server-time"


class KeysealApp:
    def __init__(self, rt: Runtime, *, access_log: bool = False) -> None:
        self.rt = rt
        self.state: ServerState = build_state(rt)
        self.routes = all_routes()
        self.table: dict[str, dict[str, Route]] = {}
        for route in self.routes:
            self.table.setdefault(route.path, {})[route.method] = route
        self._openapi = orjson.dumps(openapi_document(self.routes))
        self._proxies = TrustedProxies(rt.settings.trusted_proxies)
        self._ip_rate = rt.settings.scaleout.public_ip_rate
        self._tasks: list[asyncio.Task[None]] = []
        #: plain counters on the request path, read by /metrics when scraped
        self.counts = RequestCounts()
        self._ops = ops_routes(self.state, self.counts)
        self._access_log = access_log
        # here, not at import: library mode imports this module without Starlette
        from keyseal.http.dashboard import create_dashboard

        #: everything but the OKX surface (see ``is_okx_path``) is the dashboard's
        self.dashboard = create_dashboard(rt, client_ip=self.scope_client_ip,
                                          is_https=self.scope_is_https)

    # -- lifespan ------------------------------------------------------------------------
    async def start(self) -> None:
        # everything imported and built so far lives as long as the process: keep it out of
        # the collector's full passes, which otherwise walk it again and again under load
        gc.freeze()
        self._tasks = await start_background(self.state)

    async def stop(self) -> None:
        await stop_background(self.state, self._tasks)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if self.state.loop is None:  # served without a lifespan (an ASGI test client)
            self.state.loop = asyncio.get_running_loop()
        kind = scope["type"]
        if kind == "http":
            path = scope["path"]
            if is_okx_path(path) or path in self._ops:  # /healthz, /readyz, /metrics
                await self._http(scope, receive, send)
            else:
                await self.dashboard(scope, receive, self._with_server_time(send))
        elif kind == "websocket":
            await self._websocket(scope, receive, send)
        elif kind == "lifespan":
            await self._lifespan(receive, send)

    async def _lifespan(self, receive: Any, send: Any) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    await self.start()
                except Exception as exc:
                    await send({"type": "lifespan.startup.failed", "message": str(exc)})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.stop()
                await send({"type": "lifespan.shutdown.complete"})
                return

    # -- HTTP ----------------------------------------------------------------------------
    def client_ip(self, scope: dict[str, Any], headers: dict[str, str]) -> str:
        """The socket peer; ``X-Forwarded-For`` only when the peer is a trusted proxy."""
        client = scope.get("client")
        return self._proxies.client_ip(client[0] if client else "",
                                       headers.get("x-forwarded-for"))

    def _with_server_time(self, send: Any) -> Any:
        """The dashboard's answers carry the server's clock too, as every answer does."""
        async def sending(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                now = str(int(self.rt.clock() * 1000)).encode()
                message = {**message, "headers": [*message.get("headers", []),
                                                  (SERVER_TIME_HEADER, now)]}
            await send(message)
        return sending

    def scope_client_ip(self, scope: dict[str, Any]) -> str:
        return self.client_ip(scope, wanted_headers(scope["headers"]))

    def scope_is_https(self, scope: dict[str, Any]) -> bool:
        """HTTPS to the browser: served so, or said so by a trusted proxy."""
        if scope.get("scheme") == "https":
            return True
        client = scope.get("client")
        if not client or not self._proxies.trusts_peer(client[0]):
            return False
        proto = [v for k, v in scope["headers"] if k.lower() == b"x-forwarded-proto"]
        return proto == [b"https"]

    async def _http(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        path = scope["path"]
        ops = self._ops.get(path)
        if ops is not None and scope["method"] == "GET":
            status, body, content_type = await ops()
            await send({"type": "http.response.start", "status": status, "headers": [
                (b"content-type", content_type), (b"content-length", str(len(body)).encode())]})
            await send({"type": "http.response.body", "body": body})
            return
        began = perf_counter() if self._access_log else 0.0
        try:
            status, body, code = await self._respond(scope, receive)
        except errors.OkxError as refusal:
            status, body = envelope.failure(refusal)
            code = refusal.code
        except Exception as failure:
            if is_outage(failure):  # the database is away: "try again later", not a bug
                log.warning("database unavailable on %s %s: %s", scope.get("method"),
                            scope.get("path"), type(failure).__name__)
                status, body = envelope.failure(errors.SERVICE_UNAVAILABLE())
                code = errors.SERVICE_UNAVAILABLE.code
            else:
                log.exception("unhandled error on %s %s", scope.get("method"), scope.get("path"))
                status, body = envelope.failure(errors.SYSTEM_ERROR())
                code = errors.SYSTEM_ERROR.code
        route = path if path in self.table else "other"
        self.counts.request(route, code, status)
        if self._access_log:
            self._log_access(scope, route, status, code, perf_counter() - began)
        headers = [*_JSON, (b"content-length", str(len(body)).encode()),
                   (SERVER_TIME_HEADER, str(int(self.rt.clock() * 1000)).encode())]
        if status == 413:  # the rest of the body is still coming: close instead of reading it
            headers.append((b"connection", b"close"))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    def _log_access(self, scope: dict[str, Any], route: str, status: int, code: str,
                    seconds: float) -> None:
        """One line per request: no query, no header values, so no secret and no signature."""
        forwarded = [v for k, v in scope["headers"] if k.lower() == b"x-forwarded-for"]
        client = scope.get("client")
        ip = self._proxies.client_ip(client[0] if client else "", b", ".join(forwarded).decode(
            "latin-1") if forwarded else None)
        ms = round(seconds * 1000, 3)
        access.info("%s %s %s %d %s %.3fms", ip, scope["method"], scope["path"][:200], status,
                    code, ms, extra={"client": ip, "method": scope["method"], "route": route,
                                     "status": status, "code": code, "ms": ms})

    async def _respond(self, scope: dict[str, Any], receive: Any) -> tuple[int, bytes, str]:
        path = scope["path"]
        if path == "/openapi.json" and scope["method"] == "GET":
            return 200, self._openapi, "0"
        methods = self.table.get(path)
        if methods is None:
            raise errors.ENDPOINT_UNAVAILABLE(detail=f"no route {path[:100]!r}")
        route = methods.get(scope["method"])
        if route is None:
            raise errors.INVALID_METHOD()
        headers = wanted_headers(scope["headers"])
        body = await self._read_body(receive, headers)
        client_ip = self.client_ip(scope, headers)
        query_string: bytes = scope.get("query_string", b"")
        principal = None
        if route.guard is not None:
            request = signed_request(scope, headers, body, client_ip)
            began = perf_counter()
            try:
                principal = await self.state.gate.authenticate(request, route.guard)
            except errors.OkxError as refusal:
                self.counts.verified(perf_counter() - began)
                log.info("refused %s %s: %s %s", scope["method"], path, refusal.code,
                         refusal.detail)
                raise
            self.counts.verified(perf_counter() - began)
        elif route.public_rate is not None and not (
                self._public_allowed(route.path, route.public_rate, client_ip)
                if self.state.shared_limits is None
                else await self._public_allowed_everywhere(route.path, route.public_rate,
                                                           client_ip)):
            raise errors.RATE_LIMITED(detail=f"ip {client_ip}")
        query = query_parameters(query_string)
        result = await route.handler(Call(self.state, query, body, principal, client_ip))
        if isinstance(result, Reply):
            return result.http_status, envelope.encode(result.code, result.msg, result.data), \
                result.code
        return 200, envelope.encode("0", "", result), "0"

    def _public_allowed(self, path: str, rate: Rate, client_ip: str) -> bool:
        """The route's own limit per IP, and the seeds' for every public route together."""
        limiter = self.state.limiter
        if self._ip_rate is None:
            return limiter.allow((client_ip, path), rate)
        return limiter.allow_pair((client_ip, path), rate, ("ip", client_ip), self._ip_rate)

    async def _public_allowed_everywhere(self, path: str, rate: Rate, client_ip: str) -> bool:
        """The same, counted by every process (Redis)."""
        charges: list[Charge] = [((client_ip, path), rate, 1)]
        if self._ip_rate is not None:
            charges.append((("ip", client_ip), self._ip_rate, 1))
        return await self.state.take(charges)

    async def _read_body(self, receive: Any, headers: dict[str, str]) -> bytes:
        return await read_body(receive, headers, self.rt.settings.max_body_bytes)

    # -- WebSocket -----------------------------------------------------------------------
    async def _websocket(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["path"].rstrip("/") != "/ws/v5/private":
            await receive()
            await send({"type": "websocket.close", "code": 4002, "reason": "Invalid Request"})
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        await serve_private(self.state, scope, receive, send, self.client_ip(scope, headers))


def is_okx_path(path: str) -> bool:
    """The OKX surface, served by the bare dispatcher (the hot path): ``/api/…`` (an unknown
    one still answers 50005 in OKX's envelope), ``/ws/…`` and ``/openapi.json``."""
    if path.startswith(("/api/", "/ws/")) or path in ("/api", "/openapi.json"):
        return True
    # what a lenient proxy might take for it ("//api/…", "/API/…") is answered in OKX's
    # envelope too (50005), not by the dashboard's HTML
    head = path.lstrip("/")[:4].lower()
    return head.startswith(("api/", "ws/")) or head == "api"


_WANTED = frozenset({b"ok-access-key", b"ok-access-sign", b"ok-access-timestamp",
                     b"ok-access-passphrase", b"x-simulated-trading", b"content-length",
                     b"x-forwarded-for"})


def wanted_headers(raw: list[tuple[bytes, bytes]]) -> dict[str, str]:
    """Only the headers Keyseal reads, decoded; names lower-cased (servers usually already
    send them so). A repeated one is refused (70016) rather than resolved, since a proxy may
    keep the first where Keyseal would keep the last; repeated X-Forwarded-For lines are one
    list, as HTTP defines."""
    found: dict[str, str] = {}
    for name, value in raw:
        if name not in _WANTED:
            name = name.lower()
            if name not in _WANTED:
                continue
        key, text = name.decode("latin-1"), value.decode("latin-1")
        if key in found:
            if key != "x-forwarded-for":
                raise errors.AMBIGUOUS(f"the header {key} is sent more than once")
            text = f"{found[key]}, {text}"
        found[key] = text
    return found


def query_parameters(query_string: bytes) -> dict[str, str]:
    """The query's parameters; one named twice is refused (70016), never resolved."""
    found: dict[str, str] = {}
    if not query_string:
        return found
    for name, value in parse_qsl(query_string.decode("latin-1"), keep_blank_values=True):
        if name in found:
            raise errors.AMBIGUOUS(f"the parameter {name[:40]} is given more than once")
        found[name] = value
    return found


def signed_request(scope: Mapping[str, Any], headers: dict[str, str], body: bytes,
                   client_ip: str) -> SignedRequest:
    """The request as the gate checks it: the raw target exactly as received (ASGI
    ``raw_path`` + ``query_string``), never rebuilt."""
    query_string: bytes = scope.get("query_string", b"")
    raw_path: bytes = scope.get("raw_path") or scope["path"].encode()
    target = raw_path + b"?" + query_string if query_string else raw_path
    return SignedRequest(scope["method"], target, body, headers, client_ip)


async def read_body(receive: Any, headers: dict[str, str], limit: int) -> bytes:
    """The whole body, refused (413) past ``limit`` bytes whether declared or sent, so a
    declared 100 MB body is refused before a byte of it is read."""
    declared = headers.get("content-length", "")
    if declared and not (declared.isascii() and declared.isdigit() and len(declared) <= 15):
        raise errors.JSON_SYNTAX(detail="a Content-Length that is not a number")
    if declared and int(declared) > limit:
        raise errors.BODY_TOO_LARGE(limit)
    chunks: list[bytes] = []
    size = 0
    more = True
    while more:
        message = await receive()
        if message["type"] == "http.disconnect":  # no route acts on a body cut short
            raise errors.MALFORMED_HTTP("the connection closed before the body was complete")
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise errors.BODY_TOO_LARGE(limit)
        chunks.append(chunk)
        more = message.get("more_body", False)
    return b"".join(chunks)


async def start_background(state: ServerState) -> list[asyncio.Task[None]]:
    """Start the loops a serving process runs beside requests: the change follower, the
    usage writer and the sweeper."""
    state.loop = asyncio.get_running_loop()
    follower = await asyncio.to_thread(ChangeFollower, state)
    settings = state.rt.settings
    tasks = [
        asyncio.create_task(follower.run(settings.change_poll_interval_s)),
        asyncio.create_task(usage_writer(state, settings.usage_flush_interval_s)),
        asyncio.create_task(sweeper(state, settings.sweep_interval_s)),
    ]
    if state.redis is not None:  # key changes pushed by the other processes
        await state.redis.check()
        tasks.append(asyncio.create_task(follow_pushes(state, follower)))
    return tasks


async def stop_background(state: ServerState, tasks: list[asyncio.Task[None]]) -> None:
    """Cancel the loops, then write the usage still pending."""
    for task in tasks:
        task.cancel()
    for task in tasks:
        with contextlib.suppress(asyncio.CancelledError):
            await task
    try:
        await asyncio.to_thread(flush_usage, state)
    except Exception:
        log.exception("could not write key usage at shutdown")
    if state.redis is not None:
        await state.redis.close()


def create_app(rt: Runtime, *, access_log: bool = False) -> KeysealApp:
    return KeysealApp(rt, access_log=access_log)
