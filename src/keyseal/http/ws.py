"""``/ws/v5/private``: ``op=login`` exactly as OKX, ``ping``/``pong`` keep-alive.

Each connection may send ``ws_frames_per_s`` messages a second (past it: a 60014 event, then
close 1008) and ``ws_logins_per_min`` logins a minute (past it, each login is answered 60014),
so one connection cannot flood the gate; frames past ``ws_max_frame_bytes`` are refused by the
protocol before they are read (1009).

A demo key logs in when the URL carries ``brokerId=9999`` (what ccxt's sandbox adds) or the
handshake carries ``x-simulated-trading: 1``; otherwise the connection is live.
"""

from __future__ import annotations

import logging
import secrets
import time
from typing import Any

import orjson

from keyseal import errors
from keyseal.domain.keys import Environment
from keyseal.gate.entry import KeyEntry
from keyseal.gate.ratelimit import Rate, RateLimiter
from keyseal.http import strict_json
from keyseal.http.state import ServerState
from keyseal.signing import parse_ws_timestamp

log = logging.getLogger("keyseal.ws")
PRIVATE_CHANNELS = {"account", "orders", "positions", "balance_and_position", "liquidation-warning",
                    "account-greeks"}

# the REST refusal → the code OKX sends for it on a WebSocket login
_LOGIN_CODES = {
    errors.INVALID_KEY.code: errors.WS_KEY_NOT_FOUND,
    errors.TIMESTAMP_EXPIRED.code: errors.WS_TIMESTAMP_EXPIRED,
    errors.PASSPHRASE_INCORRECT.code: errors.WS_WRONG_PASSPHRASE,
    errors.INVALID_SIGN.code: errors.WS_INVALID_SIGN,
}


def _environment(scope: dict[str, Any]) -> Environment:
    query = scope.get("query_string", b"")
    if b"brokerId=9999" in query:
        return Environment.DEMO
    for name, value in scope.get("headers", []):
        if name.lower() == b"x-simulated-trading":
            return Environment.from_header(value.decode("latin-1"))
    return Environment.LIVE


class PrivateSession:
    def __init__(self, state: ServerState, scope: dict[str, Any], client_ip: str,
                 send: Any) -> None:
        self.state = state
        self.environment = _environment(scope)
        self.client_ip = client_ip
        self.conn_id = secrets.token_hex(4)
        self.api_key: str | None = None
        self.entry: KeyEntry | None = None
        self._send = send
        self.closed = False
        limits = state.rt.settings.limits
        self.max_frame = limits.ws_max_frame_bytes
        self.max_frames_per_s = limits.ws_frames_per_s
        self._frame_rate = Rate(limits.ws_frames_per_s, 1.0)
        self._login_rate = Rate(limits.ws_logins_per_min, 60.0)
        self._paces = RateLimiter(time.monotonic)  # this connection's frames and logins

    def frame_allowed(self) -> bool:
        return self._paces.allow("frames", self._frame_rate)

    def too_frequent(self) -> str:
        return self._error(errors.WS_TOO_FREQUENT())

    async def close(self, code: int, reason: str) -> None:
        if not self.closed:
            self.closed = True
            await self._send({"type": "websocket.close", "code": code, "reason": reason})

    def forget(self) -> None:
        if self.api_key is not None:
            group = self.state.sessions.get(self.api_key)
            if group is not None:
                group.discard(self)
                if not group:
                    del self.state.sessions[self.api_key]

    def _event(self, event: str, code: str = "0", msg: str = "", **extra: Any) -> str:
        return orjson.dumps({"event": event, **extra, "code": code, "msg": msg,
                             "connId": self.conn_id}).decode()

    def _error(self, error: errors.OkxError) -> str:
        return self._event("error", error.code, error.message)

    async def handle(self, text: str) -> str | None:
        if text == "ping":
            return "pong"
        try:
            message = strict_json.loads(text)
        except orjson.JSONDecodeError:
            return self._error(errors.WS_INVALID_REQUEST(text[:64]))
        except errors.OkxError as ambiguous:
            return self._error(ambiguous)
        if not isinstance(message, dict):
            return self._error(errors.WS_INVALID_REQUEST(text[:64]))
        op = message.get("op")
        if op == "login":
            if not self._paces.allow("logins", self._login_rate):
                return self.too_frequent()
            return await self._login(message.get("args"))
        if op in ("subscribe", "unsubscribe"):
            return self._subscribe(op, message.get("args"))
        return self._error(errors.WS_INVALID_OP(str(op)[:32]))

    async def _login(self, args: Any) -> str:
        if not isinstance(args, list) or len(args) != 1 or not isinstance(args[0], dict):
            return self._error(errors.WS_INVALID_ARGS())
        arg = args[0]
        api_key, passphrase = arg.get("apiKey"), arg.get("passphrase")
        signature, timestamp = arg.get("sign"), arg.get("timestamp")
        if not (isinstance(api_key, str) and api_key and isinstance(passphrase, str)
                and passphrase and isinstance(signature, str) and signature):
            return self._error(errors.WS_INVALID_ARGS())
        try:
            seconds = parse_ws_timestamp(timestamp)
        except ValueError:
            return self._error(errors.WS_INVALID_TIMESTAMP())
        try:
            entry = await self.state.gate.login(api_key, passphrase, seconds, signature,
                                                str(timestamp), self.environment,
                                                self.client_ip)
        except errors.OkxError as refusal:
            log.info("ws login refused: %s %s", refusal.code, refusal.detail)
            mapped = _LOGIN_CODES.get(refusal.code)
            if mapped is not None:
                return self._error(mapped())
            if refusal.error in (errors.WRONG_ENVIRONMENT, errors.IP_NOT_ALLOWED,
                                 errors.TOO_MANY_FAILURES_FROM_ADDRESS,
                                 errors.TOO_MANY_FAILURES_FOR_KEY):
                return self._error(refusal)
            return self._error(errors.WS_LOGIN_FAILED())
        self.forget()
        self.api_key, self.entry = api_key, entry
        self.state.sessions.setdefault(api_key, set()).add(self)  # type: ignore[arg-type]
        return self._event("login")

    def _subscribe(self, op: str, args: Any) -> str:
        if self.api_key is None:
            return self._error(errors.WS_PLEASE_LOGIN())
        if not isinstance(args, list) or not args or not all(isinstance(a, dict) for a in args):
            return self._error(errors.WS_INVALID_ARGS())
        for arg in args:
            channel = arg.get("channel")
            if channel not in PRIVATE_CHANNELS:
                return self._error(errors.WS_CHANNEL_UNKNOWN(f"channel:{channel}"))
        return orjson.dumps({"event": op, "arg": args[0], "connId": self.conn_id}).decode()


async def serve_private(state: ServerState, scope: dict[str, Any], receive: Any, send: Any,
                        client_ip: str) -> None:
    message = await receive()
    if message["type"] != "websocket.connect":
        return
    await send({"type": "websocket.accept"})
    session = PrivateSession(state, scope, client_ip, send)
    try:
        while not session.closed:
            message = await receive()
            if message["type"] == "websocket.disconnect":
                return
            text = message.get("text")
            if text is None:
                data = message.get("bytes") or b""
                text = data.decode("utf-8", "replace")
            if len(text) > session.max_frame:
                await session.close(1009, "Request message exceeds the maximum frame length")
                return
            if not session.frame_allowed():
                log.info("ws from %s closed: more than %s frames per second", client_ip,
                         session.max_frames_per_s)
                await send({"type": "websocket.send",
                            "text": session.too_frequent()})
                await session.close(1008, "Requests too frequent")
                return
            reply = await session.handle(text)
            if reply is not None and not session.closed:
                await send({"type": "websocket.send", "text": reply})
    finally:
        session.forget()
