"""The OpenAPI document, built from the route table (so it cannot drift from it): for each
endpoint its query parameters or body schema, the OKX envelope it answers with, every HTTP
status it can answer, and for private routes the four ``OK-ACCESS-*`` headers as one
security requirement (all four together, as OKX demands them).

What each route reads is written down here once, by OKX's names; ``tests/hardening`` checks
that every route of the table has its entry, so a new route cannot go undescribed."""

from __future__ import annotations

from typing import Any

from keyseal import __version__
from keyseal.http.routes import Route

_AUTH_HEADERS = ["OK-ACCESS-KEY", "OK-ACCESS-SIGN", "OK-ACCESS-TIMESTAMP", "OK-ACCESS-PASSPHRASE"]
_TEXT: dict[str, Any] = {"type": "string"}
_AMOUNT: dict[str, Any] = {"type": "string", "pattern": r"^[0-9]{1,40}(\.[0-9]{1,40})?$",
                           "description": "a plain ASCII decimal"}

#: the OKX envelope every answer has; ``explain`` and ``skewMs`` ride beside it on some
#: refusals (OKX clients ignore fields they do not know)
ENVELOPE: dict[str, Any] = {
    "type": "object", "required": ["code", "msg", "data"],
    "properties": {"code": {"type": "string", "pattern": "^[0-9]+$"}, "msg": _TEXT,
                   "data": {"type": "array"}, "skewMs": _TEXT, "explain": {"type": "object"}},
}


def _query(*names: str, required: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    return [{"name": name, "in": "query", "required": name in required, "schema": _TEXT}
            for name in names]


def _object(required: dict[str, Any], optional: dict[str, Any] | None = None
            ) -> dict[str, Any]:
    return {"type": "object", "required": list(required),
            "properties": {**required, **(optional or {})}}


_ORDER = _object(
    {"instId": _TEXT, "tdMode": {"enum": ["cash"]}, "side": {"enum": ["buy", "sell"]},
     "ordType": {"enum": ["limit", "market", "post_only", "fok", "ioc"]}, "sz": _AMOUNT},
    {"px": _AMOUNT, "clOrdId": _TEXT, "tag": _TEXT, "tgtCcy": {"enum": ["base_ccy",
                                                                         "quote_ccy"]}})
_SUB_KEY = {"subAcct": _TEXT, "apiKey": _TEXT}

#: (method, path) → {"query": [...]} or {"body": schema}
ROUTE_INPUTS: dict[tuple[str, str], dict[str, Any]] = {
    ("GET", "/api/v5/public/time"): {"query": []},
    ("GET", "/api/v5/public/instruments"): {
        "query": _query("instType", "instId", required=("instType",))},
    ("GET", "/api/v5/account/balance"): {"query": _query("ccy")},
    ("GET", "/api/v5/account/config"): {"query": []},
    ("GET", "/api/v5/asset/currencies"): {"query": _query("ccy")},
    ("GET", "/api/v5/asset/balances"): {"query": _query("ccy")},
    ("POST", "/api/v5/asset/withdrawal"): {"body": _object(
        {"ccy": _TEXT, "amt": _AMOUNT, "dest": {"enum": ["3", "4"]}, "toAddr": _TEXT},
        {"chain": _TEXT, "clientId": _TEXT})},
    ("POST", "/api/v5/trade/order"): {"body": _ORDER},
    ("POST", "/api/v5/trade/batch-orders"): {"body": {"type": "array", "items": _ORDER,
                                                      "minItems": 1, "maxItems": 20}},
    ("POST", "/api/v5/trade/cancel-order"): {"body": _object(
        {"instId": _TEXT}, {"ordId": _TEXT, "clOrdId": _TEXT})},
    ("GET", "/api/v5/trade/orders-pending"): {
        "query": _query("instType", "instId", "ordType", "limit")},
    ("GET", "/api/v5/trade/order"): {
        "query": _query("instId", "ordId", "clOrdId", required=("instId",))},
    ("GET", "/api/v5/users/subaccount/list"): {"query": _query("subAcct")},
    ("GET", "/api/v5/account/subaccount/balances"): {
        "query": _query("subAcct", required=("subAcct",))},
    ("POST", "/api/v5/asset/subaccount/transfer"): {"body": _object(
        {"ccy": _TEXT, "amt": _AMOUNT, "from": {"enum": ["6", "18"]},
         "to": {"enum": ["6", "18"]}, "fromSubAccount": _TEXT, "toSubAccount": _TEXT})},
    ("POST", "/api/v5/users/subaccount/apikey"): {"body": _object(
        {"subAcct": _TEXT, "label": _TEXT, "passphrase": _TEXT},
        {"perm": _TEXT, "ip": _TEXT})},
    ("GET", "/api/v5/users/subaccount/apikey"): {
        "query": _query("subAcct", "apiKey", required=("subAcct",))},
    ("POST", "/api/v5/users/subaccount/modify-apikey"): {"body": _object(
        _SUB_KEY, {"label": _TEXT, "perm": _TEXT, "ip": _TEXT})},
    ("POST", "/api/v5/users/subaccount/delete-apikey"): {"body": _object(_SUB_KEY)},
}

#: what any route may answer besides 200 (OKX answers most refusals with 200 and a code):
#: refusals of the HTTP layer before any route (docs/security.md) and of the body's size
_EVERY_ROUTE = {"400": "malformed request, ambiguous input (70016), JSON syntax (50002)",
                "405": "another method (50115)",
                "408": "headers or body not received in time (70050, 70051)",
                "413": "body over the limit (50002)", "414": "target too long (70053)",
                "429": "rate limit (50011)", "431": "headers too large (70052)",
                "503": "connection limit (50001)"}
_PRIVATE = {"401": "the gate refused the key, signature, timestamp or passphrase "
                   "(50101-50113)",
            "403": "the key must be bound to IPs (50035)",
            "429": "rate limit (50011) or guessing budget (70080, 70081)"}


def _responses(route: Route) -> dict[str, Any]:
    statuses = {"200": "success (code 0) or an OKX refusal with its code", **_EVERY_ROUTE}
    if route.guard is not None:
        statuses.update(_PRIVATE)
    envelope = {"application/json": {"schema": {"$ref": "#/components/schemas/Envelope"}}}
    return {status: {"description": why, "content": envelope}
            for status, why in sorted(statuses.items())}


def openapi_document(routes: list[Route]) -> dict[str, Any]:
    paths: dict[str, Any] = {}
    for route in routes:
        inputs = ROUTE_INPUTS.get((route.method, route.path), {"query": []})
        operation: dict[str, Any] = {
            "summary": route.summary,
            "operationId": f"{route.method.lower()}{route.path.replace('/', '_')}",
            "parameters": inputs.get("query", []),
            "responses": _responses(route),
        }
        if "body" in inputs:
            operation["requestBody"] = {"required": True, "content": {
                "application/json": {"schema": inputs["body"]}}}
        if route.guard is not None:
            operation["security"] = [{name: [] for name in _AUTH_HEADERS}]  # all four at once
            operation["x-okx-permission"] = route.guard.permission.wire().split(",")[-1]
            operation["x-rate-limit"] = (str(route.guard.rate) + " per account"
                                         if route.guard.rate is not None else
                                         "per account and instrument: see gate/order_limits.py")
        else:
            operation["security"] = []
            if route.public_rate is not None:
                operation["x-rate-limit"] = str(route.public_rate) + " per IP"
        paths.setdefault(route.path, {})[route.method.lower()] = operation
    schemes = {name: {"type": "apiKey", "in": "header", "name": name} for name in _AUTH_HEADERS}
    return {"openapi": "3.1.0",
            "info": {"title": "Keyseal (OKX V5 compatible)", "version": __version__},
            "paths": paths,
            "components": {"securitySchemes": schemes, "schemas": {"Envelope": ENVELOPE}}}
