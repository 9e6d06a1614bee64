"""The operator's first hour (issue 8): one home, said out loud; no tracebacks for everyday
failures; installs that work.

Each failure runs the real ``keyseal`` command and checks the exit code, that stderr is one
line saying what to do (never a traceback), and that nothing changed on disk. The home tests
run on SQLite (the database in the home) and on PostgreSQL (``--db``).
"""

from __future__ import annotations

import hashlib
import os
import re
import socket
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from keyseal.cli import app
from tests.conftest import KEYSEAL, free_port

ROOT = Path(__file__).resolve().parents[2]
UNREACHABLE = "postgresql://postgres@127.0.0.1:1/nope"  # port 1 refuses at once
READ_COMMANDS = [
    ("key", "list", "--account", "ops@example.com"),
    ("audit", "list"),
    ("master-key", "list"),
    ("key", "expiry-policy"),
    ("key", "sweep", "--dry-run"),
    ("account", "list"),
    ("account", "show", "ops@example.com"),
    ("ledger", "balance", "--account", "ops@example.com"),
]

Run = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def run() -> Run:
    env = {key: value for key, value in os.environ.items()
           if key not in ("KEYSEAL_HOME", "KEYSEAL_DB", "KEYSEAL_MASTER_KEY")}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "src"), env.get("PYTHONPATH", "")])

    def run(*args: str, input: str | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run([KEYSEAL, *args], input=input or "", text=True,
                              capture_output=True, env=env, timeout=60)
    return run


@pytest.fixture
def db_args(db_url: str) -> list[str]:
    """No options on SQLite (the database lives in the home); ``--db URL`` on PostgreSQL."""
    return [] if db_url.startswith("sqlite") else ["--db", db_url]


def snapshot(root: Path) -> dict[str, str]:
    """Every folder and file under ``root`` with a digest of its content. SQLite's -wal and
    -shm files come and go with connections, so they are left out."""
    shot = {}
    for path in sorted(root.rglob("*")):
        if path.name.endswith(("-wal", "-shm")):
            continue
        shot[str(path.relative_to(root))] = (
            "dir" if path.is_dir() else hashlib.sha256(path.read_bytes()).hexdigest())
    return shot


def one_line_refusal(done: subprocess.CompletedProcess[str], *needles: str) -> str:
    """Exit code 1, one line on stderr holding every needle, no traceback."""
    assert done.returncode == 1, (done.returncode, done.stdout, done.stderr)
    assert "Traceback" not in done.stderr, done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, done.stderr
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    return lines[0]


def make_home(run: Run, home: Path, db_args: list[str]) -> None:
    done = run("account", "create", "ops@example.com", "--kyc-level", "2", "--home", str(home),
               *db_args, input="long password 1\n")
    assert done.returncode == 0, done.stderr


# -- 1. one home, said out loud ------------------------------------------------------------
def test_a_read_command_never_creates_a_home(run: Run, tmp_path: Path, db_args: list[str]
                                             ) -> None:
    missing = tmp_path / "typo"
    for command in READ_COMMANDS:
        done = run(*command, "--home", str(missing), *db_args)
        line = one_line_refusal(done, f"no Keyseal home at {missing}", "keyseal init", "--home")
        assert not missing.exists(), (command, line)
    assert snapshot(tmp_path) == {}


def test_a_typo_in_home_on_a_read_command_changes_nothing(run: Run, tmp_path: Path,
                                                         db_args: list[str]) -> None:
    home = tmp_path / "home"
    make_home(run, home, db_args)
    before = snapshot(tmp_path)
    done = run("key", "list", "--account", "ops@example.com", "--home", str(tmp_path / "hom"),
               *db_args)
    one_line_refusal(done, f"no Keyseal home at {tmp_path / 'hom'}")
    assert snapshot(tmp_path) == before
    listed = run("key", "list", "--account", "ops@example.com", "--home", str(home), *db_args)
    assert listed.returncode == 0, listed.stderr


def test_an_empty_folder_is_not_a_home_for_a_read_command(run: Run, tmp_path: Path,
                                                          db_args: list[str]) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    one_line_refusal(run("master-key", "list", "--home", str(empty), *db_args),
                     f"no Keyseal home at {empty}")
    assert snapshot(tmp_path) == {"empty": "dir"}


def test_a_read_command_on_a_database_without_keyseal_data_changes_nothing(
        run: Run, tmp_path: Path, db_url: str) -> None:
    """A home pointed at a new, empty database: the read neither migrates nor claims it."""
    home = tmp_path / "home"
    assert run("init", "--home", str(home)).returncode == 0  # its own SQLite
    before = snapshot(tmp_path)
    done = run("master-key", "list", "--home", str(home), "--db", db_url)
    one_line_refusal(done, "no Keyseal database at", "keyseal init", "--db")
    assert snapshot(tmp_path) == before
    if not db_url.startswith("sqlite"):
        from sqlalchemy import inspect

        from keyseal.settings import normalise_db_url
        from keyseal.store.database import Database

        fresh = Database(normalise_db_url(db_url), pooled=False)
        with fresh.read() as conn:
            assert inspect(conn).get_table_names() == []
        fresh.dispose()


def test_creating_a_home_says_where_in_one_line(run: Run, tmp_path: Path, db_args: list[str]
                                                ) -> None:
    home = tmp_path / "new"
    done = run("account", "create", "ops@example.com", "--kyc-level", "2", "--home", str(home),
               *db_args, input="long password 1\n")
    assert done.returncode == 0, done.stderr
    told = [line for line in done.stderr.splitlines() if "Created a new Keyseal home" in line]
    assert len(told) == 1 and str(home) in told[0]
    # once made, the read commands work and say nothing about creating
    for command in READ_COMMANDS:
        read = run(*command, "--home", str(home), *db_args)
        assert read.returncode == 0 and "Created" not in read.stderr, (command, read.stderr)


def test_a_home_made_with_master_keys_from_the_environment_says_where(
        run: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from keyseal.crypto.keyring import new_keyring

    monkeypatch.setenv("KEYSEAL_MASTER_KEY", new_keyring().to_text())
    home = tmp_path / "home"
    done = CliRunner().invoke(app, ["init", "--home", str(home)])
    assert done.exit_code == 0, done.output
    assert done.stderr.strip() == (f"Created a new Keyseal home in {home} (its master keys come "
                                   "from $KEYSEAL_MASTER_KEY).")
    assert not (home / "master.key").exists()


# -- 2. no tracebacks for everyday failures -------------------------------------------------
@pytest.mark.parametrize("command", [("init",), ("key", "list", "--account", "a@example.com")])
def test_a_home_that_is_a_file_is_refused(run: Run, tmp_path: Path, command: tuple[str, ...]
                                          ) -> None:
    file = tmp_path / "notes.txt"
    file.write_text("not a home\n")
    before = snapshot(tmp_path)
    one_line_refusal(run(*command, "--home", str(file)), str(file), "is a file", "--home")
    one_line_refusal(run(*command, "--home", str(file / "home")), str(file), "is a file")
    assert snapshot(tmp_path) == before


def test_a_sqlite_database_that_cannot_be_made_is_refused_before_the_home(run: Run,
                                                                          tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("not a folder\n")
    (tmp_path / "folder.db").mkdir()
    before = snapshot(tmp_path)
    home = tmp_path / "home"
    for database, needle in ((tmp_path / "notes.txt" / "keyseal.db", "is a file"),
                             (Path("/proc/keyseal.db"), "/proc"),
                             (tmp_path / "folder.db", "is a folder")):
        done = run("init", "--home", str(home), "--db", f"sqlite:///{database}")
        one_line_refusal(done, needle, "--db")
    assert snapshot(tmp_path) == before


def test_a_home_under_proc_is_refused(run: Run) -> None:
    one_line_refusal(run("init", "--home", "/proc/keyseal-home"), "/proc", "--home")
    assert not Path("/proc/keyseal-home").exists()


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write to any folder")
def test_a_home_that_is_not_writable_is_refused(run: Run, tmp_path: Path) -> None:
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    one_line_refusal(run("init", "--home", str(locked / "home")), str(locked), "not writable")
    assert snapshot(tmp_path) == {"locked": "dir"}


def test_a_home_that_is_not_writable_is_refused_in_process(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """As root nothing is unwritable, so this one pretends (``os.access``)."""
    locked = tmp_path / "locked"
    locked.mkdir()
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda path, mode, **kw: (
        False if Path(path) == locked and mode & os.W_OK else real_access(path, mode, **kw)))
    monkeypatch.delenv("KEYSEAL_MASTER_KEY", raising=False)
    monkeypatch.delenv("KEYSEAL_DB", raising=False)
    done = CliRunner().invoke(app, ["init", "--home", str(locked / "home")])
    assert done.exit_code == 1, done.output
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "not writable" in lines[0] and str(locked) in lines[0], lines
    assert snapshot(tmp_path) == {"locked": "dir"}


def test_an_os_error_while_making_the_home_is_one_line(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """What the checks cannot foresee (a full disk, a race) is still one line, no traceback."""
    from keyseal.services import master_key_check

    def refuse(home: Path, ring: object) -> None:
        raise PermissionError(13, "Permission denied", str(home / "master.key"))

    monkeypatch.setattr(master_key_check, "create_key_file", refuse)
    monkeypatch.delenv("KEYSEAL_MASTER_KEY", raising=False)
    monkeypatch.delenv("KEYSEAL_DB", raising=False)
    home = tmp_path / "home"
    done = CliRunner().invoke(app, ["init", "--home", str(home)])
    assert done.exit_code == 1 and not isinstance(done.exception, PermissionError), done.output
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "Permission denied" in lines[0] and "--home" in lines[0], lines
    assert not (home / "master.key").exists()


def test_serve_on_a_busy_port_says_so_before_creating_a_home(run: Run, tmp_path: Path) -> None:
    port = free_port()
    home = tmp_path / "home"
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", port))
        busy.listen()
        done = run("serve", "--port", str(port), "--home", str(home))
    line = one_line_refusal(done, f"port {port}", "in use", "--port")
    assert "listening" not in done.stderr, line
    assert not home.exists()


def test_an_unreachable_database_is_one_line_and_creates_nothing(run: Run, tmp_path: Path
                                                                 ) -> None:
    new = tmp_path / "new"
    for command in (("account", "create", "ops@example.com", "--kyc-level", "2"), ("init",)):
        done = run(*command, "--home", str(new), "--db", UNREACHABLE, input="long password 1\n")
        one_line_refusal(done, "cannot reach the database", "127.0.0.1:1", "Connection refused",
                         "--db")
    serve = run("serve", "--port", str(free_port()), "--home", str(new), "--db", UNREACHABLE)
    one_line_refusal(serve, "cannot reach the database")
    assert "listening" not in serve.stderr
    assert snapshot(tmp_path) == {}
    home = tmp_path / "home"  # a home whose database is elsewhere, and down
    assert run("init", "--home", str(home)).returncode == 0
    before = snapshot(tmp_path)
    read = run("key", "list", "--account", "ops@example.com", "--home", str(home),
               "--db", UNREACHABLE)
    one_line_refusal(read, "cannot reach the database")
    assert snapshot(tmp_path) == before


def test_a_master_key_that_does_not_match_the_database_changes_nothing(
        run: Run, tmp_path: Path, db_args: list[str]) -> None:
    home_a, home_b = tmp_path / "a", tmp_path / "b"
    make_home(run, home_a, db_args)
    assert run("init", "--home", str(home_b)).returncode == 0  # its own master key and SQLite
    shared = db_args or ["--db", f"sqlite:///{home_a / 'keyseal.db'}"]
    before = snapshot(tmp_path)
    for command in (("key", "list", "--account", "ops@example.com"),
                    ("account", "create", "eve@example.com", "--kyc-level", "2"), ("serve",)):
        extra = ("--port", str(free_port())) if command == ("serve",) else ()
        done = run(*command, *extra, "--home", str(home_b), *shared, input="long password 1\n")
        one_line_refusal(done, "70042", str(home_b), "--home")
        assert "listening" not in done.stderr
    assert snapshot(tmp_path) == before
    listed = run("key", "list", "--account", "eve@example.com", "--home", str(home_a), *db_args)
    assert "50008" in listed.stderr  # eve was never created


# -- 3. installs that work --------------------------------------------------------------------
def _make_dry_run(target: str, tmp_path: Path) -> str:
    done = subprocess.run(["make", "-n", "-C", str(ROOT), target, f"VENV={tmp_path / 'venv'}"],
                          text=True, capture_output=True, timeout=30)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_make_serve_installs_only_what_serving_needs(tmp_path: Path) -> None:
    serve = _make_dry_run("serve", tmp_path)
    assert re.search(r"pip install .*-e \.(\s|$)", serve), serve
    assert "[test]" not in serve
    assert "[test]" in _make_dry_run("test", tmp_path)


def test_the_readme_sets_the_home_once_per_shell_and_installs_from_a_checkout() -> None:
    readme = (ROOT / "README.md").read_text()
    start = readme.index("## Quick start")
    first = readme[start:readme.index("\n## ", readme.index("## An operator's first five"))]
    blocks = re.findall(r"```sh\n(.*?)```", first, re.S)
    shells = [b for b in blocks if re.search(r"^(make serve|keyseal|echo .*\| keyseal)", b, re.M)]
    assert len(shells) == 2, blocks  # the server's terminal and the operator's
    homes = {re.match(r"export KEYSEAL_HOME=(\S+)", b).group(1) for b in shells}  # type: ignore[union-attr]
    assert len(homes) == 1, homes  # one home, named first in each shell
    assert not any("--home" in re.sub(r"#.*", "", b) for b in shells)  # no command passes it
    assert "pip install '.[vault]'" in first
    assert "pip install keyseal" not in first  # there is no package index entry
