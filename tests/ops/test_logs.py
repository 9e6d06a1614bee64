"""``--log-format json``: every line a JSON object; ``--access-log``: one line per request,
without a signature, a passphrase or a query."""

from __future__ import annotations

import json

import httpx

from keyseal.services.runtime import Runtime
from tests.conftest import PASSPHRASE, make_key, signed_headers

BALANCE = "/api/v5/account/balance"


def test_json_lines_and_the_access_log(serve, home_rt: Runtime) -> None:  # type: ignore[no-untyped-def]
    key = make_key(home_rt, credit={"USDT": "5"})
    served = serve("--log-format", "json", "--access-log")
    target = BALANCE + "?ccy=USDT"
    headers = signed_headers(key, "GET", target)
    assert httpx.get(served.url + target, headers=headers).json()["code"] == "0"
    served.wait_for_log('"route":"/api/v5/account/balance"')
    records = [json.loads(line) for line in served.log.splitlines()]  # every line JSON
    assert any(r["logger"] == "keyseal.start" and r["msg"].startswith("Keyseal listening on")
               for r in records)
    assert all({"ts", "level", "logger", "msg"} <= set(r) for r in records)
    access = [r for r in records if r["logger"] == "keyseal.access"]
    balance = next(r for r in access if r["route"] == BALANCE)
    assert balance["status"] == 200 and balance["code"] == "0" and balance["client"] == "127.0.0.1"
    assert balance["method"] == "GET" and balance["ms"] > 0
    text = served.log
    for secret in (key["secretKey"], PASSPHRASE, headers["OK-ACCESS-SIGN"], "ccy=USDT"):
        assert secret not in text


def test_no_access_log_unless_asked(serve) -> None:  # type: ignore[no-untyped-def]
    served = serve("--log-format", "json", "--log-level", "info")
    httpx.get(served.url + "/api/v5/public/time")
    served.wait_for_log("Application startup complete")
    assert "keyseal.access" not in served.log
