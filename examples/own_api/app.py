"""A team's own API behind Keyseal keys (library mode).

Keys are the ones Keyseal manages (``keyseal key create``, the dashboard, the OKX sub-account
endpoints); this app verifies their OKX V5 signatures itself, against the same store, with
Keyseal's gate: cache, change following, rate limits, last-used records.

Run it (the home of a ``keyseal serve``, or a PostgreSQL store via ``KEYSEAL_DB``)::

    pip install 'keyseal[library]' fastapi
    KEYSEAL_HOME=~/.keyseal uvicorn examples.own_api.app:app --port 8500
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, FastAPI, Request

from keyseal.library import Caller, KeysealAuth
from keyseal.library.fastapi import install, require_key

# KEYSEAL_HOME / KEYSEAL_DB choose the store, as for `keyseal serve`. The table covers
# whole prefixes; the routes below name their own permission with require_key.
auth = KeysealAuth(routes={"/api/v1/admin/*": "withdraw", "GET /health": None})
app = FastAPI(title="Own API behind Keyseal keys")
install(app, auth)  # the middleware (and its lifespan: change follower, usage writer)

Reader = Annotated[Caller, Depends(require_key("read"))]
Trader = Annotated[Caller, Depends(require_key("trade"))]


def ok(*rows: dict[str, Any]) -> dict[str, Any]:
    """OKX's envelope, so OKX clients (and keyseal.client) read the answers as they are."""
    return {"code": "0", "msg": "", "data": list(rows)}


@app.get("/health")
async def health() -> dict[str, Any]:
    return ok({"status": "up"})


@app.get("/api/v1/whoami")
async def whoami(caller: Reader) -> dict[str, Any]:
    return ok({"uid": caller.uid, "mainUid": caller.main_uid, "apiKey": caller.api_key,
               "label": caller.label, "perm": ",".join(caller.permissions),
               "environment": caller.environment.value, "ip": caller.client_ip})


@app.post("/api/v1/orders")
async def place_order(caller: Trader, request: Request) -> dict[str, Any]:
    order = await request.json()
    return ok({"uid": caller.uid, "instId": order.get("instId"), "sz": order.get("sz"),
               "state": "accepted"})


@app.post("/api/v1/admin/payouts")
async def payout(request: Request) -> dict[str, Any]:
    caller: Caller = request.state.keyseal  # the middleware's table verified it
    return ok({"uid": caller.uid, "state": "queued"})
