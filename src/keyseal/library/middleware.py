"""``KeysealMiddleware``: pure ASGI, no framework. For each HTTP request its table covers
it verifies the signature with Keyseal's gate and passes the ``Caller`` on in
``scope["keyseal"]`` (and ``scope["state"]["keyseal"]``, Starlette's ``request.state``);
a refusal is answered with the OKX envelope and status the gate's code carries. Lifespan
events pass through to the wrapped app, starting and stopping Keyseal's loops around it."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from keyseal import errors
from keyseal.http import envelope
from keyseal.http.app import wanted_headers
from keyseal.library.auth import KeysealAuth

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

#: where the middleware leaves the verified caller, and itself (for ``require_key``)
CALLER = "keyseal"
AUTH = "keyseal.auth"
log = logging.getLogger("keyseal.library")


class KeysealMiddleware:
    """``KeysealMiddleware(app, auth=auth)``; with Starlette or FastAPI,
    ``app.add_middleware(KeysealMiddleware, auth=auth)``.

    An ``OkxError`` the wrapped app raises before it starts its response (a
    ``require_key`` dependency's refusal) is answered with its envelope too."""

    def __init__(self, app: ASGIApp, auth: KeysealAuth) -> None:
        self.app = app
        self.auth = auth

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "lifespan":
            await self._lifespan(scope, receive, send)
            return
        if kind != "http":
            await self.app({**scope, AUTH: self.auth}, receive, send)
            return
        scope = {**scope, AUTH: self.auth}
        route = self.auth.table.lookup(scope["method"], scope["path"])
        if route is not None:
            try:
                headers = wanted_headers(scope["headers"])
                body = await self.auth.body_of(receive, headers)
                caller = await self.auth.verify(scope, body, route.guard, headers=headers)
            except errors.OkxError as refusal:
                await send_refusal(send, refusal)
                return
            except Exception:
                log.exception("could not verify %s %s", scope["method"], scope["path"])
                await send_refusal(send, errors.SYSTEM_ERROR())
                return
            scope[CALLER] = caller
            scope["state"] = {**scope.get("state", {}), CALLER: caller}
            receive = _replay(body, receive)
        await self._call_app(scope, receive, send)

    async def _call_app(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = False

        async def watched_send(message: Message) -> None:
            nonlocal started
            started = True
            await send(message)

        try:
            await self.app(scope, receive, watched_send)
        except errors.OkxError as refusal:
            if started:
                raise
            await send_refusal(send, refusal)

    async def _lifespan(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def receive_and_start() -> Message:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await self.auth.start()  # a failure fails the host's start-up
            return message

        async def stop_and_send(message: Message) -> None:
            if message["type"] in ("lifespan.shutdown.complete", "lifespan.shutdown.failed"):
                await self.auth.stop()
            await send(message)

        await self.app(scope, receive_and_start, stop_and_send)


async def send_refusal(send: Send, refusal: errors.OkxError) -> None:
    status, body = envelope.failure(refusal)
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


def _replay(body: bytes, receive: Receive) -> Receive:
    """The body the middleware already read, as one message; then the client's own
    messages (a disconnect)."""
    pending = True

    async def replayed() -> Message:
        nonlocal pending
        if pending:
            pending = False
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replayed
