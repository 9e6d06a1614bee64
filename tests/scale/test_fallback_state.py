"""What another part of the server (the metrics) reads of Redis's state:
``ServerState.redis_fallback``, on a whole app with a Redis of the test's own that stops
and returns, requests served throughout."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx

from keyseal.http.app import create_app
from keyseal.scaleout import ScaleOut
from keyseal.services.runtime import open_runtime
from keyseal.settings import Settings
from tests.conftest import make_key, signed_headers
from tests.scale.conftest import OwnRedis

PENDING = "/api/v5/trade/orders-pending"


async def test_redis_fallback_is_shown_and_cleared(tmp_path: Path, own_redis: OwnRedis,
                                                   prefix: str) -> None:
    rt = open_runtime(Settings(home=tmp_path / "home", scaleout=ScaleOut(
        redis_url=own_redis.url, redis_prefix=prefix, redis_retry_s=0.05)))
    app = create_app(rt)
    state = app.state
    assert state.redis is not None and state.redis_fallback is state.redis.fallback
    key = make_key(rt)
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://keyseal.test") as client:
        async def code() -> str:
            answer = await client.get(PENDING, headers=signed_headers(key, "GET", PENDING))
            return str(answer.json()["code"])

        assert await code() == "0"
        assert (state.redis_fallback.active, state.redis_fallback.episodes) == (False, 0)
        own_redis.stop()
        assert [await code() for _ in range(3)] == ["0"] * 3  # served, on local limits
        assert (state.redis_fallback.active, state.redis_fallback.episodes) == (True, 1)
        own_redis.start()
        for _ in range(200):
            if not state.redis_fallback.active:
                break
            await asyncio.sleep(0.02)
        assert (state.redis_fallback.active, state.redis_fallback.episodes) == (False, 1)
        assert await code() == "0"
    await state.redis.close()
    rt.close()
