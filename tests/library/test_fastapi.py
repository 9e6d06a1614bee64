"""``require_key`` as a FastAPI dependency and ``verified_caller`` in a Starlette endpoint:
the same gate as the middleware, refusals rendered as OKX envelopes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Any

import pytest
from fastapi import Depends, FastAPI
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from keyseal.clock import ManualClock
from keyseal.library import Caller, KeysealAuth, Rate
from keyseal.library.fastapi import install, require_key
from keyseal.library.starlette import verified_caller
from keyseal.services.runtime import Runtime
from tests.conftest import envelope
from tests.library.conftest import Own, client_for

pytestmark = pytest.mark.asyncio


def fastapi_app(auth: KeysealAuth) -> FastAPI:
    app = FastAPI()
    install(app, auth)

    @app.get("/balance")
    async def balance(caller: Annotated[Caller, Depends(require_key("read"))]) -> dict[str, Any]:
        return {"code": "0", "msg": "", "data": [{"uid": caller.uid, "key": caller.api_key}]}

    @app.post("/orders/{inst_id}")
    async def order(inst_id: str, request: Request,
                    caller: Annotated[Caller, Depends(require_key("trade", rate=Rate(1, 10)))]
                    ) -> dict[str, Any]:
        return {"code": "0", "msg": "", "data": [{"instId": inst_id, "uid": caller.uid,
                                                  "body": (await request.body()).decode()}]}

    @app.get("/admin/report")  # the middleware's table verified it; the dependency checks
    async def report(caller: Annotated[Caller, Depends(require_key("trade"))]) -> dict[str, Any]:
        return {"code": "0", "msg": "", "data": [{"uid": caller.uid}]}

    return app


@pytest.fixture
async def api(sqlite_rt: Runtime, clock: ManualClock) -> AsyncIterator[Own]:
    auth = KeysealAuth(sqlite_rt, routes={"/admin/*": "read"})
    async with client_for(fastapi_app(auth)) as client:
        yield Own(auth, client, sqlite_rt, clock)


async def test_require_key_gives_the_handler_its_caller(api: Own) -> None:
    email, uid = api.account()
    key = api.key(email)
    reply = await api.get(key, "/balance")
    assert reply.status_code == 200, reply.text
    assert envelope(reply)["data"] == [{"uid": uid, "key": key["apiKey"]}]


async def test_require_key_refusals_are_okx_envelopes(api: Own) -> None:
    key = api.key()
    wrong = await api.get(key, "/balance", secret="not-the-secret")
    assert wrong.status_code == 401 and envelope(wrong)["code"] == "50113"
    read_only = await api.post(key, "/orders/BTC-USDT", "{}")
    assert envelope(read_only)["code"] == "50120"
    missing = await api.client.get("/balance")
    assert missing.status_code == 401 and envelope(missing)["code"] == "50103"


async def test_the_signed_body_still_reaches_the_handler(api: Own) -> None:
    key = api.key(perm="read_only,trade")
    reply = await api.post(key, "/orders/BTC-USDT", '{"sz":"1"}')
    assert envelope(reply)["data"][0] == {"instId": "BTC-USDT", "uid": reply.json()["data"][0]["uid"],
                                          "body": '{"sz":"1"}'}


async def test_a_route_with_path_parameters_is_one_rate_limit(api: Own) -> None:
    key = api.key(perm="read_only,trade")
    assert (await api.post(key, "/orders/BTC-USDT", "{}")).status_code == 200
    second = await api.post(key, "/orders/ETH-USDT", "{}")
    assert second.status_code == 429 and envelope(second)["code"] == "50011"


async def test_the_dependency_checks_the_permission_of_a_caller_the_table_verified(
        api: Own) -> None:
    reader, trader = api.key(), api.key(perm="read_only,trade")
    assert envelope(await api.get(reader, "/admin/report"))["code"] == "50120"
    assert (await api.get(trader, "/admin/report")).status_code == 200


async def test_verified_caller_in_a_starlette_endpoint(sqlite_rt: Runtime,
                                                       clock: ManualClock) -> None:
    auth = KeysealAuth(sqlite_rt)

    async def whoami(request: Request) -> JSONResponse:
        caller = await verified_caller(request, "read")
        return JSONResponse({"code": "0", "msg": "", "data": [{"key": caller.api_key}]})

    app = Starlette(routes=[Route("/whoami", whoami)])
    install(app, auth)
    async with client_for(app) as client:
        own = Own(auth, client, sqlite_rt, clock)
        key = own.key()
        assert envelope(await own.get(key, "/whoami"))["data"] == [{"key": key["apiKey"]}]
        assert envelope(await own.get(key, "/whoami", passphrase="wrong-pass1"))["code"] == "50105"


async def test_require_key_without_keyseal_installed_says_what_is_missing(
        sqlite_rt: Runtime, clock: ManualClock) -> None:
    app = FastAPI()

    @app.get("/balance")
    async def balance(caller: Annotated[Caller, Depends(require_key("read"))]) -> str:
        return caller.uid

    async with client_for(app) as client:
        with pytest.raises(RuntimeError, match="install KeysealMiddleware"):
            await client.get("/balance")
