"""Real ``keyseal serve`` processes with short deadlines, so slow clients are seen to be cut
off in a fraction of a second. ``KEYSEAL_HARDENING_LONG=1`` runs the floods at full size
(1,100 idle connections, larger WebSocket floods) instead of CI's."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import start_server, stop_server

LONG = bool(os.environ.get("KEYSEAL_HARDENING_LONG"))
#: the deadlines of the servers below; tests wait for them with generous bounds, never exactly
HEADER_TIMEOUT_S = 0.3
BODY_TIMEOUT_S = 0.3


@dataclass
class Served:
    port: int
    pid: int
    home: Path

    @property
    def log(self) -> Path:
        return self.home / "server.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")


def _serve(home: Path, **env: str) -> Iterator[Served]:
    home.mkdir()
    process, url = start_server(home, env=env)
    try:
        yield Served(int(url.rsplit(":", 1)[1]), process.pid, home)
    finally:
        stop_server(process)


@pytest.fixture(scope="module")
def guarded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """The default limits, with deadlines of 0.3 s."""
    yield from _serve(tmp_path_factory.mktemp("hardening") / "home",
                      KEYSEAL_HEADER_TIMEOUT_S=str(HEADER_TIMEOUT_S),
                      KEYSEAL_BODY_TIMEOUT_S=str(BODY_TIMEOUT_S))


@pytest.fixture(scope="module")
def crowded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """At most 20 connections, and 2 s for the headers: long enough to see it full."""
    yield from _serve(tmp_path_factory.mktemp("crowded") / "home",
                      KEYSEAL_MAX_CONNECTIONS="20", KEYSEAL_HEADER_TIMEOUT_S="2")


@pytest.fixture(scope="module")
def flooded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """The default limits and deadlines: a client busy opening hundreds of WebSockets at
    once may take longer than 0.3 s to send its handshake. Its floods of wrong logins are
    about memory, so the guessing budget of their one address is lifted (test_guessing.py
    tests the budget)."""
    yield from _serve(tmp_path_factory.mktemp("flooded") / "home",
                      KEYSEAL_GUESS_ADDRESS_FAILURES="1000000")
