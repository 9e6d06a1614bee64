"""Library mode's cost per request, next to the same app with no auth, in one run.

In-process ASGI calls (no sockets, no HTTP parsing, no client), so what is measured is
what Keyseal adds to a request: reading the headers, the gate on a warm cache (HMAC of the
prehash, the fast passphrase check, permission, a GCRA rate-limit hit, the usage record),
handing on the ``Caller``. Four apps answer the same signed ``GET /orders?instId=BTC-USDT``:

1. a bare ASGI app, and the same app behind ``KeysealMiddleware`` (a ``routes=`` table);
2. a FastAPI route, the same route with a no-op dependency (what FastAPI's dependency
   machinery costs by itself) and with ``Depends(require_key("read"))``.

Run: ``.venv/bin/python benchmarks/library_mode.py [--requests N] [--json]``. Figures vary
with the machine; the ratios are what to compare. Nothing here gates CI.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Annotated, Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fastapi import Depends, FastAPI  # noqa: E402
from tests.conftest import make_key  # noqa: E402

from keyseal.clock import ManualClock  # noqa: E402
from keyseal.library import Access, Caller, KeysealAuth, KeysealMiddleware, Permission, Rate  # noqa: E402
from keyseal.library.fastapi import install, require_key  # noqa: E402
from keyseal.services.runtime import open_runtime  # noqa: E402
from keyseal.settings import Settings  # noqa: E402
from keyseal.signing import format_timestamp, sign_request  # noqa: E402

TARGET = "/orders?instId=BTC-USDT"
#: high enough never to refuse, so every request still pays for its rate-limit check
UNLIMITED = Rate(1_000_000_000, 1.0)
BODY = b'{"code":"0","msg":"","data":[]}'


async def bare(scope: Any, receive: Any, send: Any) -> None:
    await receive()
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": BODY})


async def nobody() -> str:
    return "nobody"


def fastapi_app(auth: KeysealAuth | None, *, noop_dependency: bool = False) -> FastAPI:
    app = FastAPI()
    if auth is None and not noop_dependency:
        @app.get("/orders")
        async def orders(instId: str) -> dict[str, Any]:  # noqa: N803 - OKX's name
            return {"code": "0", "msg": "", "data": []}
    elif auth is None:
        @app.get("/orders")
        async def orders_noop(instId: str,  # noqa: N803
                              who: Annotated[str, Depends(nobody)]) -> dict[str, Any]:
            return {"code": "0", "msg": "", "data": []}
    else:
        install(app, auth)

        @app.get("/orders")
        async def orders_signed(instId: str,  # noqa: N803
                                caller: Annotated[Caller, Depends(require_key("read", rate=UNLIMITED))]
                                ) -> dict[str, Any]:
            return {"code": "0", "msg": "", "data": []}
    return app


def signed_scope(key: dict[str, str], now: float) -> dict[str, Any]:
    ts = format_timestamp(now)
    headers = {"ok-access-key": key["apiKey"], "ok-access-timestamp": ts,
               "ok-access-sign": sign_request(key["secretKey"], ts, "GET", TARGET, ""),
               "ok-access-passphrase": key["passphrase"], "host": "own.test",
               "user-agent": "bench", "accept": "*/*"}
    path, _, query = TARGET.partition("?")
    return {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
            "method": "GET", "scheme": "http", "path": path, "raw_path": path.encode(),
            "query_string": query.encode(), "root_path": "", "server": ("own.test", 80),
            "client": ("127.0.0.1", 50000),
            "headers": [(k.encode(), v.encode()) for k, v in headers.items()]}


async def per_request_us(app: Any, scope: dict[str, Any], count: int, rounds: int = 5) -> float:
    """Microseconds per request of the fastest of several rounds (the least disturbed)."""
    statuses: list[int] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            statuses.append(message["status"])

    await app(dict(scope), receive, send)  # warm: the key is loaded, the passphrase accepted
    assert statuses == [200], statuses
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(count):
            await app(dict(scope), receive, send)
        best = min(best, time.perf_counter() - start)
    assert set(statuses) == {200}, set(statuses)
    return best / count * 1e6


async def measure(count: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as home:
        clock = ManualClock(time.time())  # the signature stays fresh however long this runs
        rt = open_runtime(Settings(home=Path(home)), clock=clock)
        try:
            key = make_key(rt)
            scope = signed_scope(key, clock())
            table = KeysealAuth(rt, routes={"GET /orders": Access(Permission.READ, UNLIMITED)})
            dependency = KeysealAuth(rt)
            return {
                "bare_asgi_us": await per_request_us(bare, scope, count),
                "middleware_us": await per_request_us(KeysealMiddleware(bare, table), scope, count),
                "fastapi_us": await per_request_us(fastapi_app(None), scope, count // 4),
                "fastapi_noop_dependency_us": await per_request_us(
                    fastapi_app(None, noop_dependency=True), scope, count // 4),
                "fastapi_require_key_us": await per_request_us(fastapi_app(dependency), scope,
                                                               count // 4),
            }
        finally:
            rt.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    figures = asyncio.run(measure(args.requests))
    if args.json:
        print(json.dumps({name: round(value, 2) for name, value in figures.items()}))
        return
    rows = [("bare ASGI app, no auth", figures["bare_asgi_us"], None),
            ("  + KeysealMiddleware (routes table)", figures["middleware_us"],
             figures["bare_asgi_us"]),
            ("FastAPI route, no auth", figures["fastapi_us"], None),
            ("  + a no-op async dependency (FastAPI's own)", figures["fastapi_noop_dependency_us"],
             figures["fastapi_us"]),
            ("  + Depends(require_key('read'))", figures["fastapi_require_key_us"],
             figures["fastapi_us"])]
    print("in-process ASGI calls, warm key cache, best of 5 rounds")
    for name, us, baseline in rows:
        extra = "" if baseline is None else (
            f"   {us / baseline:5.2f}× the same app, +{us - baseline:6.1f} µs")
        print(f"  {name:46} {us:8.1f} µs/request{extra}")


if __name__ == "__main__":
    main()
