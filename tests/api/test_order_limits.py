"""OKX's order rate limits, counted as OKX counts them (okx-v5-spec.md §4): per account and
instrument, a batch by the orders it holds, and a sub-account's 1,000 orders per 2 s.

The orders here are refused by validation (no size), so each costs its rate-limit charge and
no ledger work: the subject is the counting, not the placing. Each request carries an id of
its own (``clOrdId``, ``ordId``), as a bot's do: an exact repeat would be refused as a replay
(70017) before it is counted."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from decimal import Decimal
from itertools import count
from pathlib import Path

import httpx
import pytest

from keyseal.clock import ManualClock
from keyseal.domain.commands import CreateKey, CreateSubAccount
from keyseal.domain.market import Instrument, Market, default_market
from keyseal.http.app import create_app
from keyseal.http.okx.subaccount import created_key_fields
from keyseal.services import accounts as account_service
from keyseal.services import keys as key_service
from keyseal.services.runtime import open_runtime
from keyseal.settings import Settings
from tests.api.conftest import CLIENT_IP, Api
from tests.conftest import PASSPHRASE, envelope, make_account

ORDER, BATCH, CANCEL = "/api/v5/trade/order", "/api/v5/trade/batch-orders", "/api/v5/trade/cancel-order"


ids = count(1)


@pytest.fixture(autouse=True)
def _okx_limits_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    """These tests count OKX's order limits, bursts of 60 and more: the seeds' 50 requests
    per second per key on top (tests/scale/test_seed_limits.py) is off here."""
    monkeypatch.setenv("KEYSEAL_PRIVATE_KEY_RATE", "off")


def order(inst_id: str) -> dict[str, str]:
    return {"instId": inst_id, "tdMode": "cash", "side": "buy", "ordType": "market",
            "clOrdId": f"t{next(ids)}"}


async def place(api: Api, key: dict[str, str], inst_id: str) -> str:
    return str(envelope(await api.post(key, ORDER, json.dumps(order(inst_id))))["code"])


async def batch(api: Api, key: dict[str, str], *inst_ids: str) -> str:
    body = json.dumps([order(inst) for inst in inst_ids])
    return str(envelope(await api.post(key, BATCH, body))["code"])


async def cancel(api: Api, key: dict[str, str], inst_id: str) -> str:
    body = json.dumps({"instId": inst_id, "ordId": str(next(ids))})
    return str(envelope(await api.post(key, CANCEL, body))["code"])


async def test_single_orders_are_limited_per_instrument(api: Api) -> None:
    key = api.key(perm="trade")
    codes = [await place(api, key, "BTC-USDT") for _ in range(61)]
    assert "50011" not in codes[:60] and codes[60] == "50011"
    # another instrument has a limit of its own: it is not spent
    assert await place(api, key, "ETH-USDT") != "50011"
    api.clock.advance(2.0)
    assert await place(api, key, "BTC-USDT") != "50011"


async def test_a_batch_is_counted_by_the_orders_it_holds(api: Api) -> None:
    key = api.key(perm="trade")
    twenty = ["BTC-USDT"] * 20
    codes = [await batch(api, key, *twenty) for _ in range(16)]
    # 300 orders per 2 s per instrument: fifteen batches of twenty, not 300 batches
    assert "50011" not in codes[:15] and codes[15] == "50011"
    # a refused batch places none of its orders and leaves room for a smaller one
    assert await batch(api, key, "ETH-USDT", "ETH-BTC") != "50011"
    api.clock.advance(2.0 / 300 * 20)
    assert await batch(api, key, *twenty) != "50011"


async def test_a_one_order_batch_is_charged_to_the_single_order_limit(api: Api) -> None:
    key = api.key(perm="trade")
    for _ in range(60):
        assert await place(api, key, "BTC-USDT") != "50011"
    assert await batch(api, key, "BTC-USDT") == "50011"
    assert await batch(api, key, "ETH-USDT") != "50011"
    # two orders are a real batch, with the batch limit
    assert await batch(api, key, "BTC-USDT", "BTC-USDT") != "50011"


async def test_cancels_are_limited_per_instrument(api: Api) -> None:
    key = api.key(perm="trade")
    codes = [await cancel(api, key, "BTC-USDT") for _ in range(61)]
    assert "50011" not in codes[:60] and codes[60] == "50011"
    assert await cancel(api, key, "ETH-USDT") != "50011"
    # placing has limits of its own
    assert await place(api, key, "BTC-USDT") != "50011"


async def test_made_up_instruments_share_one_limit(api: Api) -> None:
    key = api.key(perm="trade")
    codes = [await place(api, key, f"NOPE{i}-USDT") for i in range(61)]
    assert "50011" not in codes[:60] and codes[60] == "50011"


@pytest.fixture
async def wide_api(tmp_path: Path, clock: ManualClock) -> AsyncIterator[Api]:
    """A market of six instruments: enough per-instrument room to pass 1,000 orders."""
    d = Decimal
    market = default_market()
    extra = {f"C{i}-USDT": Instrument(f"C{i}-USDT", f"C{i}", "USDT", d("0.01"), d("1"), d("1"))
             for i in range(3)}
    rt = open_runtime(Settings(home=tmp_path / "home",
                               market=Market({**market.instruments, **extra}, market.currencies)),
                      clock=clock)
    app = create_app(rt)
    transport = httpx.ASGITransport(app=app, client=(CLIENT_IP, 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://keyseal.test") as client:
        yield Api(app, client, rt, clock)
    rt.close()


async def test_a_sub_account_places_at_most_1000_orders_per_2_seconds(wide_api: Api) -> None:
    api = wide_api
    email = make_account(api.rt)
    account_service.create_sub_account(api.rt, CreateSubAccount(email, "alpha01"))
    sub_key = created_key_fields(key_service.create_key(api.rt, CreateKey(
        email, label="bot", passphrase=PASSPHRASE, perm="trade", sub="alpha01")))
    master_key = api.key(email=email, perm="trade")
    instruments = sorted(api.rt.settings.market.instruments)
    assert len(instruments) == 6
    # 1,000 orders, 20 per batch, each batch on one instrument: at most 180 per instrument
    codes = [await batch(api, sub_key, *[instruments[i % 6]] * 20) for i in range(50)]
    assert "50011" not in codes and "50061" not in codes
    assert await batch(api, sub_key, instruments[0], instruments[1]) == "50061"
    assert await place(api, sub_key, instruments[2]) == "50061"
    # the limit is the sub-account's: its master account still places
    assert await batch(api, master_key, instruments[0], instruments[1]) != "50061"


async def test_demo_orders_do_not_spend_the_live_accounts_limits(api: Api) -> None:
    email = make_account(api.rt)
    live = api.key(email=email, perm="trade")
    demo = api.key(email=email, perm="trade", demo=True)
    for _ in range(60):
        body = json.dumps(order("BTC-USDT"))
        assert envelope(await api.post(demo, ORDER, body, demo=True))["code"] != "50011"
    assert await place(api, live, "BTC-USDT") != "50011"


async def test_malformed_order_requests_are_limited_too(api: Api) -> None:
    key = api.key(perm="trade")
    codes = [str(envelope(await api.post(key, ORDER, f"[{i}]"))["code"]) for i in range(61)]
    assert "50011" not in codes[:60] and codes[60] == "50011"
    api.clock.advance(2.0)
    codes = [str(envelope(await api.post(key, BATCH, json.dumps([order("BTC-USDT")] * 21)))[
        "code"]) for _ in range(61)]
    assert "50011" not in codes[:60] and codes[60] == "50011"
    # and the well-formed orders of the same instrument still have their own room
    assert await place(api, key, "BTC-USDT") != "50011"
