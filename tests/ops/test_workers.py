"""``keyseal serve --workers N``: N processes on one port, each answering; SIGTERM to the
parent stops them all; a worker that dies is replaced."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import uuid
from pathlib import Path

import httpx
import pytest

from keyseal.services.runtime import Runtime
from tests.conftest import KEYSEAL, make_key, signed_headers

BALANCE = "/api/v5/account/balance"
ORDER = "/api/v5/trade/order"


def children(pid: int) -> set[int]:
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.add(int(entry.name))
    return found


def wait_until(condition, timeout: float = 15.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def shared_redis() -> dict[str, str]:
    """Workers share their replay memory and limits through Redis: the machine's, under a
    prefix of this test's own."""
    url = os.environ.get("KEYSEAL_TEST_REDIS_URL")
    if not url:
        if os.environ.get("KEYSEAL_REQUIRE_SERVICES"):
            pytest.fail("KEYSEAL_TEST_REDIS_URL is not set, and KEYSEAL_REQUIRE_SERVICES is")
        pytest.skip("--workers needs Redis: set KEYSEAL_TEST_REDIS_URL")
    return {"KEYSEAL_REDIS_URL": url, "KEYSEAL_REDIS_PREFIX": f"kstest-{uuid.uuid4().hex[:10]}:"}


def test_workers_without_redis_are_refused_with_what_to_do(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "KEYSEAL_REDIS_URL"}
    ran = subprocess.run([KEYSEAL, "serve", "--home", str(tmp_path / "home"), "--workers", "2",
                          "--port", "8499"], env=env, capture_output=True, text=True, timeout=60)
    assert ran.returncode == 2
    said = " ".join(ran.stderr.split())
    assert "--workers needs --redis" in said and "replayed order" in said


def test_a_replayed_order_is_refused_whichever_worker_gets_it(  # type: ignore[no-untyped-def]
        serve, home_rt: Runtime) -> None:
    key = make_key(home_rt, perm="read_only,trade", credit={"USDT": "1000"})
    served = serve("--workers", "2", "--rate-limits", "off", env=shared_redis())
    wait_until(lambda: len(children(served.process.pid)) == 2)
    body = json.dumps({"instId": "BTC-USDT", "tdMode": "cash", "side": "buy",
                       "ordType": "limit", "px": "100", "sz": "0.001"})
    headers = {**signed_headers(key, "POST", ORDER, body), "content-type": "application/json"}
    codes = []
    for _ in range(12):  # a new connection each time: both workers get some
        with httpx.Client(base_url=served.url) as client:
            codes.append(client.post(ORDER, content=body, headers=headers).json()["code"])
    assert codes[0] == "0" and codes[1:] == ["70017"] * 11, codes


def test_workers_share_the_port_and_stop_together(serve, home_rt: Runtime) -> None:  # type: ignore[no-untyped-def]
    key = make_key(home_rt, credit={"USDT": "5"})
    served = serve("--workers", "2", "--rate-limits", "off", env=shared_redis())
    parent = served.process.pid
    wait_until(lambda: len(children(parent)) == 2)
    workers = children(parent)
    for _ in range(20):
        with httpx.Client(base_url=served.url) as client:  # a new connection each time
            assert client.get(BALANCE, headers=signed_headers(key, "GET", BALANCE)).json()[
                "code"] == "0"
    # a worker that dies is replaced, and the port keeps answering meanwhile
    doomed = min(workers)
    os.kill(doomed, signal.SIGKILL)
    wait_until(lambda: len(children(parent) - {doomed}) == 2)
    assert httpx.get(served.url + "/healthz").status_code == 200
    served.process.send_signal(signal.SIGTERM)
    assert served.process.wait(20) == 0
    assert not any(Path(f"/proc/{pid}").exists() for pid in workers - {doomed})  # reaped
