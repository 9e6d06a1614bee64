"""Library mode in-process: a KeysealAuth on the test's runtime in front of small apps,
driven through httpx's ASGI transport with the runtime's manual clock."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any

import httpx
import orjson
import pytest

from keyseal.clock import ManualClock
from keyseal.library import KeysealAuth, KeysealMiddleware
from keyseal.library.access import Rule
from keyseal.services import accounts as account_service
from keyseal.services.runtime import Runtime
from keyseal.signing import format_timestamp
from tests.conftest import make_account, make_key, signed_headers

CLIENT_IP = "127.0.0.1"


async def echo(scope: Any, receive: Any, send: Any) -> None:
    """A bare ASGI app: answers with what the middleware handed it."""
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            break
    caller = scope.get("keyseal")
    answer = {"caller": None if caller is None else {
        "uid": caller.uid, "main_uid": caller.main_uid, "api_key": caller.api_key,
        "label": caller.label, "permissions": list(caller.permissions),
        "environment": caller.environment.value, "client_ip": caller.client_ip},
        "in_state": scope.get("state", {}).get("keyseal") is caller,
        "body": b"".join(chunks).decode()}
    body = orjson.dumps(answer)
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": body})


@dataclass
class Own:
    """The host app, its KeysealAuth and a client signing with the manual clock."""

    auth: KeysealAuth
    client: httpx.AsyncClient
    rt: Runtime
    clock: ManualClock

    def account(self, **kwargs: Any) -> tuple[str, str]:
        email = make_account(self.rt, **kwargs)
        return email, account_service.account_by_email(self.rt, email).uid

    def key(self, email: str | None = None, **kwargs: Any) -> dict[str, str]:
        return make_key(self.rt, email, **kwargs)

    def headers(self, key: Mapping[str, str], method: str, target: str, body: str = "",
                **kwargs: Any) -> dict[str, str]:
        kwargs.setdefault("timestamp", format_timestamp(self.clock()))
        return signed_headers(dict(key), method, target, body, **kwargs)

    async def get(self, key: Mapping[str, str], target: str, **kwargs: Any) -> httpx.Response:
        return await self.client.get(target, headers=self.headers(key, "GET", target, **kwargs))

    async def post(self, key: Mapping[str, str], target: str, body: str, **kwargs: Any
                   ) -> httpx.Response:
        return await self.client.post(target, content=body.encode(),
                                      headers=self.headers(key, "POST", target, body, **kwargs))


def client_for(app: Any) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, client=(CLIENT_IP, 50000))
    return httpx.AsyncClient(transport=transport, base_url="http://own.test")


ROUTES: dict[str, Rule] = {"GET /orders": "read", "POST /orders": "trade",
                           "/payouts/*": "withdraw", "/public/health": None}


@pytest.fixture
async def own(rt: Runtime, clock: ManualClock) -> AsyncIterator[Own]:
    """Bare ASGI app behind the middleware, on SQLite and PostgreSQL."""
    auth = KeysealAuth(rt, routes=ROUTES)
    async with client_for(KeysealMiddleware(echo, auth)) as client:
        yield Own(auth, client, rt, clock)
