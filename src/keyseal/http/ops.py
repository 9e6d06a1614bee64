"""The operator's endpoints beside the OKX routes: ``/healthz`` (the process is serving:
always 200), ``/readyz`` (it can serve: database, migrations, master key; else 503 with
70075 naming what fails) and ``/metrics`` (Prometheus text)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from keyseal import errors
from keyseal.http import envelope
from keyseal.http.metrics import CONTENT_TYPE, RequestCounts, exposition
from keyseal.http.state import ServerState
from keyseal.services.health import readiness

JSON = b"application/json"
#: a database that does not answer in this time is reported as not reachable
READY_TIMEOUT_S = 5.0
Handler = Callable[[], Awaitable[tuple[int, bytes, bytes]]]


def ops_routes(state: ServerState, counts: RequestCounts) -> dict[str, Handler]:
    async def healthz() -> tuple[int, bytes, bytes]:
        return 200, envelope.encode("0", "", [{"status": "alive"}]), JSON

    async def readyz() -> tuple[int, bytes, bytes]:
        try:
            checks = await asyncio.wait_for(asyncio.to_thread(readiness, state.rt),
                                            READY_TIMEOUT_S)
            rows: list[dict[str, Any]] = [
                {"check": c.name, "ok": c.ok, **({"detail": c.detail} if c.detail else {})}
                for c in checks]
        except TimeoutError:
            rows = [{"check": "database", "ok": False,
                     "detail": f"no answer within {READY_TIMEOUT_S:g} s"}]
        failing = [row["check"] for row in rows if not row["ok"]]
        if not failing:
            return 200, envelope.encode("0", "", rows), JSON
        refusal = errors.NOT_READY(", ".join(failing) + " failing")
        return refusal.http_status, envelope.encode(refusal.code, refusal.message, rows), JSON

    async def metrics() -> tuple[int, bytes, bytes]:
        return 200, exposition(state, counts), CONTENT_TYPE

    return {"/healthz": healthz, "/readyz": readyz, "/metrics": metrics}
