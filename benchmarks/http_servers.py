"""The HTTP figures: one worker each, wrk on loopback (``-t1 -c64``), interleaved rounds.

Servers, all up at once so every round hits each under the same machine load:

- ``keyseal-uvicorn``: ``keyseal serve --rate-limits off`` (uvicorn + Keyseal's protocols);
- ``keyseal-granian``: the same app on granian (benchmarks/granian_app.py);
- ``fastapi-hmac``: a plain FastAPI app with an HMAC dependency, on uvicorn
  (benchmarks/fastapi_peer.py);
- ``nginx-static``: nginx, one worker, serving a file the size of Keyseal's balance answer;
- ``nginx-lua-hmac``: the same nginx with a LuaJIT check of OKX's signature and the keys in
  memory, Kong's hmac-auth's way (benchmarks/lua_peer.py), when Debian's Lua module is there.

Signed requests are signed right before each wrk run (the window is 30 s, a run is shorter);
the replay guard is off for reads by default, so wrk may send the same request again.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import httpx
from tests.conftest import free_port, start_server, stop_server

from keyseal.signing import format_timestamp, sign_request

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
BALANCE = "/api/v5/account/balance"
TIME = "/api/v5/public/time"

_WRK_RPS = re.compile(r"Requests/sec:\s+([\d.]+)")
_WRK_PCT = re.compile(r"^\s+(50|99)%\s+([\d.]+)(us|ms|s)\s*$", re.M)
_UNIT = {"us": 1e-3, "ms": 1.0, "s": 1000.0}


def wrk(url: str, seconds: int, headers: dict[str, str], connections: int = 64
        ) -> dict[str, float]:
    args = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency"]
    for name, value in headers.items():
        args += ["-H", f"{name}: {value}"]
    output = subprocess.run([*args, url], capture_output=True, text=True, check=True).stdout
    if "Non-2xx" in output:
        raise RuntimeError(f"wrk saw refusals; the figures would be wrong:\n{output}")
    found = {f"p{p}_ms": float(v) * _UNIT[u] for p, v, u in _WRK_PCT.findall(output)}
    match = _WRK_RPS.search(output)
    assert match, output
    return {"rps": float(match.group(1)), **found}


def signer(key: dict[str, str]) -> Callable[[], dict[str, str]]:
    def signed() -> dict[str, str]:
        ts = format_timestamp(time.time())
        return {"OK-ACCESS-KEY": key["apiKey"], "OK-ACCESS-TIMESTAMP": ts,
                "OK-ACCESS-SIGN": sign_request(key["secretKey"], ts, "GET", BALANCE),
                "OK-ACCESS-PASSPHRASE": key["passphrase"]}
    return signed


def _wait_up(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{process.args} exited: {log.read_text()[-2000:]}")
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.TransportError:
            time.sleep(0.05)
    raise RuntimeError(f"{process.args} did not start: {log.read_text()[-2000:]}")


@contextmanager
def _process(args: list[str], url: str, log: Path, env: dict[str, str] | None = None
             ) -> Iterator[str]:
    with open(log, "ab") as out:
        process = subprocess.Popen(args, cwd=ROOT, env={**os.environ, **(env or {})},
                                   stdout=out, stderr=subprocess.STDOUT)
    try:
        _wait_up(url, process, log)
        yield url
    finally:
        stop_server(process)


@contextmanager
def keyseal_uvicorn(home: Path, *extra: str) -> Iterator[str]:
    process, url = start_server(home, "--rate-limits", "off", *extra)
    try:
        yield url
    finally:
        stop_server(process)


def keyseal_granian(home: Path) -> Iterator[str]:
    port = free_port()
    return _process([str(BIN / "granian"), "--interface", "asgi", "--factory", "--workers", "1",
                     "--loop", "uvloop", "--host", "127.0.0.1", "--port", str(port),
                     "--log-level", "warning", "benchmarks.granian_app:create"],
                    f"http://127.0.0.1:{port}{TIME}", home / "granian.log",
                    {"KEYSEAL_HOME": str(home), "PYTHONPATH": str(ROOT)})


def fastapi_peer(scratch: Path, key: dict[str, str], body: bytes) -> Iterator[str]:
    port = free_port()
    return _process([str(BIN / "uvicorn"), "--host", "127.0.0.1", "--port", str(port),
                     "--loop", "uvloop", "--http", "httptools", "--no-access-log",
                     "--log-level", "warning", "benchmarks.fastapi_peer:app"],
                    f"http://127.0.0.1:{port}/docs", scratch / "fastapi.log",
                    {"KEYSEAL_PEER_KEYS": json.dumps(
                        {key["apiKey"]: [key["secretKey"], key["passphrase"]]}),
                     "KEYSEAL_PEER_BODY": body.decode(), "PYTHONPATH": str(ROOT)})


def nginx_static(scratch: Path, body: bytes) -> Iterator[str]:
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    root = scratch / "nginx"
    (root / "www" / BALANCE.strip("/")).parent.mkdir(parents=True)
    (root / "www" / BALANCE.strip("/")).write_bytes(body)
    for path in (scratch, *root.rglob("*")):  # nginx's worker runs as www-data: let it read
        path.chmod(0o755)
    port = free_port()
    temp = " ".join(f"{name}_temp_path {root}/{name};" for name in (
        "client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    (root / "nginx.conf").write_text(f"""
worker_processes 1; daemon off; pid {root}/nginx.pid; error_log {root}/error.log;
events {{ worker_connections 4096; }}
http {{ access_log off; {temp}
  server {{ listen 127.0.0.1:{port}; root {root}/www;
    location / {{ default_type application/json; }} }} }}
""")
    return _process([nginx, "-c", str(root / "nginx.conf"), "-p", str(root)],
                    f"http://127.0.0.1:{port}{BALANCE}", root / "out.log")


def _median(runs: list[dict[str, float]]) -> dict[str, float]:
    return {name: round(statistics.median(run[name] for run in runs), 3) for name in runs[0]}


def _check_lua_peer(url: str, signed: dict[str, str]) -> None:
    """The peer must verify, not just serve: a good request passes, a bad signature does not."""
    good = httpx.get(url, headers=signed)
    bad = httpx.get(url, headers={**signed, "OK-ACCESS-SIGN": "A" * 43 + "="})
    if good.status_code != 200 or bad.json()["code"] != "50113":
        raise RuntimeError(f"the Lua peer does not check: {good.text!r}, {bad.text!r}")


def bench_servers(home: Path, scratch: Path, key: dict[str, str], seconds: int, rounds: int,
                  *, have_nginx: bool, have_lua: bool = False, lua_only: bool = False
                  ) -> dict[str, dict[str, float]]:
    """Median of ``rounds`` interleaved runs for each (server, endpoint). ``lua_only``: Keyseal
    on uvicorn, nginx static and the Lua peer alone (``run.py --only lua``)."""
    signed = signer(key)
    with ExitStack() as stack:
        uvicorn_url = stack.enter_context(keyseal_uvicorn(home))
        body = httpx.get(uvicorn_url + BALANCE, headers=signed()).content
        assert json.loads(body)["code"] == "0", body
        if lua_only:
            from lua_peer import lua_peer
            lua_url = stack.enter_context(lua_peer(scratch, key, body))
            _check_lua_peer(lua_url, signed())
            runs = {"keyseal-uvicorn balance": (uvicorn_url + BALANCE, True),
                    "nginx-static balance-sized": (
                        stack.enter_context(nginx_static(scratch, body)), False),
                    "nginx-lua-hmac balance": (lua_url, True)}
            return _interleaved(runs, signed, seconds, rounds, body)
        granian_url = stack.enter_context(keyseal_granian(home)).removesuffix(TIME)
        peer_url = stack.enter_context(fastapi_peer(scratch, key, body)).removesuffix("/docs")
        runs: dict[str, tuple[str, bool]] = {
            "keyseal-uvicorn balance": (uvicorn_url + BALANCE, True),
            "keyseal-uvicorn time": (uvicorn_url + TIME, False),
            "keyseal-granian balance": (granian_url + BALANCE, True),
            "keyseal-granian time": (granian_url + TIME, False),
            "fastapi-hmac balance": (peer_url + BALANCE, True),
        }
        if have_nginx:
            runs["nginx-static balance-sized"] = (
                stack.enter_context(nginx_static(scratch, body)), False)
        if have_lua:
            from lua_peer import lua_peer
            lua_url = stack.enter_context(lua_peer(scratch, key, body))
            _check_lua_peer(lua_url, signed())
            runs["nginx-lua-hmac balance"] = (lua_url, True)
        return _interleaved(runs, signed, seconds, rounds, body)


def _interleaved(runs: dict[str, tuple[str, bool]], signed: Callable[[], dict[str, str]],
                 seconds: int, rounds: int, body: bytes) -> dict[str, dict[str, float]]:
    """Warm each server, then ``rounds`` rounds of one wrk run per server, in turn."""
    for name, (url, is_signed) in runs.items():  # warm each (key cache, imports)
        if is_signed:  # 64 at once on a cold key meet the guessing budget (70081 while the
            wrk(url, 1, signed(), connections=2)  # first argon2 check runs): two first
        try:
            wrk(url, 1, signed() if is_signed else {})
        except RuntimeError as error:
            raise RuntimeError(f"{name}: {error}") from None
    found: dict[str, list[dict[str, float]]] = {name: [] for name in runs}
    for _ in range(rounds):
        for name, (url, is_signed) in runs.items():
            found[name].append(wrk(url, seconds, signed() if is_signed else {}))
    results = {name: _median(r) for name, r in found.items()}
    results["_body_bytes"] = {"bytes": len(body)}
    return results


def bench_workers(home: Path, key: dict[str, str], seconds: int, rounds: int, workers: int
                  ) -> dict[str, dict[str, float]]:
    """Signed balance on 1 worker and on ``workers`` (the load generator shares the cores)."""
    signed = signer(key)
    found: dict[str, list[dict[str, float]]] = {"1 worker": [], f"{workers} workers": []}
    # workers share their replay memory and limits through Redis (--workers needs it); the
    # one worker is given it too, so that both pay the same for it
    redis = ("--redis", os.environ.get("KEYSEAL_REDIS_URL", "redis://127.0.0.1:6379/0"))
    with keyseal_uvicorn(home, *redis) as one, \
            keyseal_uvicorn(home, "--workers", str(workers), *redis) as many:
        for url in (one, many):
            wrk(url + BALANCE, 1, signed(), connections=2)  # see _interleaved
            wrk(url + BALANCE, 1, signed())
        for _ in range(rounds):
            found["1 worker"].append(wrk(one + BALANCE, seconds, signed()))
            found[f"{workers} workers"].append(wrk(many + BALANCE, seconds, signed()))
    return {name: _median(r) for name, r in found.items()}
