"""Several real processes sharing the machine's PostgreSQL and Redis: a database of the test
run's own (``CREATE DATABASE``), a Redis key prefix of each test's own (so tests never see
each other's limits or pushes), and, where a test stops Redis, a ``redis-server`` of its own
on a free port.

Without PostgreSQL or Redis named (``KEYSEAL_TEST_POSTGRES_URL``, ``KEYSEAL_TEST_REDIS_URL``)
the tests skip, saying so; with ``KEYSEAL_REQUIRE_SERVICES=1`` (CI) they fail instead."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import pytest
import redis

from tests.conftest import free_port

REDIS_ENV = "KEYSEAL_TEST_REDIS_URL"
POSTGRES_ENV = "KEYSEAL_TEST_POSTGRES_URL"


def _required(name: str) -> str:
    url = os.environ.get(name, "")
    if not url:
        reason = f"{name} is not set"
        if os.environ.get("KEYSEAL_REQUIRE_SERVICES"):
            pytest.fail(f"{reason}, and KEYSEAL_REQUIRE_SERVICES is set")
        pytest.skip(reason)
    return url


@pytest.fixture
def redis_url() -> str:
    return _required(REDIS_ENV)


@pytest.fixture
def prefix() -> str:
    """A Redis key and channel prefix of this test's own."""
    return f"kstest-{uuid.uuid4().hex[:10]}:"


@pytest.fixture(scope="session")
def pg_server() -> str:
    return _required(POSTGRES_ENV)


@pytest.fixture
def pg_database(pg_server: str) -> Iterator[str]:
    """A database of this test's own on the machine's PostgreSQL, dropped afterwards."""
    name = f"ks_scale_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(pg_server, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = pg_server.rsplit("/", 1)[0]
    try:
        yield f"{base}/{name}"
    finally:
        with psycopg.connect(pg_server, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@dataclass
class OwnRedis:
    """A ``redis-server`` of the test's own, which it may stop and start again."""

    port: int
    workdir: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        binary = shutil.which("redis-server") or "/usr/bin/redis-server"
        self.process = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(self.workdir)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                if redis.Redis(port=self.port, socket_timeout=0.5).ping():
                    return
            except redis.ConnectionError:
                time.sleep(0.02)
        raise RuntimeError("redis-server did not start")

    def stop(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait(10)
            self.process = None


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[OwnRedis]:
    if not (shutil.which("redis-server") or Path("/usr/bin/redis-server").exists()):
        if os.environ.get("KEYSEAL_REQUIRE_SERVICES"):
            pytest.fail("redis-server is not installed, and KEYSEAL_REQUIRE_SERVICES is set")
        pytest.skip("redis-server is not installed (apt-get install redis-server)")
    server = OwnRedis(free_port(), tmp_path)
    server.start()
    yield server
    server.stop()


@dataclass
class CuttableProxy:
    """A TCP proxy the test can cut (every connection dropped, new ones refused at once)
    and mend, standing for a database that becomes unreachable."""

    target: tuple[str, int]
    port: int = field(default_factory=free_port)
    _listener: socket.socket | None = None
    _open: list[socket.socket] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._open += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=_pipe, args=(a, b), daemon=True).start()

    def cut(self) -> None:
        if self._listener is not None:
            # shutdown first: a bare close leaves it listening while accept() blocks on it
            with contextlib.suppress(OSError):
                self._listener.shutdown(socket.SHUT_RDWR)
            self._listener.close()
            self._listener = None
        with self._lock:
            doomed, self._open = self._open, []
        for sock in doomed:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def mend(self) -> None:
        self.start()


def _pipe(source: socket.socket, sink: socket.socket) -> None:
    try:
        while data := source.recv(65536):
            sink.sendall(data)
    except OSError:
        pass
    finally:
        for sock in (source, sink):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
