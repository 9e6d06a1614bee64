"""Helpers for the compatibility suite: real ccxt / python-okx against `keyseal serve`.

Everything here drives the *real* client libraries; the only thing we touch is the base URL
(and, for python-okx's WebSocket, its transport — see ``plain_ws_transport``).

Rate limits are on in the server, so:

* markets are loaded ONCE per session (``okx_markets``) and handed to every other ccxt instance
  with ``set_markets(markets, currencies)`` — ccxt's ``load_markets`` costs 5 public instruments
  calls (20 per 2 s per IP on the server);
* every test that changes balances uses a fresh account, so per-account limits never carry over
  between tests;
* ccxt's own rate limiter stays on (``enableRateLimit``).
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import ccxt
import ccxt.async_support as ccxt_async

BTC_ADDRESS = "bc1qxy2kgdygjrsqtzq2n0yrf2493p83kkfjhx0wlh"
ALL_PERMS = "read_only,trade,withdraw"
TRADE_PERMS = "read_only,trade"


# ---------------------------------------------------------------------------------------------
# small pure helpers
# ---------------------------------------------------------------------------------------------


def D(value: Any) -> Decimal:
    """Exact decimal of a client-returned number (ccxt returns floats, python-okx strings)."""
    if value is None or value == "":
        return Decimal(0)
    return Decimal(str(value))


def okx_error(exc: BaseException) -> dict:
    """The OKX envelope ccxt embeds in its exception text (``"okx {json body}"``)."""
    text = str(exc)
    start = text.find("{")
    assert start >= 0, f"no OKX body in ccxt error: {text!r}"
    return json.loads(text[start:])


def okx_code(exc: BaseException) -> str:
    """The OKX ``code`` (or the first ``sCode`` for per-item failures) behind a ccxt error."""
    body = okx_error(exc)
    code = str(body.get("code"))
    if code in ("1", "2"):
        for item in body.get("data") or []:
            if isinstance(item, dict) and item.get("sCode") not in (None, "", "0"):
                return str(item["sCode"])
    return code


def perm_set(perm: str) -> set[str]:
    return {p.strip() for p in perm.split(",") if p.strip()}


def ccxt_balance(balance: dict, ccy: str) -> tuple[Decimal, Decimal, Decimal]:
    """(free, used, total) of one currency in a ccxt balance structure; zeros if absent."""
    entry = balance.get(ccy) or {}
    return D(entry.get("free")), D(entry.get("used")), D(entry.get("total"))


def okx_details(response: dict) -> dict[str, dict]:
    """``{ccy: detail}`` from an OKX ``/api/v5/account/balance`` response."""
    assert response["code"] == "0", response
    data = response["data"]
    assert len(data) == 1, response
    return {d["ccy"]: d for d in data[0]["details"]}


def chain_fee(currencies_rows: list[dict], chain: str) -> Decimal:
    """The withdrawal fee OKX advertises for ``chain`` in ``/api/v5/asset/currencies`` rows."""
    for row in currencies_rows:
        if row.get("chain") == chain:
            return D(row.get("fee") or row.get("minFee") or "0")
    raise AssertionError(f"chain {chain!r} not listed in {currencies_rows!r}")


# ---------------------------------------------------------------------------------------------
# ccxt construction
# ---------------------------------------------------------------------------------------------


@dataclass
class MarketCache:
    markets: dict
    currencies: dict


def _ccxt_config(key: dict, extra: dict | None) -> dict:
    config: dict[str, Any] = {
        "apiKey": key["apiKey"],
        "secret": key["secretKey"],
        "password": key["passphrase"],
        "enableRateLimit": True,
        "timeout": 20000,
    }
    for name, value in (extra or {}).items():
        if name == "options":
            config["options"] = dict(value)
        else:
            config[name] = value
    return config


def _point_at(ex: Any, base_url: str, sandbox: bool, cache: MarketCache | None) -> Any:
    if sandbox:
        # set_sandbox_mode replaces urls['api'] with urls['test'] -> override AFTER it.
        ex.set_sandbox_mode(True)
    ex.urls["api"]["rest"] = base_url
    if cache is not None:
        ex.set_markets(copy.deepcopy(cache.markets), copy.deepcopy(cache.currencies))
    return ex


def make_ccxt(
    base_url: str,
    key: dict,
    cache: MarketCache | None,
    *,
    sandbox: bool = False,
    **extra: Any,
) -> ccxt.okx:
    """A sync ccxt okx instance for ``key`` aimed at the live server, with cached markets."""
    return _point_at(ccxt.okx(_ccxt_config(key, extra)), base_url, sandbox, cache)


def make_ccxt_async(
    base_url: str,
    key: dict,
    cache: MarketCache | None,
    *,
    sandbox: bool = False,
    **extra: Any,
) -> ccxt_async.okx:
    return _point_at(ccxt_async.okx(_ccxt_config(key, extra)), base_url, sandbox, cache)


def with_secret(key: dict, **changes: str) -> dict:
    """A copy of a key dict with some credentials replaced (wrong secret / passphrase ...)."""
    new = dict(key)
    new.update(changes)
    return new
