"""Forward-auth's added latency through nginx, next to the same nginx and upstream without
it, in one run.

One nginx serves three sites: a tiny upstream (a static JSON answer, so the figures are
nginx's and Keyseal's, not an application's), the README's forward-auth configuration in
front of it (ports changed) asking a real ``keyseal forward-auth --rate-limits off``, and a
plain ``proxy_pass`` to the same upstream. One client sends signed ``GET /orders?instId=…``
one at a time over a kept-alive connection, alternating between the two in rounds, so drift
on the machine hits both alike; p50 and p99 are of every request's round trip.

Run: ``.venv/bin/python benchmarks/forward_auth.py [--requests N] [--json]`` (needs nginx:
``apt-get install nginx``). Figures vary with the machine; the difference is what to
compare. Nothing here gates CI.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx  # noqa: E402
from tests.conftest import free_port, make_key, signed_headers  # noqa: E402
from tests.proxy.conftest import (  # noqa: E402
    NGINX_MAIN,
    readme_block,
    start_verifier,
    stop,
    wait_for_port,
    with_ports,
)

from keyseal.services.runtime import open_runtime  # noqa: E402
from keyseal.settings import Settings  # noqa: E402

TARGET = "/orders?instId=BTC-USDT"
UPSTREAM_SITE = """\
server {{
    listen 127.0.0.1:{port};
    location / {{
        default_type application/json;
        return 200 '{{"code":"0","msg":"","data":[]}}';
    }}
}}
"""
PLAIN_SITE = """\
server {{
    listen 127.0.0.1:{port};
    location / {{
        proxy_pass http://127.0.0.1:{upstream};
    }}
}}
"""


def percentile(samples: list[float], p: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p / 100))]


def measure(requests: int, rounds: int) -> dict[str, float]:
    if not shutil.which("nginx"):
        sys.exit("nginx is needed: apt-get install nginx")
    with tempfile.TemporaryDirectory() as home_dir, tempfile.TemporaryDirectory() as run_dir:
        home, run = Path(home_dir), Path(run_dir)
        rt = open_runtime(Settings(home=home))
        key = make_key(rt)
        rt.close()
        verifier, verifier_address = start_verifier(home, "--rate-limits", "off")
        upstream, authed, plain = free_port(), free_port(), free_port()
        site = with_ports(readme_block("nginx"), verifier_address, f"127.0.0.1:{upstream}",
                          f"127.0.0.1:{authed}")
        (run / "site.conf").write_text(site + UPSTREAM_SITE.format(port=upstream)
                                       + PLAIN_SITE.format(port=plain, upstream=upstream))
        (run / "auth-request-only.conf").write_text("")
        (run / "nginx.conf").write_text(NGINX_MAIN.format(run=run))
        nginx = subprocess.Popen(["nginx", "-p", str(run), "-c", str(run / "nginx.conf"),
                                  "-e", str(run / "error.log")], stderr=subprocess.DEVNULL)
        try:
            for port in (upstream, authed, plain):
                wait_for_port(f"127.0.0.1:{port}", nginx, run / "error.log")
            return _rounds(key, authed, plain, requests, rounds)
        finally:
            stop(nginx)
            stop(verifier)


def _rounds(key: dict[str, str], authed: int, plain: int, requests: int,
            rounds: int) -> dict[str, float]:
    samples: dict[str, list[float]] = {"auth": [], "plain": []}
    with httpx.Client(base_url=f"http://127.0.0.1:{authed}") as auth_client, \
            httpx.Client(base_url=f"http://127.0.0.1:{plain}") as plain_client:
        clients = {"auth": auth_client, "plain": plain_client}
        for warm in clients.values():  # the key is loaded and its passphrase accepted here
            assert warm.get(TARGET, headers=signed_headers(key, "GET", TARGET)).status_code == 200
        per_round = max(1, requests // rounds)
        for _ in range(rounds):
            headers = signed_headers(key, "GET", TARGET)  # fresh: a round is well under 30 s
            for name, client in clients.items():
                for _ in range(per_round):
                    start = time.perf_counter()
                    status = client.get(TARGET, headers=headers).status_code
                    samples[name].append((time.perf_counter() - start) * 1000)
                    assert status == 200, status
    figures = {}
    for name, found in samples.items():
        figures[f"{name}_p50_ms"] = statistics.median(found)
        figures[f"{name}_p99_ms"] = percentile(found, 99)
    figures["added_p50_ms"] = figures["auth_p50_ms"] - figures["plain_p50_ms"]
    figures["added_p99_ms"] = figures["auth_p99_ms"] - figures["plain_p99_ms"]
    figures["p50_ratio"] = figures["auth_p50_ms"] / figures["plain_p50_ms"]
    figures["p99_ratio"] = figures["auth_p99_ms"] / figures["plain_p99_ms"]
    figures["requests_each"] = per_round * rounds
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=5000, help="per configuration")
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    figures = measure(args.requests, args.rounds)
    if args.json:
        print(json.dumps({name: round(value, 3) for name, value in figures.items()}))
        return
    print(f"nginx in front of a static upstream, one client, {figures['requests_each']:.0f} "
          f"signed GETs each, interleaved in {args.rounds} rounds")
    print(f"  nginx + upstream, no auth       p50 {figures['plain_p50_ms']:.3f} ms  "
          f"p99 {figures['plain_p99_ms']:.3f} ms")
    print(f"  + auth_request to forward-auth  p50 {figures['auth_p50_ms']:.3f} ms  "
          f"p99 {figures['auth_p99_ms']:.3f} ms")
    print(f"  added                           p50 {figures['added_p50_ms']:+.3f} ms "
          f"({figures['p50_ratio']:.2f}x)  p99 {figures['added_p99_ms']:+.3f} ms "
          f"({figures['p99_ratio']:.2f}x)")


if __name__ == "__main__":
    main()
