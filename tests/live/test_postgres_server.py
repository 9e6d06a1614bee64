"""``keyseal serve --db postgresql://...``: the same server and CLI on the multi-node store."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest

from keyseal.services.runtime import open_runtime
from keyseal.settings import Settings
from tests.conftest import KEYSEAL, make_key, signed_headers, start_server, stop_server

BALANCE = "/api/v5/account/balance"


def test_serve_on_postgresql_and_follow_cli_changes(db_url: str, tmp_path: Path) -> None:
    if not db_url.startswith("postgresql"):
        pytest.skip("this test is about the PostgreSQL store")
    import subprocess

    home = tmp_path / "home"
    home.mkdir()
    rt = open_runtime(Settings(home=home, db_url=db_url))
    try:
        key = make_key(rt, credit={"USDT": "5"})
    finally:
        rt.close()
    process, url = start_server(home, "--db", db_url)
    try:
        response = httpx.get(url + BALANCE, headers=signed_headers(key, "GET", BALANCE))
        details = response.json()["data"][0]["details"]
        assert [(d["ccy"], d["cashBal"]) for d in details] == [("USDT", "5")]
        subprocess.run([KEYSEAL, "key", "disable", key["apiKey"], "--home", str(home),
                        "--db", db_url], check=True, capture_output=True, timeout=60)
        for _ in range(500):  # 10 s or more: only so a broken server cannot hang the suite
            code = httpx.get(url + BALANCE, headers=signed_headers(key, "GET", BALANCE)
                             ).json()["code"]
            if code == "50100":
                break
            time.sleep(0.02)
        assert code == "50100"  # how fast: benchmarks/propagation.py
    finally:
        stop_server(process)
