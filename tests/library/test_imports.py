"""The core package and the framework-free part of library mode need no framework."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_keyseal_and_its_middleware_import_without_starlette_or_fastapi() -> None:
    code = ("import sys, keyseal, keyseal.http.app, keyseal.library; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('starlette', 'fastapi')))")
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                          check=True, timeout=60)
    assert done.stdout.strip() == "[]"
