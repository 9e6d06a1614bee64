"""The OpenAPI document, built from the route table (so it cannot drift from it)."""

from __future__ import annotations

from typing import Any

from keyseal import __version__
from keyseal.http.routes import Route

_AUTH_HEADERS = ["OK-ACCESS-KEY", "OK-ACCESS-SIGN", "OK-ACCESS-TIMESTAMP", "OK-ACCESS-PASSPHRASE"]


def openapi_document(routes: list[Route]) -> dict[str, Any]:
    paths: dict[str, Any] = {}
    for route in routes:
        operation: dict[str, Any] = {
            "summary": route.summary,
            "responses": {"200": {"description": 'OKX envelope {"code","msg","data"}'}},
        }
        if route.guard is not None:
            operation["security"] = [{name: []} for name in _AUTH_HEADERS]
            operation["x-okx-permission"] = route.guard.permission.wire().split(",")[-1]
            operation["x-rate-limit"] = (str(route.guard.rate) + " per account"
                                         if route.guard.rate is not None else
                                         "per account and instrument: see gate/order_limits.py")
        elif route.public_rate is not None:
            operation["x-rate-limit"] = str(route.public_rate) + " per IP"
        paths.setdefault(route.path, {})[route.method.lower()] = operation
    schemes = {name: {"type": "apiKey", "in": "header", "name": name} for name in _AUTH_HEADERS}
    return {"openapi": "3.1.0",
            "info": {"title": "Keyseal (OKX V5 compatible)", "version": __version__},
            "paths": paths, "components": {"securitySchemes": schemes}}
