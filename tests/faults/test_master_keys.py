"""The master key: one keyring per database, checked by fingerprint; rotation, retirement.

Driven through the real CLI (Typer's runner, in-process) on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, text
from typer.testing import CliRunner, Result

from keyseal.cli import app
from keyseal.services import keys as key_service
from keyseal.services.runtime import open_runtime
from keyseal.settings import Settings
from tests.conftest import make_key

Cli = Callable[..., Result]


@pytest.fixture
def cli(db_url: str, monkeypatch: pytest.MonkeyPatch) -> Cli:
    """``cli(home, *args)``: the keyseal command on the test database with that home."""
    monkeypatch.delenv("KEYSEAL_MASTER_KEY", raising=False)
    runner = CliRunner()

    def run(home: Path, *args: str, input: str | None = None) -> Result:
        return runner.invoke(app, [*args, "--home", str(home), "--db", db_url], input=input)
    return run


def _file_versions(home: Path) -> list[int]:
    keys = json.loads((home / "master.key").read_text())["keys"]
    return sorted(int(item.split(":")[0]) for item in keys.split(","))


def _sealed_versions(db_url: str, home: Path) -> list[int]:
    from keyseal.store.tables import api_keys

    rt = open_runtime(Settings(home=home, db_url=db_url), pooled=False)
    try:
        with rt.db.read() as conn:
            return sorted(int.from_bytes(blob[:2], "big") for blob in conn.execute(
                select(api_keys.c.secret_sealed)).scalars())
    finally:
        rt.close()


def _new_key(cli: Cli, home: Path, email: str) -> dict[str, Any]:
    made = cli(home, "key", "create", "--account", email, "--label",
               f"k{os.urandom(3).hex()}", "--json", input="Passw0rd!x\n")
    assert made.exit_code == 0, made.output
    return dict(json.loads(made.stdout))


@pytest.fixture
def home_a(cli: Cli, tmp_path: Path) -> Path:
    """A home whose master key seals one API key in the test database."""
    home = tmp_path / "home-a"
    created = cli(home, "account", "create", "ops@example.com", "--kyc-level", "2",
                  input="long password 1\n")
    assert created.exit_code == 0, created.output
    _new_key(cli, home, "ops@example.com")
    return home


def test_a_second_home_on_the_same_database_is_refused_with_one_line(
        cli: Cli, home_a: Path, tmp_path: Path) -> None:
    home_b = tmp_path / "home-b"
    refused = cli(home_b, "key", "list", "--account", "ops@example.com")
    assert refused.exit_code == 1, refused.output
    line = refused.stderr.strip()
    assert "\n" not in line and str(home_b) in line and "--home" in line
    assert not (home_b / "master.key").exists()  # no second master key was made
    assert cli(home_a, "key", "list", "--account", "ops@example.com").exit_code == 0


def test_a_database_sealed_before_fingerprints_existed_still_refuses_a_new_home(
        cli: Cli, home_a: Path, tmp_path: Path, db_url: str) -> None:
    rt = open_runtime(Settings(home=home_a, db_url=db_url), pooled=False)
    with rt.db.write() as conn:  # as a database migrated before 0003 looks
        conn.execute(text("DELETE FROM master_keys"))
    rt.close()
    home_b = tmp_path / "home-b"
    assert cli(home_b, "key", "list", "--account", "ops@example.com").exit_code == 1
    assert not (home_b / "master.key").exists()
    assert cli(home_a, "key", "list", "--account", "ops@example.com").exit_code == 0


def test_init_creates_a_home_explicitly_and_says_so(cli: Cli, tmp_path: Path) -> None:
    home = tmp_path / "fresh"
    created = cli(home, "init")
    assert created.exit_code == 0, created.output
    assert str(home) in created.stderr and "master key v1" in created.stderr
    assert _file_versions(home) == [1]
    again = cli(home, "init")
    assert again.exit_code == 0 and "already" in again.stderr
    assert cli(tmp_path / "other", "init").exit_code == 1  # the database has a master key


def test_a_running_server_seals_with_the_newest_version_after_a_rotation(
        cli: Cli, home_a: Path, db_url: str) -> None:
    server = open_runtime(Settings(home=home_a, db_url=db_url))  # made before the rotation
    try:
        rotated = cli(home_a, "master-key", "rotate", "--json")
        assert rotated.exit_code == 0, rotated.output
        assert json.loads(rotated.stdout)["version"] == 2
        fresh = make_key(server)  # sealed by the server that has not restarted
        entry = key_service.load_entry(server, fresh["apiKey"])
        assert entry is not None and entry.secret == fresh["secretKey"].encode()
    finally:
        server.close()
    assert _sealed_versions(db_url, home_a) == [2, 2]


def test_retire_removes_a_version_no_row_uses(cli: Cli, home_a: Path, db_url: str) -> None:
    assert cli(home_a, "master-key", "rotate").exit_code == 0
    newest = cli(home_a, "master-key", "retire", "2")
    assert newest.exit_code == 1 and "newest" in newest.stderr
    retired = cli(home_a, "master-key", "retire", "1")
    assert retired.exit_code == 0, retired.output
    assert _file_versions(home_a) == [2]
    unknown = cli(home_a, "master-key", "retire", "1")
    assert unknown.exit_code == 1 and "v1" in unknown.stderr
    listed = cli(home_a, "key", "list", "--account", "ops@example.com", "--json")
    assert listed.exit_code == 0, listed.output


def test_retire_refuses_a_version_a_row_still_uses(cli: Cli, home_a: Path, db_url: str,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    from keyseal.services import master_keys

    monkeypatch.setattr(master_keys, "reseal_api_secrets", lambda conn, ring: 0)  # re-seal none
    assert cli(home_a, "master-key", "rotate").exit_code == 0
    monkeypatch.undo()
    in_use = cli(home_a, "master-key", "retire", "1")
    assert in_use.exit_code == 1 and "reseal" in in_use.stderr
    assert _file_versions(home_a) == [1, 2]


def test_a_rotation_failing_midway_adds_no_version(cli: Cli, home_a: Path, db_url: str,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    _new_key(cli, home_a, "ops@example.com")  # two secrets: the failure strikes after the first
    from keyseal.store import keys as key_rows

    calls: list[str] = []
    real = key_rows.replace_sealed_secret

    def fails_second_time(conn: Any, api_key: str, sealed: bytes) -> None:
        calls.append(api_key)
        if len(calls) == 2:
            raise OSError("disk full")
        real(conn, api_key, sealed)

    monkeypatch.setattr(key_rows, "replace_sealed_secret", fails_second_time)
    failed = cli(home_a, "master-key", "rotate")
    assert failed.exit_code == 1 and len(calls) == 2
    assert "changed nothing" in failed.stderr and "\n" not in failed.stderr.strip()
    monkeypatch.undo()
    assert _file_versions(home_a) == [1]
    assert _sealed_versions(db_url, home_a) == [1, 1]
    rotated = cli(home_a, "master-key", "rotate", "--json")
    assert json.loads(rotated.stdout) == {"version": 2, "resealed": 2}


def test_a_key_file_others_can_read_is_refused(cli: Cli, home_a: Path) -> None:
    (home_a / "master.key").chmod(0o644)
    refused = cli(home_a, "key", "list", "--account", "ops@example.com")
    assert refused.exit_code == 1
    assert "chmod 600" in refused.stderr and "\n" not in refused.stderr.strip()


def test_a_version_left_in_the_key_file_by_a_crashed_rotation_never_seals(
        cli: Cli, home_a: Path, db_url: str) -> None:
    from keyseal.crypto.keyring import load_keyring, save_keyring

    ring = load_keyring(home_a, environ={})
    assert ring is not None
    save_keyring(home_a, ring.with_new_version())  # on disk, but the commit never happened
    rt = open_runtime(Settings(home=home_a, db_url=db_url))
    try:
        make_key(rt)
    finally:
        rt.close()
    assert _sealed_versions(db_url, home_a) == [1, 1]
    rotated = cli(home_a, "master-key", "rotate", "--json")
    assert json.loads(rotated.stdout) == {"version": 2, "resealed": 2}
    assert _sealed_versions(db_url, home_a) == [2, 2]
