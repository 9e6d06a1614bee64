"""Keyseal's figures, each with its baseline measured in the same run.

1. The gate in-process, warm cache: verifications per second, against a bare
   ``hmac`` + ``base64`` of the same prehash (the least any verifier must do).
2. Over real HTTP (``keyseal serve --rate-limits off``, one worker, wrk on loopback):
   authenticated ``GET /api/v5/account/balance`` against the same server's unauthenticated
   ``GET /api/v5/public/time``; requests per second and p50/p99 latency.

Run: ``make bench`` (or ``.venv/bin/python benchmarks/run.py [--seconds N] [--json]``).
Figures vary with the machine; the ratios are what to compare. Nothing here gates CI.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import hmac
import json
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.conftest import make_key, start_server, stop_server  # noqa: E402

from keyseal.gate.verifier import SignedRequest  # noqa: E402
from keyseal.http.okx import all_routes  # noqa: E402
from keyseal.http.state import build_state  # noqa: E402
from keyseal.services.runtime import open_runtime  # noqa: E402
from keyseal.settings import Settings  # noqa: E402
from keyseal.signing import format_timestamp, prehash, sign_request  # noqa: E402

BALANCE = "/api/v5/account/balance"


def best_rate(fn, count: int, rounds: int = 5) -> float:  # type: ignore[no-untyped-def]
    """Calls per second of the fastest of several rounds (the least disturbed one)."""
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        fn(count)
        best = min(best, time.perf_counter() - start)
    return count / best


def bench_gate(home: Path) -> dict[str, float]:
    rt = open_runtime(Settings(home=home, rate_limits=False))
    key = make_key(rt, credit={"USDT": "1"})
    state = build_state(rt)
    guard = next(r.guard for r in all_routes() if r.path == BALANCE and r.guard)
    secret = key["secretKey"].encode()

    def request() -> SignedRequest:
        ts = format_timestamp(time.time())
        headers = {"ok-access-key": key["apiKey"], "ok-access-timestamp": ts,
                   "ok-access-sign": sign_request(secret, ts, "GET", BALANCE),
                   "ok-access-passphrase": key["passphrase"]}
        return SignedRequest("GET", BALANCE.encode(), b"", headers, "127.0.0.1")

    signed = request()
    message = prehash(signed.headers["ok-access-timestamp"], "GET", BALANCE)
    loop = asyncio.new_event_loop()
    loop.run_until_complete(state.gate.authenticate(signed, guard))  # warm: load + argon2 once

    async def verify_many(n: int) -> None:
        authenticate = state.gate.authenticate
        for _ in range(n):
            await authenticate(signed, guard)

    def bare(n: int) -> None:
        for _ in range(n):
            base64.b64encode(hmac.new(secret, message, hashlib.sha256).digest())

    gate_rate = best_rate(lambda n: loop.run_until_complete(verify_many(n)), 50_000)
    bare_rate = best_rate(bare, 200_000)
    loop.close()
    rt.close()
    return {"gate_per_s": gate_rate, "bare_hmac_per_s": bare_rate,
            "gate_us": 1e6 / gate_rate, "bare_us": 1e6 / bare_rate,
            "slowdown_vs_bare": bare_rate / gate_rate}


_WRK_RPS = re.compile(r"Requests/sec:\s+([\d.]+)")
_WRK_PCT = re.compile(r"^\s+(50|99)%\s+([\d.]+)(us|ms|s)\s*$", re.M)
_UNIT = {"us": 1e-3, "ms": 1.0, "s": 1000.0}


def wrk(url: str, seconds: int, headers: dict[str, str]) -> dict[str, float]:
    args = ["wrk", "-t1", "-c64", f"-d{seconds}s", "--latency"]
    for name, value in headers.items():
        args += ["-H", f"{name}: {value}"]
    output = subprocess.run([*args, url], capture_output=True, text=True, check=True).stdout
    if "Non-2xx" in output:
        raise RuntimeError(f"wrk saw refusals; the figures would be wrong:\n{output}")
    found = {f"p{p}_ms": float(v) * _UNIT[u] for p, v, u in _WRK_PCT.findall(output)}
    match = _WRK_RPS.search(output)
    assert match, output
    return {"rps": float(match.group(1)), **found}


def bench_http(home: Path, seconds: int, rounds: int) -> dict[str, object]:
    rt = open_runtime(Settings(home=home))
    key = make_key(rt, credit={"USDT": "10000", "BTC": "1"})
    rt.close()

    def signed() -> dict[str, str]:
        """Signed now, so valid for the whole run (wrk replays it; the window is 30 s)."""
        ts = format_timestamp(time.time())
        return {"OK-ACCESS-KEY": key["apiKey"], "OK-ACCESS-TIMESTAMP": ts,
                "OK-ACCESS-SIGN": sign_request(key["secretKey"], ts, "GET", BALANCE),
                "OK-ACCESS-PASSPHRASE": key["passphrase"]}

    process, url = start_server(home, "--rate-limits", "off")
    public, private = [], []
    try:
        wrk(url + "/api/v5/public/time", 1, {})  # warm both paths (and the key cache)
        wrk(url + BALANCE, 1, signed())
        for _ in range(rounds):  # interleaved, so drift on the machine hits both alike
            public.append(wrk(url + "/api/v5/public/time", seconds, {}))
            private.append(wrk(url + BALANCE, seconds, signed()))
    finally:
        stop_server(process)
    pub, auth = _median(public), _median(private)
    return {"public_time": pub, "auth_balance": auth, "auth_vs_public": auth["rps"] / pub["rps"],
            "rounds": rounds}


def _median(runs: list[dict[str, float]]) -> dict[str, float]:
    return {name: statistics.median(run[name] for run in runs) for name in runs[0]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=6, help="wrk duration per run")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved runs per endpoint")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk is needed for the HTTP figures: apt-get install wrk")
    with tempfile.TemporaryDirectory() as gate_home, tempfile.TemporaryDirectory() as http_home:
        results = {"gate": bench_gate(Path(gate_home)),
                   "http": bench_http(Path(http_home), args.seconds, args.rounds)}
    if args.json:
        print(json.dumps(results, indent=2))
        return
    gate, http = results["gate"], results["http"]
    print("gate, in-process, warm cache (rate limits off)")
    print(f"  verify       {gate['gate_per_s']:>10,.0f}/s  {gate['gate_us']:6.2f} µs")
    print(f"  bare hmac    {gate['bare_hmac_per_s']:>10,.0f}/s  {gate['bare_us']:6.2f} µs")
    print(f"  ratio        {gate['slowdown_vs_bare']:.2f}x the bare HMAC (aim: within 5x)")
    print(f"HTTP, one keyseal serve worker, wrk -t1 -c64 on loopback, median of "
          f"{http['rounds']} interleaved runs")
    for name in ("public_time", "auth_balance"):
        row = http[name]  # type: ignore[index]
        print(f"  {name:<12} {row['rps']:>10,.0f} req/s  p50 {row.get('p50_ms', 0):.2f} ms  "
              f"p99 {row.get('p99_ms', 0):.2f} ms")
    print(f"  ratio        {http['auth_vs_public']:.0%} of unauthenticated (aim: at least 60%)")


if __name__ == "__main__":
    main()
