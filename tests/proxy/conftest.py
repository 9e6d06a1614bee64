"""Real nginx and Caddy in front of a small real upstream, asking a real ``keyseal
forward-auth`` process, each on a free loopback port, configured with the README's own
blocks (ports changed), so the README cannot drift from what is tested.

Without the ``nginx`` or ``caddy`` binary the tests that need it skip, saying so; with
``KEYSEAL_REQUIRE_SERVICES=1`` (CI) they fail instead."""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from keyseal.services.runtime import Runtime, open_runtime
from keyseal.settings import Settings
from tests.conftest import KEYSEAL, free_port, make_key, signed_headers

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
#: the addresses the README's blocks use, replaced by free ports here
VERIFIER, UPSTREAM, PROXY = "127.0.0.1:8401", "127.0.0.1:8500", "127.0.0.1:8080"
RULES = """\
default = "method"
rate = "off"

[routes]
"GET /orders" = "read"
"POST /orders" = "trade"
"/payouts/*" = "withdraw"
"/health" = "public"
"GET /limited" = { permission = "read", rate = "2/3600s" }
"""


def readme_block(language: str) -> str:
    """The one fenced block of ``language`` in the README's forward-auth section."""
    section = README.read_text().split("### Forward-auth", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(rf"^```{language}\n(.*?)^```$", section, re.S | re.M)
    assert len(blocks) == 1, f"expected one {language} block in the README, found {len(blocks)}"
    return str(blocks[0])


def binary(name: str) -> str:
    found = shutil.which(name) or shutil.which(name, path="/usr/sbin:/usr/bin")
    if found is None:
        reason = f"{name} is not installed (apt-get install {name})"
        if os.environ.get("KEYSEAL_REQUIRE_SERVICES"):
            pytest.fail(f"{reason}, and KEYSEAL_REQUIRE_SERVICES is set")
        pytest.skip(reason)
    return found


# -- the upstream: answers with what reached it ---------------------------------------------
class _Upstream(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    seen: list[dict[str, Any]]

    def _answer(self) -> None:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            body = b""
            while (size := int(self.rfile.readline().split(b";")[0], 16)) > 0:
                body += self.rfile.read(size)
                self.rfile.readline()
            self.rfile.readline()
        else:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        seen = {"method": self.command, "target": self.path, "body": body.decode("latin-1"),
                "headers": {k.lower(): v for k, v in self.headers.items()}}
        self.seen.append(seen)
        reply = json.dumps({"code": "0", "msg": "", "data": [seen]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _answer

    def log_message(self, *args: Any) -> None:
        pass


@dataclass
class Upstream:
    url: str
    address: str
    seen: list[dict[str, Any]]
    server: ThreadingHTTPServer


@pytest.fixture(scope="session")
def upstream() -> Iterator[Upstream]:
    seen: list[dict[str, Any]] = []
    handler = type("Handler", (_Upstream,), {"seen": seen})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    port = server.server_address[1]
    yield Upstream(f"http://127.0.0.1:{port}", f"127.0.0.1:{port}", seen, server)
    server.shutdown()
    server.server_close()


# -- keyseal forward-auth ---------------------------------------------------------------------
@dataclass
class Verifier:
    address: str
    home: Path
    rt: Runtime
    process: subprocess.Popen[bytes]

    def key(self, perm: str = "read_only", ip: str | None = None) -> dict[str, str]:
        return make_key(self.rt, perm=perm, ip=ip)

    def log(self) -> str:
        return (self.home / "forward-auth.log").read_text()


def wait_for_port(address: str, process: subprocess.Popen[bytes], log: Path) -> None:
    host, port = address.rsplit(":", 1)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{process.args!r} exited: {log.read_text()}")
        try:
            socket.create_connection((host, int(port)), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    process.kill()
    raise RuntimeError(f"{process.args!r} did not start: {log.read_text()}")


def stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def start_verifier(home: Path, *extra: str) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    log = home / "forward-auth.log"
    with open(log, "ab") as out:
        process = subprocess.Popen([KEYSEAL, "forward-auth", "--port", str(port), *extra],
                                   env={**os.environ, "KEYSEAL_HOME": str(home)}, stdout=out,
                                   stderr=subprocess.STDOUT)
    address = f"127.0.0.1:{port}"
    wait_for_port(address, process, log)
    return process, address


@pytest.fixture(scope="session")
def verifier(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Verifier]:
    home = tmp_path_factory.mktemp("forward-auth-home")
    rt = open_runtime(Settings(home=home))  # creates the home before the server opens it
    (home / "routes.toml").write_text(RULES)
    process, address = start_verifier(home, "--routes", str(home / "routes.toml"),
                                      "--log-level", "info")
    yield Verifier(address, home, rt, process)
    stop(process)
    rt.close()


# -- the proxies ------------------------------------------------------------------------------
@dataclass
class Proxy:
    name: str
    url: str
    #: nginx only: the same configuration without the branch that verifies bodies in full
    auth_request_only_url: str | None = None
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    def client(self, source: str = "127.0.0.1") -> httpx.Client:
        """A client whose connections come from ``source`` (127.0.0.2, …: still loopback)."""
        transport = httpx.HTTPTransport(local_address=source)
        return httpx.Client(base_url=self.url, transport=transport, timeout=10)


def with_ports(config: str, verifier: str, upstream: str, proxy: str) -> str:
    for placeholder, address in ((VERIFIER, verifier), (UPSTREAM, upstream), (PROXY, proxy)):
        assert placeholder in config, placeholder
        config = config.replace(placeholder, address)
    return config


NGINX_MAIN = """\
daemon off;
master_process off;
pid {run}/nginx.pid;
error_log {run}/error.log notice;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {run}/body;
    proxy_temp_path {run}/proxy;
    fastcgi_temp_path {run}/fastcgi;
    uwsgi_temp_path {run}/uwsgi;
    scgi_temp_path {run}/scgi;
    include {run}/site.conf;
    include {run}/auth-request-only.conf;
}}
"""


def auth_request_only(config: str) -> str:
    """The README's server block without its body branch: what a team gets that copies only
    the ``auth_request`` part."""
    server = config[config.index("server {"):]
    without = server.replace("        error_page 418 = @keyseal_body;", "")
    without = re.sub(r"^\s*if \(\$keyseal_has_body\).*\n", "", without, flags=re.M)
    # (not a bare "418": a random port such as 54183 holds those digits)
    assert "keyseal_has_body" not in without and not re.search(r"\b418\b", without)
    return without


def start_nginx(run: Path, verifier: str, upstream: str) -> Proxy:
    nginx = binary("nginx")
    run.mkdir(parents=True, exist_ok=True)
    port, other = free_port(), free_port()
    site = with_ports(readme_block("nginx"), verifier, upstream, f"127.0.0.1:{port}")
    (run / "site.conf").write_text(site)
    (run / "auth-request-only.conf").write_text(
        auth_request_only(site).replace(f"127.0.0.1:{port};", f"127.0.0.1:{other};", 1))
    (run / "nginx.conf").write_text(NGINX_MAIN.format(run=run))
    log = run / "nginx.out"
    with open(log, "ab") as out:
        process = subprocess.Popen([nginx, "-p", str(run), "-c", str(run / "nginx.conf"),
                                    "-e", str(run / "error.log")], stdout=out,
                                   stderr=subprocess.STDOUT)
    for listening in (port, other):
        wait_for_port(f"127.0.0.1:{listening}", process, log)
    return Proxy("nginx", f"http://127.0.0.1:{port}", f"http://127.0.0.1:{other}", process)


CADDY_GLOBAL = "{\n    admin off\n    auto_https off\n}\n\n"


def start_caddy(run: Path, verifier: str, upstream: str) -> Proxy:
    caddy = binary("caddy")
    run.mkdir(parents=True, exist_ok=True)
    port = free_port()
    site = with_ports(readme_block("caddy"), verifier, upstream, f"127.0.0.1:{port}")
    (run / "Caddyfile").write_text(CADDY_GLOBAL + site)
    log = run / "caddy.out"
    env = {**os.environ, "HOME": str(run), "XDG_DATA_HOME": str(run / "data"),
           "XDG_CONFIG_HOME": str(run / "config")}
    with open(log, "ab") as out:
        process = subprocess.Popen([caddy, "run", "--config", str(run / "Caddyfile"),
                                    "--adapter", "caddyfile"], stdout=out,
                                   stderr=subprocess.STDOUT, env=env)
    wait_for_port(f"127.0.0.1:{port}", process, log)
    return Proxy("caddy", f"http://127.0.0.1:{port}", None, process)


@pytest.fixture(scope="session")
def nginx(tmp_path_factory: pytest.TempPathFactory, verifier: Verifier,
          upstream: Upstream) -> Iterator[Proxy]:
    proxy = start_nginx(tmp_path_factory.mktemp("nginx"), verifier.address, upstream.address)
    yield proxy
    assert proxy.process is not None
    stop(proxy.process)


@pytest.fixture(scope="session")
def caddy(tmp_path_factory: pytest.TempPathFactory, verifier: Verifier,
          upstream: Upstream) -> Iterator[Proxy]:
    proxy = start_caddy(tmp_path_factory.mktemp("caddy"), verifier.address, upstream.address)
    yield proxy
    assert proxy.process is not None
    stop(proxy.process)


@pytest.fixture(params=["nginx", "caddy"])
def proxy(request: pytest.FixtureRequest) -> Proxy:
    """Each test runs through nginx and through Caddy."""
    found: Proxy = request.getfixturevalue(request.param)
    return found


def signed(key: dict[str, str], method: str, target: str, body: str = "",
           **kwargs: Any) -> dict[str, str]:
    return signed_headers(key, method, target, body, **kwargs)


__all__ = ["Proxy", "Upstream", "Verifier", "signed"]
