"""The typed helpers, written once as exchanges that both clients drive."""

from __future__ import annotations

from typing import Any

from keyseal.client._protocol import (
    SERVER_TIME_PATH,
    Exchange,
    RestProtocol,
    parse_server_time,
)
from keyseal.client.errors import UnexpectedResponse
from keyseal.client.models import AccountConfig, Balance, FundingBalance


def _first(data: list[Any], request: str) -> dict[str, Any]:
    if not data or not isinstance(data[0], dict):
        raise UnexpectedResponse("0", "success without data", request=request)
    return data[0]


def _order_ref(ord_id: str | None, cl_ord_id: str | None) -> dict[str, str]:
    if not ord_id and not cl_ord_id:
        raise ValueError("give ord_id or cl_ord_id")
    return {k: v for k, v in (("ordId", ord_id), ("clOrdId", cl_ord_id)) if v}


def _without_none(fields: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in fields.items() if v is not None}


def server_time(p: RestProtocol) -> Exchange[float]:
    data = yield from p.call("GET", SERVER_TIME_PATH, signed=False)
    return parse_server_time(data)


def balance(p: RestProtocol, ccy: str | None) -> Exchange[Balance]:
    data = yield from p.call("GET", "/api/v5/account/balance", params={"ccy": ccy})
    return Balance.from_okx(_first(data, "GET /api/v5/account/balance"))


def account_config(p: RestProtocol) -> Exchange[AccountConfig]:
    data = yield from p.call("GET", "/api/v5/account/config")
    return AccountConfig.from_okx(_first(data, "GET /api/v5/account/config"))


def asset_balances(p: RestProtocol, ccy: str | None) -> Exchange[list[FundingBalance]]:
    data = yield from p.call("GET", "/api/v5/asset/balances", params={"ccy": ccy})
    return [FundingBalance.from_okx(item) for item in data]


def currencies(p: RestProtocol, ccy: str | None) -> Exchange[list[Any]]:
    return (yield from p.call("GET", "/api/v5/asset/currencies", params={"ccy": ccy}))


def instruments(p: RestProtocol, inst_type: str, inst_id: str | None,
                uly: str | None) -> Exchange[list[Any]]:
    params = {"instType": inst_type, "uly": uly, "instId": inst_id}
    return (yield from p.call("GET", "/api/v5/public/instruments", params=params, signed=False))


def place_order(p: RestProtocol, fields: dict[str, Any]) -> Exchange[dict[str, Any]]:
    data = yield from p.call("POST", "/api/v5/trade/order", body=_without_none(fields))
    return _first(data, "POST /api/v5/trade/order")


def cancel_order(p: RestProtocol, inst_id: str, ord_id: str | None,
                 cl_ord_id: str | None) -> Exchange[dict[str, Any]]:
    body = {"instId": inst_id, **_order_ref(ord_id, cl_ord_id)}
    data = yield from p.call("POST", "/api/v5/trade/cancel-order", body=body)
    return _first(data, "POST /api/v5/trade/cancel-order")


def pending_orders(p: RestProtocol, params: dict[str, Any]) -> Exchange[list[Any]]:
    return (yield from p.call("GET", "/api/v5/trade/orders-pending", params=params))


def get_order(p: RestProtocol, inst_id: str, ord_id: str | None,
              cl_ord_id: str | None) -> Exchange[dict[str, Any]]:
    params = {"instId": inst_id, **_order_ref(ord_id, cl_ord_id)}
    data = yield from p.call("GET", "/api/v5/trade/order", params=params)
    return _first(data, "GET /api/v5/trade/order")


def withdraw(p: RestProtocol, fields: dict[str, Any]) -> Exchange[dict[str, Any]]:
    data = yield from p.call("POST", "/api/v5/asset/withdrawal", body=_without_none(fields))
    return _first(data, "POST /api/v5/asset/withdrawal")
