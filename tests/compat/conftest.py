"""Fixtures for the compatibility suite: real ccxt / python-okx against `keyseal serve`.

Rate limits are on in the server, so markets are loaded ONCE per session (``okx_markets``) and
handed to every other ccxt instance; tests that move balances use fresh accounts.
Helpers live in ``_support.py``.
"""

from __future__ import annotations

import copy
from typing import Any

import ccxt
import ccxt.async_support as ccxt_async
import pytest

from ._support import MarketCache, make_ccxt, make_ccxt_async

# ---------------------------------------------------------------------------------------------
# fixtures
# ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def markets_loader(live_server):
    """The one sync ccxt instance that loads markets from scratch, with the key it used."""
    key = live_server.new_key(perm="read_only")
    ex = make_ccxt(live_server.url, key, None)
    ex.load_markets()
    return ex


@pytest.fixture(scope="session")
def okx_markets(markets_loader) -> MarketCache:
    """Markets and currencies as ccxt parsed them from the server, loaded once per session."""
    return MarketCache(
        markets=copy.deepcopy(dict(markets_loader.markets)),
        currencies=copy.deepcopy(dict(markets_loader.currencies)),
    )


@pytest.fixture
def ccxt_factory(live_server, okx_markets):
    """``make(key, sandbox=False, **config)`` -> sync ccxt okx with markets preloaded."""

    made: list[ccxt.okx] = []

    def make(key: dict, *, sandbox: bool = False, markets: bool = True, **extra: Any) -> ccxt.okx:
        ex = make_ccxt(live_server.url, key, okx_markets if markets else None, sandbox=sandbox, **extra)
        made.append(ex)
        return ex

    yield make
    for ex in made:
        session = getattr(ex, "session", None)
        if session is not None:
            session.close()


@pytest.fixture
async def ccxt_async_factory(live_server, okx_markets):
    """Async twin of ``ccxt_factory``; every instance is closed at teardown."""

    made: list[ccxt_async.okx] = []

    def make(key: dict, *, sandbox: bool = False, markets: bool = True, **extra: Any) -> ccxt_async.okx:
        ex = make_ccxt_async(live_server.url, key, okx_markets if markets else None, sandbox=sandbox, **extra)
        made.append(ex)
        return ex

    yield make
    for ex in made:
        await ex.close()


@pytest.fixture
def okx_sdk(live_server):
    """``okx_sdk(module_cls, key, flag='0')`` -> a python-okx API object aimed at the server.

    ``module_cls`` is e.g. ``okx.Account.AccountAPI``. httpx clients, closed at teardown.
    """

    made: list[Any] = []

    def make(cls: type, key: dict, flag: str = "0") -> Any:
        api = cls(
            key["apiKey"],
            key["secretKey"],
            key["passphrase"],
            False,
            flag=flag,
            domain=live_server.url,
            debug=False,
        )
        made.append(api)
        return api

    yield make
    for api in made:
        api.close()


@pytest.fixture
def plain_ws_transport(monkeypatch):
    """Let python-okx's WebSocket factory speak ws:// to the local server.

    ``okx.websocket.WebSocketFactory.WebSocketFactory.connect`` always passes an SSL context,
    which ``websockets`` refuses for a ``ws://`` URL (the factory then logs the error and leaves
    ``websocket = None``). We replace only that transport call with a plain
    ``websockets.connect(self.url)``; login framing, signing and timestamps stay python-okx's own.
    """
    import websockets
    from okx.websocket import WebSocketFactory as factory_module

    async def connect(self):  # same contract as the original: set and return the socket
        self.websocket = await websockets.connect(self.url)
        return self.websocket

    monkeypatch.setattr(factory_module.WebSocketFactory, "connect", connect)
    return connect
