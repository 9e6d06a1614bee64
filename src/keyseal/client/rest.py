"""Sync and async REST clients for OKX V5 and any Keyseal server."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping
from types import TracebackType
from typing import Any, Self, TypeVar

import httpx

from keyseal.client import _endpoints as ep
from keyseal.client._protocol import DEFAULT_BASE_URL, Exchange, RestProtocol, Sleep
from keyseal.client.backoff import Backoff
from keyseal.client.clock import Clock, ClockReading, ServerClock
from keyseal.client.credentials import Credentials
from keyseal.client.models import AccountConfig, Balance, FundingBalance

T = TypeVar("T")
Body = Mapping[str, Any] | list[Any] | None

USER_AGENT = "keyseal-client/0.1"


def _order_fields(inst_id: str, td_mode: str, side: str, ord_type: str, sz: str,
                  px: str | None, cl_ord_id: str | None, extra: dict[str, Any]) -> dict[str, Any]:
    return {"instId": inst_id, "tdMode": td_mode, "side": side, "ordType": ord_type, "sz": sz,
            "px": px, "clOrdId": cl_ord_id, **extra}


def _withdraw_fields(ccy: str, amt: str, to_addr: str, chain: str | None, dest: str,
                     extra: dict[str, Any]) -> dict[str, Any]:
    return {"ccy": ccy, "amt": amt, "dest": dest, "toAddr": to_addr, "chain": chain, **extra}


class _Base:
    """Configuration shared by both clients; see ``Client`` for the parameters."""

    def __init__(self, credentials: Credentials | None, *, base_url: str, demo: bool,
                 clock: Clock, backoff: Backoff | None, auto_sync_clock: bool) -> None:
        self._protocol = RestProtocol(credentials, base_url=base_url, demo=demo,
                                      clock=ServerClock(clock), backoff=backoff,
                                      auto_sync_clock=auto_sync_clock)

    @property
    def base_url(self) -> str:
        return self._protocol.base_url

    @property
    def demo(self) -> bool:
        return self._protocol.demo

    @property
    def clock_offset(self) -> float:
        """Seconds added to the local clock when signing (server minus local)."""
        return self._protocol.clock.offset

    @property
    def server_reading(self) -> ClockReading | None:
        """The offset to the server from the last response's ``x-keyseal-server-time``
        header (a Keyseal server sends it on every response; OKX does not): ``None`` until
        one arrived."""
        return self._protocol.server_reading

    def __repr__(self) -> str:
        creds = self._protocol.credentials
        return (f"{type(self).__name__}(base_url={self.base_url!r}, demo={self.demo}, "
                f"credentials={creds!r})")


class Client(_Base):
    """A blocking client.

    ``credentials``: the key to sign with (``None`` for public endpoints only).
    ``base_url``: ``https://www.okx.com`` or a Keyseal server; ``demo`` sends
    ``x-simulated-trading: 1`` (else ``0``). ``clock`` returns epoch seconds and ``sleep``
    waits; both are injectable so tests skew time without waiting. ``backoff`` bounds the
    retries after 50011; ``auto_sync_clock`` measures the server clock after a 50102 and
    retries once with a fresh signature.
    """

    def __init__(self, credentials: Credentials | None = None, *,
                 base_url: str = DEFAULT_BASE_URL, demo: bool = False,
                 clock: Clock = time.time, sleep: Callable[[float], None] = time.sleep,
                 backoff: Backoff | None = None, auto_sync_clock: bool = True,
                 timeout: float = 10.0, transport: httpx.BaseTransport | None = None) -> None:
        super().__init__(credentials, base_url=base_url, demo=demo, clock=clock,
                         backoff=backoff, auto_sync_clock=auto_sync_clock)
        self._sleep = sleep
        self._http = httpx.Client(timeout=timeout, transport=transport,
                                  headers={"User-Agent": USER_AGENT})

    def _run(self, exchange: Exchange[T]) -> T:
        reply: httpx.Response | None = None
        try:
            while True:
                step = exchange.send(reply)
                reply = None
                if isinstance(step, Sleep):
                    self._sleep(step.seconds)
                else:
                    reply = self._http.request(step.method, step.url, headers=step.headers,
                                               content=step.content)
        except StopIteration as done:
            return done.value  # type: ignore[no-any-return]

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    # -- generic --------------------------------------------------------------------------

    def request(self, method: str, path: str, *, params: Mapping[str, Any] | None = None,
                body: Body = None, signed: bool = True) -> list[Any]:
        """``data`` of any endpoint; raises the typed ``OkxApiError`` for a refusal."""
        return self._run(self._protocol.call(method, path, params=params, body=body,
                                             signed=signed))

    def get(self, path: str, params: Mapping[str, Any] | None = None, *,
            signed: bool = True) -> list[Any]:
        return self.request("GET", path, params=params, signed=signed)

    def post(self, path: str, body: Body = None) -> list[Any]:
        return self.request("POST", path, body=body)

    def measure_clock(self) -> ClockReading:
        """Offset and round trip against ``/api/v5/public/time``, without applying it."""
        return self._run(self._protocol.measure_clock())

    def sync_clock(self) -> ClockReading:
        """Measure the offset to the server and sign with the corrected time from now on."""
        return self._run(self._protocol.sync_clock())

    # -- typed helpers ----------------------------------------------------------------------

    def server_time(self) -> float:
        return self._run(ep.server_time(self._protocol))

    def balance(self, ccy: str | None = None) -> Balance:
        return self._run(ep.balance(self._protocol, ccy))

    def account_config(self) -> AccountConfig:
        return self._run(ep.account_config(self._protocol))

    def asset_balances(self, ccy: str | None = None) -> list[FundingBalance]:
        return self._run(ep.asset_balances(self._protocol, ccy))

    def currencies(self, ccy: str | None = None) -> list[Any]:
        return self._run(ep.currencies(self._protocol, ccy))

    def instruments(self, inst_type: str = "SPOT", *, inst_id: str | None = None,
                    uly: str | None = None) -> list[Any]:
        return self._run(ep.instruments(self._protocol, inst_type, inst_id, uly))

    def place_order(self, inst_id: str, td_mode: str, side: str, ord_type: str, sz: str, *,
                    px: str | None = None, cl_ord_id: str | None = None,
                    **extra: Any) -> dict[str, Any]:
        """``POST /api/v5/trade/order``; ``extra`` takes OKX's field names (``posSide``…)."""
        fields = _order_fields(inst_id, td_mode, side, ord_type, sz, px, cl_ord_id, extra)
        return self._run(ep.place_order(self._protocol, fields))

    def cancel_order(self, inst_id: str, ord_id: str | None = None, *,
                     cl_ord_id: str | None = None) -> dict[str, Any]:
        return self._run(ep.cancel_order(self._protocol, inst_id, ord_id, cl_ord_id))

    def pending_orders(self, inst_type: str | None = None, inst_id: str | None = None,
                       **params: Any) -> list[Any]:
        query = {"instType": inst_type, "instId": inst_id, **params}
        return self._run(ep.pending_orders(self._protocol, query))

    def get_order(self, inst_id: str, ord_id: str | None = None, *,
                  cl_ord_id: str | None = None) -> dict[str, Any]:
        return self._run(ep.get_order(self._protocol, inst_id, ord_id, cl_ord_id))

    def withdraw(self, ccy: str, amt: str, to_addr: str, *, chain: str | None = None,
                 dest: str = "4", **extra: Any) -> dict[str, Any]:
        """``POST /api/v5/asset/withdrawal``; ``dest`` 4 is on-chain, 3 is internal."""
        fields = _withdraw_fields(ccy, amt, to_addr, chain, dest, extra)
        return self._run(ep.withdraw(self._protocol, fields))


class AsyncClient(_Base):
    """The ``asyncio`` twin of ``Client``: the same parameters, ``sleep`` is awaited."""

    def __init__(self, credentials: Credentials | None = None, *,
                 base_url: str = DEFAULT_BASE_URL, demo: bool = False,
                 clock: Clock = time.time,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
                 backoff: Backoff | None = None, auto_sync_clock: bool = True,
                 timeout: float = 10.0,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        super().__init__(credentials, base_url=base_url, demo=demo, clock=clock,
                         backoff=backoff, auto_sync_clock=auto_sync_clock)
        self._sleep = sleep
        self._http = httpx.AsyncClient(timeout=timeout, transport=transport,
                                       headers={"User-Agent": USER_AGENT})

    async def _run(self, exchange: Exchange[T]) -> T:
        reply: httpx.Response | None = None
        try:
            while True:
                step = exchange.send(reply)
                reply = None
                if isinstance(step, Sleep):
                    await self._sleep(step.seconds)
                else:
                    reply = await self._http.request(step.method, step.url,
                                                     headers=step.headers, content=step.content)
        except StopIteration as done:
            return done.value  # type: ignore[no-any-return]

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.aclose()

    async def request(self, method: str, path: str, *, params: Mapping[str, Any] | None = None,
                      body: Body = None, signed: bool = True) -> list[Any]:
        return await self._run(self._protocol.call(method, path, params=params, body=body,
                                                   signed=signed))

    async def get(self, path: str, params: Mapping[str, Any] | None = None, *,
                  signed: bool = True) -> list[Any]:
        return await self.request("GET", path, params=params, signed=signed)

    async def post(self, path: str, body: Body = None) -> list[Any]:
        return await self.request("POST", path, body=body)

    async def measure_clock(self) -> ClockReading:
        return await self._run(self._protocol.measure_clock())

    async def sync_clock(self) -> ClockReading:
        return await self._run(self._protocol.sync_clock())

    async def server_time(self) -> float:
        return await self._run(ep.server_time(self._protocol))

    async def balance(self, ccy: str | None = None) -> Balance:
        return await self._run(ep.balance(self._protocol, ccy))

    async def account_config(self) -> AccountConfig:
        return await self._run(ep.account_config(self._protocol))

    async def asset_balances(self, ccy: str | None = None) -> list[FundingBalance]:
        return await self._run(ep.asset_balances(self._protocol, ccy))

    async def currencies(self, ccy: str | None = None) -> list[Any]:
        return await self._run(ep.currencies(self._protocol, ccy))

    async def instruments(self, inst_type: str = "SPOT", *, inst_id: str | None = None,
                          uly: str | None = None) -> list[Any]:
        return await self._run(ep.instruments(self._protocol, inst_type, inst_id, uly))

    async def place_order(self, inst_id: str, td_mode: str, side: str, ord_type: str, sz: str,
                          *, px: str | None = None, cl_ord_id: str | None = None,
                          **extra: Any) -> dict[str, Any]:
        fields = _order_fields(inst_id, td_mode, side, ord_type, sz, px, cl_ord_id, extra)
        return await self._run(ep.place_order(self._protocol, fields))

    async def cancel_order(self, inst_id: str, ord_id: str | None = None, *,
                           cl_ord_id: str | None = None) -> dict[str, Any]:
        return await self._run(ep.cancel_order(self._protocol, inst_id, ord_id, cl_ord_id))

    async def pending_orders(self, inst_type: str | None = None, inst_id: str | None = None,
                             **params: Any) -> list[Any]:
        query = {"instType": inst_type, "instId": inst_id, **params}
        return await self._run(ep.pending_orders(self._protocol, query))

    async def get_order(self, inst_id: str, ord_id: str | None = None, *,
                        cl_ord_id: str | None = None) -> dict[str, Any]:
        return await self._run(ep.get_order(self._protocol, inst_id, ord_id, cl_ord_id))

    async def withdraw(self, ccy: str, amt: str, to_addr: str, *, chain: str | None = None,
                       dest: str = "4", **extra: Any) -> dict[str, Any]:
        fields = _withdraw_fields(ccy, amt, to_addr, chain, dest, extra)
        return await self._run(ep.withdraw(self._protocol, fields))
