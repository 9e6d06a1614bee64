"""10³ against 10⁶ keys in the store: the gate's throughput (warm cache, a working set of
real keys signed round-robin) and the process's memory, each store measured in a fresh
process so its resident memory is its own.

The filler keys are rows copied from a real key with new ids, inserted in bulk straight into
SQLite (no argon2, no sealing per key: they are never used, they only make the store and the
set of known ids as large as a big deployment's). A process holds: the key cache (bounded by
``key_cache_size``, here only the working set) and the set of known key ids (every id, ~80
bytes each: docs/decisions/0006), which is what grows with the store.

Run alone: ``.venv/bin/python benchmarks/key_count.py [--json]``; ``make bench`` runs it too.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.conftest import make_account, make_key  # noqa: E402

from keyseal.gate.verifier import SignedRequest  # noqa: E402
from keyseal.http.okx import all_routes  # noqa: E402
from keyseal.http.state import build_state  # noqa: E402
from keyseal.services.runtime import open_runtime  # noqa: E402
from keyseal.settings import Settings  # noqa: E402
from keyseal.signing import format_timestamp, sign_request  # noqa: E402

BALANCE = "/api/v5/account/balance"
WORKING_SET = 20


def rss_mb() -> float:
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * 4096 / 2**20


def fill(db: Path, total: int) -> None:
    """Copies of the first key's row under new ids until the store holds ``total`` keys."""
    conn = sqlite3.connect(db)
    columns = [row[1] for row in conn.execute("PRAGMA table_info(api_keys)") if row[1] != "id"]
    have = conn.execute("SELECT count(*) FROM api_keys").fetchone()[0]
    template = dict(zip(columns, conn.execute(
        f"SELECT {', '.join(columns)} FROM api_keys ORDER BY id LIMIT 1").fetchone(), strict=True))
    placeholders = ", ".join("?" for _ in columns)
    at_key, at_label = columns.index("api_key"), columns.index("label")
    base = [template[c] for c in columns]

    def rows(n: int):  # type: ignore[no-untyped-def]
        for i in range(n):
            row = list(base)
            row[at_key] = str(uuid.uuid4())
            row[at_label] = f"f{i}"
            yield row

    conn.execute("PRAGMA synchronous = OFF")  # a benchmark's store: no crash to survive
    with conn:
        conn.executemany(f"INSERT INTO api_keys ({', '.join(columns)}) VALUES ({placeholders})",
                         rows(total - have))
    conn.close()


def prepare(home: Path, total: int) -> float:
    """A store of ``total`` keys, ``WORKING_SET`` of them real (their credentials in
    keys.json); the seconds the bulk fill took."""
    rt = open_runtime(Settings(home=home, rate_limits=False))
    email = make_account(rt)
    keys = [make_key(rt, email) for _ in range(WORKING_SET)]
    rt.close()
    (home / "keys.json").write_text(json.dumps(keys))
    started = time.perf_counter()
    fill(home / "keyseal.db", total)
    return time.perf_counter() - started


def measure(home: Path, requests: int) -> dict[str, float]:
    """In a fresh process: start a server's state on the store, verify round-robin."""
    keys = json.loads((home / "keys.json").read_text())
    rt = open_runtime(Settings(home=home, rate_limits=False))
    before = rss_mb()
    state = build_state(rt)  # loads every known id
    with_ids = rss_mb()
    guard = next(r.guard for r in all_routes() if r.path == BALANCE and r.guard)
    ts = format_timestamp(time.time())
    signed = [SignedRequest("GET", BALANCE.encode(), b"", {
        "ok-access-key": k["apiKey"], "ok-access-timestamp": ts,
        "ok-access-sign": sign_request(k["secretKey"], ts, "GET", BALANCE),
        "ok-access-passphrase": k["passphrase"]}, "127.0.0.1") for k in keys]
    loop = asyncio.new_event_loop()

    async def verify(n: int) -> None:
        authenticate = state.gate.authenticate
        for i in range(n):
            await authenticate(signed[i % WORKING_SET], guard)

    loop.run_until_complete(verify(WORKING_SET))  # warm: one load and argon2 per key
    best = float("inf")
    for _ in range(5):
        began = time.perf_counter()
        loop.run_until_complete(verify(requests))
        best = min(best, time.perf_counter() - began)
    after = rss_mb()
    loop.close()
    rt.close()
    return {"verify_per_s": round(requests / best), "rss_before_state_mb": round(before, 1),
            "known_ids_mb": round(with_ids - before, 1), "rss_after_mb": round(after, 1),
            "cached_keys": len(state.key_cache)}


def _run(*args: str) -> dict[str, float]:
    done = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True,
                          check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def bench_key_count(small: int = 1000, large: int = 1_000_000, requests: int = 50_000,
                    rounds: int = 3) -> dict[str, object]:
    """Both stores made first, then measured alternately ``rounds`` times each (the best
    throughput of each, the machine's load hits both alike)."""
    with tempfile.TemporaryDirectory() as a, tempfile.TemporaryDirectory() as b:
        homes = {small: Path(a), large: Path(b)}
        fills = {n: _run("--prepare", str(n), "--home", str(h))["fill_s"]
                 for n, h in homes.items()}
        runs: dict[int, list[dict[str, float]]] = {small: [], large: []}
        for _ in range(rounds):
            for n, home in homes.items():
                runs[n].append(_run("--measure", "--home", str(home), "--requests",
                                    str(requests)))
    out = {}
    for n, found in runs.items():
        best = max(found, key=lambda r: r["verify_per_s"])
        out[n] = {"keys": n, "fill_s": round(fills[n], 2), **best}
    few, many = out[small], out[large]
    return {"small": few, "large": many,
            "throughput_large_vs_small": round(many["verify_per_s"] / few["verify_per_s"], 3),
            "bytes_per_known_id": round((many["known_ids_mb"] - few["known_ids_mb"]) * 2**20
                                        / (large - small), 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prepare", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--measure", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--home", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--requests", type=int, default=50_000)
    parser.add_argument("--large", type=int, default=1_000_000)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if args.prepare:
        print(json.dumps({"fill_s": prepare(args.home, args.prepare)}))
        return
    if args.measure:
        print(json.dumps(measure(args.home, args.requests)))
        return
    result = bench_key_count(large=args.large, requests=args.requests)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
