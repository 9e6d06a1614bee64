"""Keyseal's figures, each with its baseline measured in the same run; one table, and JSON.

1. ``gate``: the gate in-process, warm cache, verifications per second, against a bare
   ``hmac`` + ``base64`` of the same prehash (the least any verifier must do); beside it what
   /metrics' counting adds to a request (benchmarks: plain ints, no prometheus_client call).
2. ``http``: one worker each, wrk ``-t1 -c64`` on loopback (benchmarks/http_servers.py):
   Keyseal on uvicorn and on granian, signed ``account/balance`` and ``public/time``; a plain
   FastAPI app with an HMAC dependency; nginx serving a file of the balance answer's size.
3. ``workers``: signed balance on 1 worker and on 2 (the load generator takes a core too).
4. ``keys``: 10³ against 10⁶ keys in the store: throughput and memory
   (benchmarks/key_count.py).
5. ``lua``: nginx with a LuaJIT check of OKX's signature and the keys in memory (Kong's
   hmac-auth's way; benchmarks/lua_peer.py, needs ``apt-get install libnginx-mod-http-lua``),
   loaded like Keyseal with the same signed requests. With ``http`` it joins that section's
   interleaved rounds; alone (``--only lua``) it runs against Keyseal on uvicorn and nginx
   static only. Skipped, with a note, where the module is not installed.

Run: ``make bench`` (``.venv/bin/python benchmarks/run.py [--seconds N] [--rounds N]
[--only gate,http,...] [--out FILE] [--json]``). The JSON goes to benchmarks/results.json
unless ``--out`` says otherwise. Figures vary with the machine (and with what else runs on
it); the ratios are what to compare. Nothing here gates CI.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import hmac
import json
import platform
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from http_servers import bench_servers, bench_workers  # noqa: E402
from key_count import bench_key_count  # noqa: E402
from lua_peer import available as lua_available  # noqa: E402
from tests.conftest import make_key  # noqa: E402

from keyseal.gate.verifier import SignedRequest  # noqa: E402
from keyseal.http.metrics import RequestCounts  # noqa: E402
from keyseal.http.okx import all_routes  # noqa: E402
from keyseal.http.state import build_state  # noqa: E402
from keyseal.services.runtime import open_runtime  # noqa: E402
from keyseal.settings import Settings  # noqa: E402
from keyseal.signing import format_timestamp, prehash, sign_request  # noqa: E402

BALANCE = "/api/v5/account/balance"
RESULTS = Path(__file__).resolve().parent / "results.json"


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

    # short rounds, interleaved: on a shared machine each side gets its quiet moments
    gate_rate = bare_rate = 0.0
    for _ in range(15):
        gate_rate = max(gate_rate, best_rate(
            lambda n: loop.run_until_complete(verify_many(n)), 20_000, rounds=1))
        bare_rate = max(bare_rate, best_rate(bare, 80_000, rounds=1))
    loop.close()
    rt.close()
    return {"gate_per_s": gate_rate, "bare_hmac_per_s": bare_rate,
            "gate_us": 1e6 / gate_rate, "bare_us": 1e6 / bare_rate,
            "slowdown_vs_bare": bare_rate / gate_rate}


def bench_app(home: Path) -> dict[str, float]:
    """The whole app in-process (ASGI calls, no socket, no HTTP parsing): a signed balance and
    public/time, so a request's cost over HTTP splits into app and server."""
    from keyseal.http.app import create_app

    rt = open_runtime(Settings(home=home, rate_limits=False))
    key = make_key(rt, credit={"USDT": "10000", "BTC": "1"})
    app = create_app(rt)
    ts = format_timestamp(time.time())
    signed = [(b"ok-access-key", key["apiKey"].encode()), (b"ok-access-timestamp", ts.encode()),
              (b"ok-access-sign", sign_request(key["secretKey"], ts, "GET", BALANCE).encode()),
              (b"ok-access-passphrase", key["passphrase"].encode())]

    def scope(path: str, headers: list[tuple[bytes, bytes]]) -> dict[str, object]:
        return {"type": "http", "method": "GET", "path": path, "raw_path": path.encode(),
                "query_string": b"", "headers": headers, "client": ("127.0.0.1", 5000)}

    async def receive() -> dict[str, object]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, object]) -> None:
        pass

    loop = asyncio.new_event_loop()
    balance, public = scope(BALANCE, signed), scope("/api/v5/public/time", [])

    async def many(which: dict[str, object], n: int) -> None:
        for _ in range(n):
            await app(which, receive, send)

    loop.run_until_complete(many(balance, 10))
    balance_rate = best_rate(lambda n: loop.run_until_complete(many(balance, n)), 20_000)
    public_rate = best_rate(lambda n: loop.run_until_complete(many(public, n)), 20_000)
    loop.close()
    rt.close()
    return {"app_balance_us": round(1e6 / balance_rate, 2),
            "app_time_us": round(1e6 / public_rate, 2)}


def bench_counting() -> dict[str, float]:
    """What /metrics' counting costs a request: one requests-dict increment and one
    histogram bucket (plus the two perf_counter calls around the gate)."""
    counts = RequestCounts()
    clock = time.perf_counter

    def count(n: int) -> None:
        for _ in range(n):
            began = clock()
            counts.verified(clock() - began)
            counts.request(BALANCE, "0", 200)

    def empty(n: int) -> None:
        for _ in range(n):
            pass

    per_request = 1e6 / best_rate(count, 200_000) - 1e6 / best_rate(empty, 200_000)
    return {"counting_us": round(per_request, 3)}


def bench_http(seconds: int, rounds: int, *, lua: bool, http: bool = True
               ) -> dict[str, object]:
    """``http``: every server and the workers; else (``lua``) the Lua peer's three alone."""
    with tempfile.TemporaryDirectory() as home, tempfile.TemporaryDirectory() as scratch:
        rt = open_runtime(Settings(home=Path(home)))
        key = make_key(rt, credit={"USDT": "10000", "BTC": "1"})
        rt.close()
        servers = bench_servers(Path(home), Path(scratch), key, seconds, rounds,
                                have_nginx=bool(shutil.which("nginx")
                                                or Path("/usr/sbin/nginx").exists()),
                                have_lua=lua, lua_only=not http)
        if not http:
            return {"servers": servers}
        workers = bench_workers(Path(home), key, seconds, rounds, 2)
    return {"servers": servers, "workers": workers}


def _lua_rows(s: dict[str, dict[str, float]]) -> list[tuple[str, str, str, str, str]]:
    """Keyseal's signed balance against the Lua peer, and the peer against nginx static."""
    if "nginx-lua-hmac balance" not in s:
        return []
    lua = s["nginx-lua-hmac balance"]["rps"]
    rows = [(f"balance ({server}) vs nginx + Lua HMAC", f"{s[name]['rps']:,.0f}", f"{lua:,.0f}",
             f"{s[name]['rps'] / lua:.0%}", "report")
            for server in ("uvicorn", "granian") if (name := f"keyseal-{server} balance") in s]
    if "nginx-static balance-sized" in s:
        nginx = s["nginx-static balance-sized"]["rps"]
        rows.append(("nginx + Lua HMAC vs nginx static", f"{lua:,.0f}", f"{nginx:,.0f}",
                     f"{lua / nginx:.0%}", "report"))
    return rows


def table(results: dict[str, object]) -> list[str]:
    """The figures as rows: what, value, against what, ratio, the aim."""
    rows: list[tuple[str, str, str, str, str]] = []
    gate = results.get("gate")
    if isinstance(gate, dict):
        rows.append(("gate, warm cache", f"{gate['gate_us']:.2f} µs", f"bare HMAC "
                     f"{gate['bare_us']:.2f} µs", f"{gate['slowdown_vs_bare']:.2f}×", "≤ 3×"))
        rows.append(("app in-process, signed balance", f"{gate['app_balance_us']:.2f} µs",
                     f"public/time {gate['app_time_us']:.2f} µs", "", "no socket, no HTTP"))
        rows.append(("/metrics counting", f"{gate['counting_us']:.3f} µs", "gate "
                     f"{gate['gate_us']:.2f} µs", f"{gate['counting_us'] / gate['gate_us']:.0%}",
                     "tiny"))
    lua = results.get("lua")
    if isinstance(lua, dict):
        s = lua["servers"]
        for name, row in s.items():
            if not name.startswith("_"):
                rows.append((name, f"{row['rps']:,.0f} req/s", f"p50 {row['p50_ms']:.2f} ms",
                             f"p99 {row['p99_ms']:.2f} ms", ""))
        rows.extend(_lua_rows(s))
    http = results.get("http")
    if isinstance(http, dict):
        s = http["servers"]
        uv, gr = s["keyseal-uvicorn balance"], s["keyseal-granian balance"]
        for name, row in s.items():
            if not name.startswith("_"):
                rows.append((name, f"{row['rps']:,.0f} req/s", f"p50 {row['p50_ms']:.2f} ms",
                             f"p99 {row['p99_ms']:.2f} ms", "p99 ≤ 10 ms" if "keyseal" in
                             name and "balance" in name else ""))
        if "nginx-static balance-sized" in s:
            nginx = s["nginx-static balance-sized"]["rps"]
            rows.append(("balance (uvicorn) vs nginx static", f"{uv['rps']:,.0f}",
                         f"{nginx:,.0f}", f"{uv['rps'] / nginx:.0%}", "≥ 25%"))
            rows.append(("balance (granian) vs nginx static", f"{gr['rps']:,.0f}",
                         f"{nginx:,.0f}", f"{gr['rps'] / nginx:.0%}", "≥ 25%"))
        for server in ("uvicorn", "granian"):
            bal, tim = s[f"keyseal-{server} balance"], s[f"keyseal-{server} time"]
            rows.append((f"balance vs public/time ({server})", f"{bal['rps']:,.0f}",
                         f"{tim['rps']:,.0f}", f"{bal['rps'] / tim['rps']:.0%}", "report"))
        rows.extend(_lua_rows(s))
        peer = s["fastapi-hmac balance"]["rps"]
        rows.append(("balance (uvicorn) vs FastAPI + HMAC", f"{uv['rps']:,.0f}", f"{peer:,.0f}",
                     f"{uv['rps'] / peer:.2f}×", "report"))
        rows.append(("granian vs uvicorn, balance", f"{gr['rps']:,.0f}", f"{uv['rps']:,.0f}",
                     f"{gr['rps'] / uv['rps']:.2f}×", "report"))
        w = http["workers"]
        one, two = w["1 worker"], w["2 workers"]
        rows.append(("2 workers vs 1, balance", f"{two['rps']:,.0f}", f"{one['rps']:,.0f}",
                     f"{two['rps'] / one['rps']:.2f}×", "report (2 cores, wrk on one)"))
    keys = results.get("keys")
    if isinstance(keys, dict):
        few, many = keys["small"], keys["large"]
        rows.append((f"verify, {many['keys']:,} vs {few['keys']:,} keys",
                     f"{many['verify_per_s']:,}/s", f"{few['verify_per_s']:,}/s",
                     f"{keys['throughput_large_vs_small']:.2f}×", "within 10%"))
        rows.append((f"known ids, {many['keys']:,} keys", f"{many['known_ids_mb']:.1f} MB",
                     f"{few['known_ids_mb']:.1f} MB", f"{keys['bytes_per_known_id']:.0f} B/key",
                     "report"))
        rows.append(("key cache entries", f"{many['cached_keys']}", f"{few['cached_keys']}",
                     "", "bounded by key_cache_size"))
    widths = [max(len(r[i]) for r in rows) for i in range(5)] if rows else [0] * 5
    return ["  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)).rstrip()
            for r in rows]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=5, help="wrk duration per run")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved runs per endpoint")
    parser.add_argument("--only", default="gate,http,lua,keys",
                        help="sections, comma-separated")
    parser.add_argument("--large", type=int, default=1_000_000, help="keys in the big store")
    parser.add_argument("--out", type=Path, default=RESULTS, help="where the JSON goes")
    parser.add_argument("--json", action="store_true", help="print the JSON instead")
    args = parser.parse_args()
    sections = set(args.only.split(","))
    if sections & {"http", "lua"} and not shutil.which("wrk"):
        sys.exit("wrk is needed for the HTTP figures: apt-get install wrk (or --only gate,keys)")
    lua = "lua" in sections and lua_available()
    if "lua" in sections and not lua:
        print("no nginx Lua module: the Lua peer is skipped (apt-get install "
              "libnginx-mod-http-lua)", file=sys.stderr)
    results: dict[str, object] = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"), "machine": {
            "cpus": len(__import__("os").sched_getaffinity(0)), "python": platform.python_version()}}
    if "gate" in sections:
        with tempfile.TemporaryDirectory() as gate_home:
            results["gate"] = {**bench_gate(Path(gate_home)), **bench_counting()}
        with tempfile.TemporaryDirectory() as app_home:
            results["gate"].update(bench_app(Path(app_home)))  # type: ignore[attr-defined]
    if "http" in sections:
        results["http"] = bench_http(args.seconds, args.rounds, lua=lua)
    elif lua:
        results["lua"] = bench_http(args.seconds, args.rounds, lua=True, http=False)
    if "keys" in sections:
        results["keys"] = bench_key_count(large=args.large)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    if args.json:
        print(json.dumps(results, indent=2))
        return
    print("\n".join(table(results)))
    print(f"(JSON in {args.out})")


if __name__ == "__main__":
    main()
