"""The key holder's commands and ``--help`` start without loading the server: no SQLAlchemy,
no Alembic, no HTTP server, no services (benchmarks/startup.py prints the times)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

PROBE = """
import json, sys
sys.argv = ["keyseal", *json.loads(sys.argv[1])]
from keyseal.cli import main
try:
    main()
except SystemExit:
    pass
def run(name):  # a LazyLoader module that nothing has touched yet has not run
    return type(sys.modules[name]).__name__ != "_LazyModule"
loaded = [m for m in list(sys.modules) if run(m) and (
          m.split(".")[0] in ("sqlalchemy", "alembic", "uvicorn", "psycopg")
          or m.startswith(("keyseal.store", "keyseal.services.", "keyseal.http")))]
print(json.dumps(sorted(loaded)), file=sys.stderr)
"""


def loaded_by(args: list[str], env: dict[str, str]) -> list[str]:
    done = subprocess.run([sys.executable, "-c", PROBE, json.dumps(args)], env=env,
                          capture_output=True, text=True, timeout=60)
    return list(json.loads(done.stderr.strip().splitlines()[-1]))


@pytest.mark.parametrize("args", [["--help"], ["key", "list", "--help"], ["scan", "{empty}"],
                                  ["vault", "list"]])
def test_a_command_that_needs_no_server_loads_none_of_it(args: list[str], tmp_path: Path
                                                         ) -> None:
    (tmp_path / "empty").mkdir()
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "KEYSEAL_VAULT": str(tmp_path / "v"),
           "KEYSEAL_VAULT_PASSWORD": "a vault password", "PYTHONPATH": ":".join(sys.path)}
    args = [a.format(empty=tmp_path / "empty") for a in args]
    assert loaded_by(args, env) == []
