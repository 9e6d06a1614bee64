"""The seeds' limits on top of OKX's, in one process (manual clock): every public endpoint
together 10 requests per second per client IP, every private endpoint together 50 per second
per API key; each a setting, ``off`` to turn it off, a bad value refused at start."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from keyseal.clock import ManualClock
from keyseal.gate.ratelimit import Rate
from keyseal.http.app import create_app
from keyseal.scaleout import ScaleOut, parse_rate
from keyseal.services.runtime import open_runtime
from keyseal.settings import Settings
from tests.api.conftest import Api
from tests.conftest import envelope

CURRENCIES = "/api/v5/asset/currencies"  # OKX: 6 per second per account
PENDING = "/api/v5/trade/orders-pending"  # OKX: 60 per 2 s per account


async def api_with(tmp_path: Path, clock: ManualClock, **scaleout: object
                   ) -> AsyncIterator[Api]:
    rt = open_runtime(Settings(home=tmp_path / "home", scaleout=ScaleOut(**scaleout)),  # type: ignore[arg-type]
                      clock=clock)
    app = create_app(rt)
    transport = httpx.ASGITransport(app=app, client=("203.0.113.7", 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://keyseal.test") as client:
        yield Api(app, client, rt, clock)
    rt.close()


@pytest.fixture
async def api(tmp_path: Path, clock: ManualClock) -> AsyncIterator[Api]:
    async for made in api_with(tmp_path, clock):
        yield made


async def test_public_endpoints_together_take_10_per_second_per_ip(api: Api) -> None:
    """public/time (10 per 2 s) and public/instruments (20 per 2 s) each stay within their
    own limit here; together they pass the IP's 10 per second."""
    statuses = []
    for i in range(12):
        target = "/api/v5/public/time" if i % 2 else "/api/v5/public/instruments?instType=SPOT"
        statuses.append((await api.client.get(target)).status_code)
    assert statuses == [200] * 10 + [429] * 2
    refused = await api.client.get("/api/v5/public/time")
    assert envelope(refused)["code"] == "50011"
    api.clock.advance(1.0)  # a second later the IP has 10 again
    assert [(await api.client.get("/api/v5/public/time")).status_code for _ in range(5)] == [200] * 5


async def test_private_endpoints_together_take_50_per_second_per_key(api: Api) -> None:
    key = api.key()
    codes = []
    for i in range(52):
        # 6 per second on currencies, 60 per 2 s on pending: neither route's limit is reached
        target = CURRENCIES if i % 10 == 0 else PENDING
        codes.append(envelope(await api.get(key, target))["code"])
    assert codes[:50] == ["0"] * 50 and codes[50:] == ["50011", "50011"]
    other = api.key()  # the limit is the key's: another key has its own 50
    assert envelope(await api.get(other, PENDING))["code"] == "0"
    api.clock.advance(0.1)  # GCRA: one more every 1/50 s
    assert [envelope(await api.get(key, PENDING))["code"] for _ in range(6)] == \
        ["0"] * 5 + ["50011"]


async def test_the_seeds_limits_are_settings(tmp_path: Path, clock: ManualClock) -> None:
    async for api in api_with(tmp_path, clock, public_ip_rate=None,
                              private_key_rate=Rate(3, 1)):
        key = api.key()
        assert [envelope(await api.get(key, PENDING))["code"] for _ in range(4)] == \
            ["0", "0", "0", "50011"]
        # off for public endpoints: only each route's own limit (10 per 2 s on public/time)
        statuses = [(await api.client.get("/api/v5/public/time")).status_code for _ in range(11)]
        assert statuses == [200] * 10 + [429]


def test_rates_parse_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    assert parse_rate("10/1") == Rate(10, 1.0)
    assert parse_rate("300/2s") == Rate(300, 2.0)
    assert parse_rate("25") == Rate(25, 1.0)
    assert parse_rate("off") is None
    for bad in ("ten/1", "0/1", "5/0", "5/-1"):
        with pytest.raises(ValueError, match="N/SECONDS|at least 1"):
            parse_rate(bad)
    monkeypatch.setenv("KEYSEAL_PRIVATE_KEY_RATE", "7/2")
    monkeypatch.setenv("KEYSEAL_PUBLIC_IP_RATE", "off")
    monkeypatch.setenv("KEYSEAL_REDIS_URL", "redis://:hunter2@cache:6379/3")
    scaleout = ScaleOut()
    assert scaleout.private_key_rate == Rate(7, 2.0) and scaleout.public_ip_rate is None
    assert "hunter2" not in repr(Settings()) and "hunter2" not in scaleout.shown_redis_url
    monkeypatch.setenv("KEYSEAL_REDIS_URL", "http://cache")
    with pytest.raises(ValueError, match="redis://"):
        ScaleOut()
