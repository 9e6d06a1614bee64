"""``kill -9`` of a real ``keyseal serve`` in the middle of a burst of key creations (over the
sub-account API) and signed orders, on SQLite and on PostgreSQL. After a restart on the same
data: every key whose creation was acknowledged exists and verifies, every acknowledged order
is in the ledger with its funds frozen (the frozen balance is exactly what the live orders
hold), the database passes its integrity check, and the last-used time of the busy key lost
at most one flush interval (1 s) of updates.

CI kills once per database after about 1.5 s of load; ``KEYSEAL_FAULTS_LONG=1`` kills three
times per database after 4 s each."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, inspect, text

from keyseal.domain.commands import CreateKey, CreateSubAccount, Owner
from keyseal.domain.keys import Environment
from keyseal.http.okx.subaccount import created_key_fields
from keyseal.services import accounts as account_service
from keyseal.services import keys as key_service
from keyseal.services import ledger
from keyseal.services.runtime import open_runtime
from keyseal.settings import Settings, normalise_db_url
from tests.conftest import PASSPHRASE, make_account, postgres_url, start_server, stop_server
from tests.conftest import signed_headers as okx_headers

LONG = os.environ.get("KEYSEAL_FAULTS_LONG", "").strip() == "1"
KILLS, LOAD_S = (3, 4.0) if LONG else (1, 1.5)
FLUSH_S = 1.0  # Settings.usage_flush_interval_s
ORDER = {"instId": "BTC-USDT", "tdMode": "cash", "side": "buy", "ordType": "limit",
         "px": "1000", "sz": "0.001"}
SUBS = [f"killsub{n:02d}" for n in range(4)]  # 50 keys each at most


@dataclass
class Acknowledged:
    keys: list[dict[str, str]] = field(default_factory=list)
    orders: list[str] = field(default_factory=list)
    last_use_ms: int = 0


@pytest.fixture(params=["sqlite", "postgresql"])
def db_env(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[dict[str, str]]:
    env = {"KEYSEAL_GUESS_ADDRESS_FAILURES": "1000000"}
    if request.param == "sqlite":
        yield env
        return
    base = postgres_url()
    if not base:
        pytest.skip("PostgreSQL not configured: set KEYSEAL_TEST_POSTGRES_URL")
    schema = f"ks_{uuid.uuid4().hex[:12]}"
    engine = create_engine(normalise_db_url(base))
    with engine.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield {**env, "KEYSEAL_DB": f"{base}?options=-csearch_path%3D{schema}"}
    finally:
        with engine.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        engine.dispose()


async def burst(url: str, master: dict[str, str], acks: Acknowledged) -> None:
    """Create keys and place orders, as fast as a few clients can, until the server dies."""
    async with httpx.AsyncClient(base_url=url, timeout=10) as client:

        async def post(path: str, body: object) -> dict[str, object] | None:
            text_body = json.dumps(body)
            try:
                response = await client.post(path, content=text_body.encode(),
                                             headers=okx_headers(master, "POST", path, text_body))
            except httpx.TransportError:
                return None
            return dict(response.json())

        async def create_keys() -> None:
            for n in range(10_000):
                sub = SUBS[n % len(SUBS)]
                answer = await post("/api/v5/users/subaccount/apikey", {
                    "subAcct": sub, "label": f"k{uuid.uuid4().hex[:10]}",
                    "passphrase": PASSPHRASE, "perm": "read_only"})
                if answer is None:
                    return
                assert answer["code"] == "0", answer
                if answer["code"] == "0":
                    [created] = answer["data"]  # type: ignore[misc]
                    acks.keys.append({"apiKey": created["apiKey"],
                                      "secretKey": created["secretKey"],
                                      "passphrase": PASSPHRASE})

        async def place_orders() -> None:
            while True:
                answer = await post("/api/v5/trade/order",  # each its own: no replays
                                    {**ORDER, "clOrdId": f"c{uuid.uuid4().hex[:20]}"})
                if answer is None:
                    return
                assert answer["code"] == "0", answer
                acks.orders.append(answer["data"][0]["ordId"])  # type: ignore[index]
                acks.last_use_ms = max(acks.last_use_ms, int(time.time() * 1000))

        await asyncio.gather(create_keys(), create_keys(), *(place_orders() for _ in range(6)))


async def verifies(url: str, key: dict[str, str]) -> str:
    path = "/api/v5/account/balance"
    async with httpx.AsyncClient(base_url=url, timeout=10) as client:
        response = await client.get(path, headers=okx_headers(key, "GET", path))
    return str(response.json()["code"])


def integrity(db_url: str, home: Path) -> list[str]:
    """SQLite's own check; on PostgreSQL, that every row of every table can be read."""
    if not db_url:
        engine = create_engine(f"sqlite:///{home / 'keyseal.db'}")
        with engine.connect() as conn:
            found = [row[0] for row in conn.execute(text("PRAGMA integrity_check"))]
        engine.dispose()
        return found
    engine = create_engine(normalise_db_url(db_url))
    with engine.connect() as conn:
        for table in inspect(conn).get_table_names():
            conn.execute(text(f'SELECT * FROM "{table}"')).fetchall()
    engine.dispose()
    return ["ok"]


async def test_kill_9_during_a_burst_loses_nothing_acknowledged(
        tmp_path: Path, db_env: dict[str, str]) -> None:
    home = tmp_path / "home"
    home.mkdir()
    db_url = db_env.get("KEYSEAL_DB", "")
    process, url = start_server(home, "--rate-limits", "off", env=db_env)
    rt = open_runtime(Settings(home=home, db_url=db_url))
    email = make_account(rt, credit={"USDT": "1000000"})
    for sub in SUBS:
        account_service.create_sub_account(rt, CreateSubAccount(email, sub))
    master = created_key_fields(key_service.create_key(rt, CreateKey(
        email, label="killer", passphrase=PASSPHRASE, perm="read_only,trade", ip="127.0.0.1",
        sub_account_access=True)))
    account_id = key_service.get_key(rt, master["apiKey"]).account_id
    rt.close()
    acks = Acknowledged()
    try:
        for _ in range(KILLS):
            load = asyncio.ensure_future(burst(url, master, acks))
            await asyncio.sleep(LOAD_S)  # load for a while: the kill lands mid-write
            keys_before = len(acks.keys)
            while len(acks.keys) < keys_before + 1 and not load.done():
                await asyncio.sleep(0.01)  # at least one key made in this round
            os.kill(process.pid, signal.SIGKILL)
            process.wait(10)
            await asyncio.wait_for(load, 30)
            process, url = start_server(home, "--rate-limits", "off", env=db_env)
        assert acks.keys and acks.orders, "the burst acknowledged nothing: it proved nothing"
        codes = [await verifies(url, key) for key in acks.keys]
        assert codes == ["0"] * len(acks.keys)
        rt = open_runtime(Settings(home=home, db_url=db_url))
        try:
            owner = Owner(account_id, Environment.LIVE)
            live = ledger.pending_orders(rt, owner, limit=10**6)
            missing = set(acks.orders) - {o.ord_id for o in live}
            assert not missing, f"{len(missing)} acknowledged orders lost"
            frozen = ledger.balances(rt, owner)["USDT"].frozen
            assert frozen == sum(Decimal(o.frozen_amount) for o in live)
            assert frozen >= Decimal(len(acks.orders))  # each holds 1000 x 0.001 USDT
            used = key_service.get_key(rt, master["apiKey"]).last_used_ms
            assert used is not None
            lost_ms = acks.last_use_ms - used
            # one interval, plus the write that was under way (slow on a loaded machine)
            assert lost_ms <= (FLUSH_S + 1.0) * 1000, f"last-used lost {lost_ms} ms"
        finally:
            rt.close()
        assert integrity(db_url, home) == ["ok"]
        print(f"kill -9 x{KILLS} ({'postgresql' if db_url else 'sqlite'}): "
              f"{len(acks.keys)} keys and {len(acks.orders)} orders acknowledged, 0 lost; "
              f"{len(live)} live orders after restart; last-used behind by {lost_ms} ms")
    finally:
        stop_server(process)
