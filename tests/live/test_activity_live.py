"""A real ``keyseal serve``: signed requests, let through and refused, show in ``keyseal key
usage`` by code once the server's usage writer has run (about once a second), and at the
latest when the server stops."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import httpx

from keyseal.domain.actors import OPERATOR
from keyseal.services import activity as activity_service
from keyseal.services.runtime import open_runtime
from keyseal.settings import Settings
from tests.conftest import (
    LiveServer,
    envelope,
    make_key,
    signed_headers,
    start_server,
    stop_server,
)

BALANCE = "/api/v5/account/balance"
ORDER = "/api/v5/trade/order"
ORDER_BODY = '{"instId":"BTC-USDT","tdMode":"cash","side":"buy","ordType":"limit","sz":"0.01","px":"100"}'


def _send(url: str, key: dict[str, str]) -> list[str]:
    """Three good reads, two bad signatures, a wrong passphrase, an order without the trade
    permission, a live key sent to demo trading."""
    sent = [httpx.get(url + BALANCE, headers=signed_headers(key, "GET", BALANCE))
            for _ in range(3)]
    sent += [httpx.get(url + BALANCE, headers=signed_headers(key, "GET", BALANCE,
                                                             secret="0" * 32)) for _ in range(2)]
    sent.append(httpx.get(url + BALANCE, headers=signed_headers(
        key, "GET", BALANCE, passphrase="Wrong-Pass1")))
    sent.append(httpx.post(url + ORDER, content=ORDER_BODY, headers=signed_headers(
        key, "POST", ORDER, ORDER_BODY)))
    sent.append(httpx.get(url + BALANCE, headers=signed_headers(key, "GET", BALANCE, demo=True)))
    return [envelope(response)["code"] for response in sent]


EXPECTED = {"ok": 3, "refusals": {"50101": 1, "50105": 1, "50113": 2, "50120": 1}, "total": 8}


def _today(rows: list[dict[str, Any]]) -> dict[str, Any]:
    return {name: rows[-1][name] for name in ("ok", "refusals", "total")}


def test_the_cli_shows_what_the_server_counted(live_server: LiveServer) -> None:
    key = live_server.new_key()
    codes = _send(live_server.url, key)
    assert sorted(codes) == ["0", "0", "0", "50101", "50105", "50113", "50113", "50120"]
    for _ in range(500):  # the writer runs about once a second; this only bounds a hang
        shown = json.loads(live_server.cli("key", "usage", key["apiKey"], "--json").stdout)
        if _today(shown) == EXPECTED:
            break
        assert shown[-1]["total"] <= 8  # never counted twice on the way
        time.sleep(0.05)  # polling a real process; there is no clock to inject here
    else:
        raise AssertionError(f"the counts never showed: {shown[-1]}")
    assert len(shown) == 30 and sum(day["total"] for day in shown) == 8
    week = json.loads(live_server.cli("key", "usage", key["apiKey"], "--days", "7",
                                      "--json").stdout)
    assert len(week) == 7 and _today(week) == EXPECTED
    table = live_server.cli("key", "usage", key["apiKey"]).stdout
    header, *rows = table.splitlines()
    assert header.split("\t") == ["day", "total", "ok", "50101", "50105", "50113", "50120"]
    assert len(rows) == 30 and rows[-1].split("\t")[1:] == ["8", "3", "1", "1", "2", "1"]
    assert rows[0].split("\t")[1:] == ["0", "0", "0", "0", "0", "0"]


def test_a_stopping_server_writes_what_it_counted(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    rt = open_runtime(Settings(home=home))
    try:
        key = make_key(rt)
        process, url = start_server(home)
        try:
            _send(url, key)
        finally:
            stop_server(process)  # the shutdown flush writes the rest
        today = activity_service.requests_per_day(rt, OPERATOR, key["apiKey"])[-1]
        assert (today.ok, dict(today.refusals)) == (3, EXPECTED["refusals"])
    finally:
        rt.close()
