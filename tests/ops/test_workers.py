"""``keyseal serve --workers N``: N processes on one port, each answering; SIGTERM to the
parent stops them all; a worker that dies is replaced."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import httpx

from keyseal.services.runtime import Runtime
from tests.conftest import make_key, signed_headers

BALANCE = "/api/v5/account/balance"


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


def test_workers_share_the_port_and_stop_together(serve, home_rt: Runtime) -> None:  # type: ignore[no-untyped-def]
    key = make_key(home_rt, credit={"USDT": "5"})
    served = serve("--workers", "2", "--rate-limits", "off")
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
