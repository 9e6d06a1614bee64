"""What the activity chart's request counter costs on the gate's hot path, and its flush.

In one process, on one warm key (rate limits off), one gate timed three ways:

- ``before``: ``Gate._authenticate`` with no counter: the verification as it was before
  the counter (the same checks, no wrapper, no count);
- ``wrapper``: ``Gate.authenticate`` with no counter: the refusal-counting wrapper alone;
- ``counted``: ``Gate.authenticate`` with the counter, as ``keyseal serve`` runs it.

Each is timed on a request let through and on one refused (50113, a bad signature: the
refusal path also asks the known-keys set whether the key exists). Rounds alternate between
the variants and the best round of each counts, so drift on a shared machine hits all
alike. Then the counter alone (one ``count`` call), and one flush of a batch of 2,000
rows into SQLite (the usage writer's upsert, once per interval, off the event loop).

Run: ``.venv/bin/python benchmarks/activity_counter.py [--json]``. Nothing here gates CI.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.conftest import make_key  # noqa: E402

from keyseal import errors  # noqa: E402
from keyseal.gate.activity import RequestCounter  # noqa: E402
from keyseal.gate.verifier import Guard, SignedRequest  # noqa: E402
from keyseal.http.okx import all_routes  # noqa: E402
from keyseal.http.state import build_state  # noqa: E402
from keyseal.services import activity as activity_service  # noqa: E402
from keyseal.services.runtime import open_runtime  # noqa: E402
from keyseal.settings import Settings  # noqa: E402
from keyseal.signing import format_timestamp, sign_request  # noqa: E402

BALANCE = "/api/v5/account/balance"
COUNT = 20_000
ROUNDS = 7


def _signed(key: dict[str, str], secret: str) -> SignedRequest:
    ts = format_timestamp(time.time())
    headers = {"ok-access-key": key["apiKey"], "ok-access-timestamp": ts,
               "ok-access-sign": sign_request(secret, ts, "GET", BALANCE),
               "ok-access-passphrase": key["passphrase"]}
    return SignedRequest("GET", BALANCE.encode(), b"", headers, "127.0.0.1")


def bench_hot_path(home: Path) -> dict[str, dict[str, float]]:
    rt = open_runtime(Settings(home=home, rate_limits=False))
    key = make_key(rt)
    state = build_state(rt)
    guard = next(r.guard for r in all_routes() if r.path == BALANCE and r.guard)
    assert isinstance(guard, Guard)
    good, bad = _signed(key, key["secretKey"]), _signed(key, "0" * 32)
    # one gate, its counter switched off and on between rounds: two gates would not share
    # the per-process digest of an accepted passphrase, and each would pay argon2 again
    gate = state.gate
    counter = RequestCounter()
    loop = asyncio.new_event_loop()
    loop.run_until_complete(gate.authenticate(good, guard))  # warm: load + argon2 once

    Verify = Callable[[SignedRequest, Guard], Awaitable[object]]

    def run(verify: Verify, request: SignedRequest, n: int) -> float:
        async def many() -> None:
            for _ in range(n):
                try:  # noqa: SIM105 - suppress() would add its own cost to every call
                    await verify(request, guard)
                except errors.OkxError:
                    pass
        start = time.perf_counter()
        loop.run_until_complete(many())
        return (time.perf_counter() - start) / n * 1e6

    variants: dict[str, tuple[Verify, RequestCounter | None]] = {
        "before": (gate._authenticate, None), "wrapper": (gate.authenticate, None),
        "counted": (gate.authenticate, counter)}
    figures: dict[str, dict[str, float]] = {}
    for path, request in (("ok", good), ("refused_50113", bad)):
        best = {name: float("inf") for name in variants}
        for _ in range(ROUNDS):
            for name, (verify, activity) in variants.items():
                gate._activity = activity
                best[name] = min(best[name], run(verify, request, COUNT))
        figures[path] = best
    assert sum(counter.drain().values()) == 2 * ROUNDS * COUNT  # it did count, both paths
    loop.close()
    rt.close()
    return figures


def bench_counter_alone() -> float:
    counter = RequestCounter()
    now_ms = int(time.time() * 1000)
    best = float("inf")
    for _ in range(ROUNDS):
        start = time.perf_counter()
        for _ in range(200_000):
            counter.count("11111111-2222-4333-8444-555555555555", now_ms)
        best = min(best, (time.perf_counter() - start) / 200_000 * 1e9)
    return best


def bench_flush(home: Path) -> float:
    rt = open_runtime(Settings(home=home))
    api_key = make_key(rt)["apiKey"]
    # the upsert costs per row, whoever's: 1,000 days × 2 codes of one key make 2,000 rows
    # (a thousand keys would cost a thousand argon2 hashes to create, and show the same)
    now_ms = int(time.time() * 1000)
    best = float("inf")
    for _ in range(3):
        counter = RequestCounter()
        for day in range(1000):
            counter.count(api_key, now_ms - day * 86_400_000)
            counter.count(api_key, now_ms - day * 86_400_000, "50113")
        batch = counter.drain()
        start = time.perf_counter()
        activity_service.record_requests(rt, batch)
        best = min(best, (time.perf_counter() - start) * 1000)
    rt.close()
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as gate_home, tempfile.TemporaryDirectory() as db_home:
        results = {"gate_us": bench_hot_path(Path(gate_home)),
                   "count_call_ns": bench_counter_alone(),
                   "flush_2000_rows_ms": bench_flush(Path(db_home))}
    if args.json:
        print(json.dumps(results, indent=2))
        return
    print(f"gate, in-process, one warm key, best of {ROUNDS} alternating rounds of {COUNT:,}")
    for path, best in results["gate_us"].items():  # type: ignore[union-attr]
        print(f"  {path}")
        for name, us in best.items():
            print(f"    {name:<8} {us:6.2f} µs/request")
        extra = best["counted"] - best["before"]
        print(f"    counter + wrapper: {extra:+.2f} µs, {best['counted'] / best['before']:.3f}x")
    print(f"counter alone: {results['count_call_ns']:.0f} ns per count()")
    print(f"flush: {results['flush_2000_rows_ms']:.1f} ms for 2,000 rows in one upsert "
          "(SQLite, off the event loop, once per interval)")


if __name__ == "__main__":
    main()
