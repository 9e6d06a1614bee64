"""Arrows point inward (DESIGN.md, docs/decisions/0003): the entry points (the OKX surface,
the CLI, library mode and forward-auth) reach the store and the crypto only through
services, so every rule lives in one place."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src" / "keyseal"
ENTRY_POINTS = ("http", "cli", "library")
INNER = ("keyseal.store", "keyseal.crypto")


def imported_modules(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


FILES = sorted(p for package in ENTRY_POINTS for p in (SRC / package).rglob("*.py"))


@pytest.mark.parametrize("path", FILES, ids=[str(p.relative_to(SRC)) for p in FILES])
def test_an_entry_point_imports_neither_the_store_nor_the_crypto(path: Path) -> None:
    reaching = sorted(m for m in imported_modules(path)
                      if any(m == inner or m.startswith(inner + ".") for inner in INNER))
    assert reaching == [], f"{path.relative_to(SRC)} imports {reaching}; go through services"


def test_the_check_sees_an_import_of_the_store(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("from keyseal import store\nfrom keyseal.crypto.keyring import Keyring\n")
    assert {"keyseal.store", "keyseal.crypto.keyring"} <= imported_modules(bad)
