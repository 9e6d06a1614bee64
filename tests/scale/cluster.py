"""Two (or more) real ``keyseal serve`` processes on free ports, standing for hosts, on one
PostgreSQL database and one Redis, each with a home of its own holding the same master key;
and the test's own runtime on the same database, which changes keys as the CLI does (its
commits are pushed through Redis too)."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from keyseal.crypto.keyring import KEY_FILE
from keyseal.scaleout import ScaleOut
from keyseal.services.runtime import Runtime, open_runtime
from keyseal.settings import Settings
from tests.conftest import KEYSEAL, signed_headers, start_server, stop_server

CURRENCIES = "/api/v5/asset/currencies"  # a private read that needs no database once verified


@dataclass
class Node:
    url: str
    home: Path
    process: subprocess.Popen[bytes]

    def log(self) -> str:
        return (self.home / "server.log").read_text(errors="replace")


@dataclass
class Cluster:
    rt: Runtime
    nodes: list[Node]
    db_url: str
    redis_url: str
    prefix: str
    env: dict[str, str] = field(default_factory=dict)

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "KEYSEAL_HOME": str(self.rt.settings.home), "KEYSEAL_DB": self.db_url,
               "KEYSEAL_REDIS_URL": self.redis_url, "KEYSEAL_REDIS_PREFIX": self.prefix}
        return subprocess.run([KEYSEAL, *args], env=env, text=True, capture_output=True,
                              check=True, timeout=60)

    def close(self) -> None:
        for node in self.nodes:
            stop_server(node.process)
        self.rt.close()


def start_cluster(tmp: Path, db_url: str, redis_url: str, prefix: str, *extra: str,
                  nodes: int = 2, env: dict[str, str] | None = None,
                  node_db_url: str | None = None) -> Cluster:
    """``node_db_url``: how the serving processes reach the database, when not as the
    operator's runtime does (through a proxy the test cuts)."""
    home = tmp / "operator"
    rt = open_runtime(Settings(home=home, db_url=db_url,
                               scaleout=ScaleOut(redis_url=redis_url, redis_prefix=prefix)))
    env = {"KEYSEAL_REDIS_PREFIX": prefix, **(env or {})}
    started: list[Node] = []
    try:
        for index in range(nodes):
            node_home = tmp / f"node{index}"
            node_home.mkdir(mode=0o700)
            shutil.copy2(home / KEY_FILE, node_home / KEY_FILE)
            process, url = start_server(node_home, "--db", node_db_url or db_url, "--redis", redis_url, *extra,
                                        env=env)
            started.append(Node(url, node_home, process))
    except BaseException:
        for node in started:
            stop_server(node.process)
        rt.close()
        raise
    return Cluster(rt, started, db_url, redis_url, prefix, env)


def code_of(client: httpx.Client, node: Node, key: dict[str, str], target: str = CURRENCIES
            ) -> str:
    """The OKX code of one signed GET (``"0"``: accepted)."""
    answer = client.get(node.url + target, headers=signed_headers(key, "GET", target))
    assert answer.status_code < 500 or answer.json()["code"] == "50001", answer.text
    return str(answer.json()["code"])


def seconds_until(check: Callable[[], bool], timeout_s: float = 5.0) -> float:
    """How long ``check`` took to come true (polled as fast as it answers)."""
    start = time.perf_counter()
    while not check():
        if time.perf_counter() - start > timeout_s:
            raise AssertionError(f"not true after {timeout_s} s")
    return time.perf_counter() - start
