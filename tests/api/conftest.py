"""An in-process Keyseal app behind httpx, with a manual clock."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from keyseal.clock import ManualClock
from keyseal.http.app import KeysealApp, create_app
from keyseal.services.runtime import Runtime
from keyseal.signing import format_timestamp
from tests.conftest import make_key, signed_headers

CLIENT_IP = "127.0.0.1"


@dataclass
class Api:
    app: KeysealApp
    client: httpx.AsyncClient
    rt: Runtime
    clock: ManualClock

    def key(self, **kwargs: Any) -> dict[str, str]:
        kwargs.setdefault("credit", {"USDT": "10000", "BTC": "1"})
        return make_key(self.rt, **kwargs)

    def headers(self, key: dict[str, str], method: str, target: str, body: str = "",
                **kwargs: Any) -> dict[str, str]:
        kwargs.setdefault("timestamp", format_timestamp(self.clock()))
        return signed_headers(key, method, target, body, **kwargs)

    async def get(self, key: dict[str, str], target: str, **kwargs: Any) -> httpx.Response:
        return await self.client.get(target, headers=self.headers(key, "GET", target, **kwargs))

    async def post(self, key: dict[str, str], target: str, body: str, **kwargs: Any
                   ) -> httpx.Response:
        return await self.client.post(target, content=body.encode(),
                                      headers=self.headers(key, "POST", target, body, **kwargs))


@pytest.fixture
async def api(sqlite_rt: Runtime, clock: ManualClock) -> AsyncIterator[Api]:
    app = create_app(sqlite_rt)
    transport = httpx.ASGITransport(app=app, client=(CLIENT_IP, 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://keyseal.test") as client:
        yield Api(app, client, sqlite_rt, clock)
