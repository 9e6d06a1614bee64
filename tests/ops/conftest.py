"""Real ``keyseal serve`` processes for the operations surface: health, metrics, logs,
workers and shutdown."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from keyseal.services.runtime import Runtime, open_runtime
from keyseal.settings import Settings
from tests.conftest import KEYSEAL, start_server, stop_server


@dataclass
class Served:
    url: str
    home: Path
    process: subprocess.Popen[bytes]

    @property
    def log(self) -> str:
        return (self.home / "server.log").read_text(errors="replace")

    def wait_for_log(self, text: str, timeout: float = 15.0) -> None:
        """Until ``text`` is in the server's log (what it says it did, not a guess at time)."""
        deadline = time.monotonic() + timeout
        while text not in self.log:
            if time.monotonic() > deadline:
                raise AssertionError(f"{text!r} never logged:\n{self.log}")
            time.sleep(0.02)


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[object]:
    """``serve(*args, env=...)``: a ``keyseal serve`` on a free port in a fresh home."""
    started: list[Served] = []

    def start(*args: str, env: dict[str, str] | None = None, name: str = "home") -> Served:
        home = tmp_path / name
        home.mkdir(exist_ok=True)
        process, url = start_server(home, *args, env=env)
        started.append(Served(url, home, process))
        return started[-1]

    yield start
    for served in started:
        stop_server(served.process)


@pytest.fixture
def home_rt(tmp_path: Path) -> Iterator[Runtime]:
    """The runtime of ``tmp_path/home``, made before any server (as ``keyseal init`` would)."""
    runtime = open_runtime(Settings(home=tmp_path / "home"))
    yield runtime
    runtime.close()


def keyseal(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None
            ) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("KEYSEAL_")}
    return subprocess.run([KEYSEAL, *args], env={**clean, **(env or {})}, text=True,
                          capture_output=True, timeout=60, cwd=cwd)
