"""A flood of random, well-formed key ids never reaches the key store: the gate keeps the set
of existing key ids, current through the change log. A key another process has just created
still works at once."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import pytest

from keyseal.clock import ManualClock
from keyseal.http.app import create_app
from keyseal.services import changes as change_service
from keyseal.services import keys as key_service
from keyseal.services.runtime import Runtime, open_runtime
from keyseal.settings import Settings
from tests.api.conftest import CLIENT_IP, Api
from tests.conftest import envelope, make_key

BALANCE = "/api/v5/account/balance"
FLOOD = 10_000


def counting(monkeypatch: pytest.MonkeyPatch, module: Any, name: str) -> list[object]:
    """Wrap ``module.name`` so each call is counted."""
    calls: list[object] = []
    real: Callable[..., Any] = getattr(module, name)

    def wrapper(*args: Any) -> Any:
        calls.append(args[1:])
        return real(*args)

    monkeypatch.setattr(module, name, wrapper)
    return calls


@pytest.fixture
async def serving(rt: Runtime) -> AsyncIterator[Api]:
    """This process's app, on SQLite and on PostgreSQL, and its manual clock."""
    app = create_app(rt)
    transport = httpx.ASGITransport(app=app, client=(CLIENT_IP, 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://keyseal.test") as client:
        assert isinstance(rt.clock, ManualClock)
        yield Api(app, client, rt, rt.clock)


async def test_ten_thousand_random_key_ids_cost_no_key_store_reads(
        serving: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    api = serving
    real = api.key()
    key_reads = counting(monkeypatch, key_service, "load_entry")
    log_reads = counting(monkeypatch, change_service, "read")
    codes: list[str] = []
    for _ in range(FLOOD // 1000):  # a thousand attackers at a time
        batch = [dict(real, apiKey=str(uuid.uuid4())) for _ in range(1000)]
        replies = await asyncio.gather(*(api.get(k, BALANCE) for k in batch))
        codes.extend(envelope(r)["code"] for r in replies)
    assert set(codes) == {"50111"} and len(codes) == FLOOD
    assert len(key_reads) == 0  # the old gate read the key store once per id: 10,000 reads
    assert len(log_reads) <= FLOOD // 1000  # at most one change-log catch-up per wave
    assert envelope(await api.get(real, BALANCE))["code"] == "0"
    assert len(key_reads) == 1


@pytest.fixture
def other_process(rt: Runtime, tmp_path: Path) -> Iterator[Runtime]:
    """Another process on the same database: its commits reach ours only through the log."""
    other = open_runtime(Settings(home=rt.settings.home, db_url=rt.settings.db_url),
                         clock=rt.clock)
    yield other
    other.close()


def creating_key_id(monkeypatch: pytest.MonkeyPatch, api_key: str) -> None:
    """The next key created in this test process gets ``api_key`` as its id."""
    monkeypatch.setattr(key_service, "uuid", SimpleNamespace(uuid4=lambda: uuid.UUID(api_key)))


async def test_a_key_created_by_another_process_is_accepted_at_once(
        serving: Api, other_process: Runtime) -> None:
    key = make_key(other_process)
    assert envelope(await serving.get(key, BALANCE))["code"] == "0"


async def test_an_id_probed_before_another_process_created_it_works_at_once(
        serving: Api, other_process: Runtime, monkeypatch: pytest.MonkeyPatch) -> None:
    existing = make_key(other_process)
    ghost = dict(existing, apiKey=str(uuid.uuid4()))
    assert envelope(await serving.get(ghost, BALANCE))["code"] == "50111"
    creating_key_id(monkeypatch, ghost["apiKey"])
    created = make_key(other_process)
    assert created["apiKey"] == ghost["apiKey"]
    assert envelope(await serving.get(created, BALANCE))["code"] == "0"  # no wait, no clock move
