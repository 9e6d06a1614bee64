"""Scale-out figures on the machine's PostgreSQL and Redis (a database and a key prefix of
the run's own), each with its baseline in the same run:

5. revocation lag across processes: two ``keyseal serve`` processes, 200 keys each verified
   (cached) on both; each key is disabled through a third process (the operator's runtime, as
   the CLI does: the change is committed, then pushed) and both serving processes are asked
   again and again until they refuse it. The lag is from the commit's acknowledgement to the
   first refusal received, p50 and p99 (target p99 ≤ 100 ms); baseline: the same with the
   push off (Redis not configured), the change log's poll alone.
6. a limit of 10 requests per 2 s per key, hammered through 4 processes at once: the
   requests admitted, against the most GCRA allows over the run (10 + one per 0.2 s); and
   the same 4 processes without Redis, each admitting its own.

Run: ``.venv/bin/python benchmarks/scaleout.py [--postgres URL] [--redis URL] [--json]``.
Nothing here gates CI."""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.conftest import make_key, signed_headers, start_server, stop_server  # noqa: E402

from keyseal.crypto.keyring import KEY_FILE  # noqa: E402
from keyseal.domain.commands import SetKeyStatus  # noqa: E402
from keyseal.domain.keys import KeyStatus  # noqa: E402
from keyseal.scaleout import ScaleOut  # noqa: E402
from keyseal.services import keys as key_service  # noqa: E402
from keyseal.services.runtime import Runtime, open_runtime  # noqa: E402
from keyseal.settings import Settings  # noqa: E402

CURRENCIES = "/api/v5/asset/currencies"
PENDING = "/api/v5/trade/orders-pending"


class Deployment:
    """N ``keyseal serve`` on one database, with or without Redis, and the operator."""

    def __init__(self, tmp: Path, db_url: str, redis_url: str, nodes: int, *extra: str,
                 env: dict[str, str] | None = None) -> None:
        prefix = f"bench-{uuid.uuid4().hex[:8]}:"
        home = tmp / "operator"
        self.rt: Runtime = open_runtime(Settings(
            home=home, db_url=db_url, scaleout=ScaleOut(redis_url=redis_url, redis_prefix=prefix)))
        self.processes = []
        self.urls: list[str] = []
        redis = ["--redis", redis_url] if redis_url else []
        for index in range(nodes):
            node_home = tmp / f"node{index}"
            node_home.mkdir(mode=0o700)
            shutil.copy2(home / KEY_FILE, node_home / KEY_FILE)
            process, url = start_server(node_home, "--db", db_url, *redis, *extra,
                                        env={"KEYSEAL_REDIS_PREFIX": prefix, **(env or {})})
            self.processes.append(process)
            self.urls.append(url)

    def close(self) -> None:
        for process in self.processes:
            stop_server(process)
        self.rt.close()


def code(client: httpx.Client, url: str, key: dict[str, str], target: str = CURRENCIES) -> str:
    return str(client.get(url + target, headers=signed_headers(key, "GET", target)).json()["code"])


def revocation_lags(deployment: Deployment, count: int) -> list[float]:
    keys = [make_key(deployment.rt) for _ in range(count)]
    lags: list[float] = []
    with httpx.Client(timeout=10) as client:
        for key in keys:  # cached on both (the first use of a passphrase costs argon2)
            for url in deployment.urls:
                assert code(client, url, key) == "0"
        for key in keys:
            key_service.set_key_status(deployment.rt, SetKeyStatus(key["apiKey"],
                                                                   KeyStatus.DISABLED))
            committed = time.perf_counter()
            for url in deployment.urls:
                while code(client, url, key) != "50100":
                    if time.perf_counter() - committed > 5:
                        raise RuntimeError("a revocation was not seen in 5 s")
                lags.append(time.perf_counter() - committed)
    return lags


def hammer(deployment: Deployment, seconds: float, threads: int = 8) -> dict[str, Any]:
    key = make_key(deployment.rt)
    stop_at = time.perf_counter() + seconds
    admitted: list[float] = []
    sent = [0]
    lock = threading.Lock()

    def worker(index: int) -> None:
        with httpx.Client(timeout=10) as client:
            n = index
            while time.perf_counter() < stop_at:
                url = deployment.urls[n % len(deployment.urls)]
                n += 1
                result = code(client, url, key, PENDING)
                with lock:
                    sent[0] += 1
                    if result == "0":
                        admitted.append(time.perf_counter())
                    elif result != "50011":
                        raise RuntimeError(f"unexpected {result}")

    start = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(worker, range(threads)))
    elapsed = time.perf_counter() - start
    return {"requests": sent[0], "admitted": len(admitted), "seconds": round(elapsed, 2),
            "gcra_most": 10 + int(elapsed / 0.2)}


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


class Database:
    """A PostgreSQL database of one deployment's own, dropped afterwards."""

    def __init__(self, server: str) -> None:
        self.server, self.name = server, f"ks_bench_{uuid.uuid4().hex[:8]}"
        self.url = f"{server.rsplit('/', 1)[0]}/{self.name}"

    def __enter__(self) -> str:
        with psycopg.connect(self.server, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{self.name}"')
        return self.url

    def __exit__(self, *_: object) -> None:
        with psycopg.connect(self.server, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--revocations", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=6.0)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    figures: dict[str, Any] = {}
    for label, redis_url in (("push", args.redis), ("log_only", "")):
        with tempfile.TemporaryDirectory() as tmp, Database(args.postgres) as db_url:
            deployment = Deployment(Path(tmp), db_url, redis_url, 2, "--rate-limits", "off")
            try:
                count = args.revocations if redis_url else max(20, args.revocations // 10)
                lags = revocation_lags(deployment, count)
            finally:
                deployment.close()
        figures[f"revocation_{label}"] = {
            "observations": len(lags), "p50_ms": round(statistics.median(lags) * 1000, 1),
            "p99_ms": round(percentile(lags, 0.99) * 1000, 1),
            "max_ms": round(max(lags) * 1000, 1)}
        print(label, figures[f"revocation_{label}"], file=sys.stderr)
    for label, redis_url in (("shared", args.redis), ("per_process", "")):
        with tempfile.TemporaryDirectory() as tmp, Database(args.postgres) as db_url:
            deployment = Deployment(Path(tmp), db_url, redis_url, 4,
                                    env={"KEYSEAL_PRIVATE_KEY_RATE": "10/2"})
            try:
                figures[f"limit_10_per_2s_4_processes_{label}"] = hammer(deployment, args.seconds)
            finally:
                deployment.close()
    push, log_only = figures["revocation_push"], figures["revocation_log_only"]
    figures["revocation_p99_log_only_over_push"] = round(log_only["p99_ms"] / push["p99_ms"], 1)
    if args.json:
        print(json.dumps(figures, indent=2))
        return
    for name, value in figures.items():
        print(f"{name:<42} {value}")


if __name__ == "__main__":
    main()
