"""WebSocket login to ``/ws/v5/private``, OKX style."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from keyseal.client.clock import Clock
from keyseal.client.credentials import Credentials
from keyseal.client.errors import UnexpectedResponse, WebSocketClosed, error_for
from keyseal.signing import sign_ws_login

OKX_PRIVATE_URL = "wss://ws.okx.com:8443/ws/v5/private"
OKX_DEMO_PRIVATE_URL = "wss://wspap.okx.com:8443/ws/v5/private"


def login_message(credentials: Credentials, now: float) -> str:
    """The ``op=login`` frame: Unix seconds as a string, signed with ``GET/users/self/verify``."""
    timestamp = str(int(now))
    arg = {"apiKey": credentials.api_key, "passphrase": credentials.passphrase,
           "timestamp": timestamp, "sign": sign_ws_login(credentials.secret_key, timestamp)}
    return json.dumps({"op": "login", "args": [arg]}, separators=(",", ":"))


async def login(websocket: ClientConnection, credentials: Credentials, *,
                clock: Clock = time.time, timeout: float = 10.0) -> dict[str, Any]:
    """Log in on an open connection; returns the ``login`` event or raises the typed error.

    ``clock`` may be a ``ServerClock.now`` measured by a REST client, so a skewed machine
    signs with the server's time here too.
    """
    await websocket.send(login_message(credentials, clock()))
    try:
        async with asyncio.timeout(timeout):
            while True:
                frame = await websocket.recv()
                if frame == "pong":
                    continue
                event = _event(frame)
                kind, code = event.get("event"), str(event.get("code", ""))
                if kind == "login" and code == "0":
                    return event
                if kind in ("login", "error"):
                    raise error_for(code, str(event.get("msg", "")), request="ws login")
    except ConnectionClosed as closed:
        received = closed.rcvd
        raise WebSocketClosed(str(received.code) if received else "",
                              received.reason if received else "closed without a reason",
                              request="ws login") from None


@asynccontextmanager
async def private_connection(url: str, credentials: Credentials, *, demo: bool | None = None,
                             clock: Clock = time.time,
                             timeout: float = 10.0) -> AsyncIterator[ClientConnection]:
    """A logged-in connection to ``url``, closed on exit.

    ``demo`` adds ``x-simulated-trading`` to the handshake for servers that pick the
    environment by header; OKX itself picks it by host (``OKX_DEMO_PRIVATE_URL``).
    """
    headers = None if demo is None else {"x-simulated-trading": "1" if demo else "0"}
    async with connect(url, additional_headers=headers, open_timeout=timeout) as websocket:
        await login(websocket, credentials, clock=clock, timeout=timeout)
        yield websocket


def _event(frame: str | bytes) -> dict[str, Any]:
    try:
        event = json.loads(frame)
    except ValueError:
        event = None
    if not isinstance(event, dict):
        raise UnexpectedResponse("", f"not a JSON event: {str(frame)[:200]!r}",
                                 request="ws login")
    return event
