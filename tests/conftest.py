"""Shared fixtures: databases (SQLite always, PostgreSQL when named), an in-process runtime,
and ``live_server``: a real ``keyseal serve`` process on a free port."""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from keyseal.clock import ManualClock
from keyseal.domain.commands import CreateAccount, CreateKey, Credit
from keyseal.domain.keys import Environment
from keyseal.http.okx.subaccount import created_key_fields
from keyseal.services import accounts as account_service
from keyseal.services import keys as key_service
from keyseal.services import ledger as ledger_service
from keyseal.services.runtime import Runtime, open_runtime
from keyseal.settings import Settings

POSTGRES_ENV = "KEYSEAL_TEST_POSTGRES_URL"
KEYSEAL = str(Path(sys.executable).parent / "keyseal")
PASSPHRASE = "Sandbox-Pass1"
START = 1_795_300_000.0  # 2026-11-22, a fixed "now" for tests with a manual clock


def postgres_url() -> str | None:
    url = os.environ.get(POSTGRES_ENV)
    if not url and os.environ.get("KEYSEAL_REQUIRE_SERVICES"):
        raise RuntimeError(f"{POSTGRES_ENV} must be set when KEYSEAL_REQUIRE_SERVICES is")
    return url


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Each store test runs on SQLite and on PostgreSQL (a fresh schema per test)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'keyseal.db'}"
        return
    base = postgres_url()
    if not base:
        pytest.skip(f"PostgreSQL not configured: set {POSTGRES_ENV}=postgresql://user@host/db")
    from keyseal.settings import normalise_db_url
    from keyseal.store.database import Database

    schema = f"ks_{uuid.uuid4().hex[:12]}"
    admin = Database(normalise_db_url(base), pooled=False)
    with admin.write() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in base else "?"
    try:
        yield f"{base}{sep}options=-csearch_path%3D{schema}"
    finally:
        with admin.write() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


@pytest.fixture
def rt(db_url: str, tmp_path: Path, clock: ManualClock) -> Iterator[Runtime]:
    """A migrated runtime on each database, with a manual clock."""
    runtime = open_runtime(Settings(home=tmp_path / "home", db_url=db_url), clock=clock)
    yield runtime
    runtime.close()


@pytest.fixture
def sqlite_rt(tmp_path: Path, clock: ManualClock) -> Iterator[Runtime]:
    """A runtime on SQLite only, for tests about logic above the store."""
    runtime = open_runtime(Settings(home=tmp_path / "home"), clock=clock)
    yield runtime
    runtime.close()


def new_email() -> str:
    return f"user-{uuid.uuid4().hex[:10]}@example.com"


def make_account(rt: Runtime, *, kyc_level: int = 2, credit: dict[str, str] | None = None,
                 demo: bool = False) -> str:
    email = new_email()
    account_service.create_account(rt, CreateAccount(email, "correct horse 1", kyc_level=kyc_level))
    environment = Environment.DEMO if demo else Environment.LIVE
    for ccy, amount in (credit or {}).items():
        ledger_service.credit(rt, Credit(email, ccy, amount, environment=environment))
    return email


def make_key(rt: Runtime, email: str | None = None, *, perm: str = "read_only",
             ip: str | None = None, demo: bool = False, label: str | None = None,
             credit: dict[str, str] | None = None) -> dict[str, str]:
    if email is None:
        email = make_account(rt, credit=credit, demo=demo)
    created = key_service.create_key(
        rt, CreateKey(email, label=label or f"k{secrets.token_hex(4)}", passphrase=PASSPHRASE, perm=perm,
        ip=ip, demo=demo))
    return created_key_fields(created)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class LiveServer:
    """A real ``keyseal serve`` process. Accounts and keys are made through the same
    services the CLI calls, on the same home, so tests need not spawn a process each."""

    url: str
    ws_url: str
    home: Path
    process: subprocess.Popen[bytes]
    rt: Runtime
    env: dict[str, str] = field(default_factory=dict)

    def cli(self, *args: str, input: str | None = None, check: bool = True
            ) -> subprocess.CompletedProcess[str]:
        return subprocess.run([KEYSEAL, *args], input=input, text=True, capture_output=True,
                              env=self.env, check=check, timeout=60)

    def new_account(self, kyc_level: int = 2, credit: dict[str, str] | None = None,
                    demo: bool = False) -> str:
        return make_account(self.rt, kyc_level=kyc_level,
                            credit={"USDT": "10000", "BTC": "1"} if credit is None else credit,
                            demo=demo)

    def new_key(self, email: str | None = None, perm: str = "read_only", ip: str | None = None,
                demo: bool = False) -> dict[str, str]:
        if email is None:
            email = self.new_account(demo=demo)
        return make_key(self.rt, email, perm=perm, ip=ip, demo=demo)


def start_server(home: Path, *extra: str, env: dict[str, str] | None = None
                 ) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = {**os.environ, "KEYSEAL_HOME": str(home), **(env or {})}
    log = open(home / "server.log", "ab")  # noqa: SIM115 - closed with the process
    process = subprocess.Popen([KEYSEAL, "serve", "--port", str(port), *extra], env=env,
                               stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"keyseal serve exited: {(home / 'server.log').read_text()}")
        try:
            if httpx.get(url + "/api/v5/public/time", timeout=1).status_code == 200:
                return process, url
        except httpx.TransportError:
            time.sleep(0.05)
    process.kill()
    raise RuntimeError(f"keyseal serve did not start: {(home / 'server.log').read_text()}")


def stop_server(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        process.kill()


@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    home = tmp_path_factory.mktemp("keyseal-home")
    process, url = start_server(home)
    rt = open_runtime(Settings(home=home))
    env = {**os.environ, "KEYSEAL_HOME": str(home)}
    server = LiveServer(url, url.replace("http://", "ws://") + "/ws/v5/private", home, process,
                        rt, env)
    yield server
    stop_server(process)
    rt.close()


def signed_headers(key: dict[str, str], method: str, target: str, body: str = "", *,
                   timestamp: str | None = None, demo: bool = False,
                   passphrase: str | None = None, secret: str | None = None) -> dict[str, str]:
    """The four OK-ACCESS headers as an OKX client sends them."""
    from keyseal.signing import format_timestamp, sign_request

    ts = timestamp or format_timestamp(time.time())
    headers = {
        "OK-ACCESS-KEY": key["apiKey"],
        "OK-ACCESS-SIGN": sign_request(secret or key["secretKey"], ts, method, target, body),
        "OK-ACCESS-TIMESTAMP": ts,
        "OK-ACCESS-PASSPHRASE": passphrase or key["passphrase"],
        "Content-Type": "application/json",
    }
    if demo:
        headers["x-simulated-trading"] = "1"
    return headers


#: what Keyseal may add beside OKX's three fields (OKX clients ignore unknown fields): the
#: signature explanation of a 50113 and the clock skew of a 50102
EXTRA_FIELDS = {"explain", "skewMs"}


def envelope(response: httpx.Response) -> dict[str, Any]:
    body = response.json()
    assert {"code", "msg", "data"} <= set(body) <= {"code", "msg", "data", *EXTRA_FIELDS}, body
    assert isinstance(body["code"], str)
    return body
