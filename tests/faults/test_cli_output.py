"""What the operator's commands print survives a pipe and a narrow terminal: tab-separated
lines when stdout is not a terminal, and an apiKey never wrapped at one (a real pty)."""

from __future__ import annotations

import json
import os
import pty
import subprocess
from pathlib import Path

import pytest

from tests.conftest import KEYSEAL


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    env = {**os.environ, "KEYSEAL_HOME": str(tmp_path / "home")}
    env.pop("KEYSEAL_DB", None)
    for args, stdin in ((["account", "create", "pipe@example.com", "--kyc-level", "2"],
                         "a long password\n"),):
        subprocess.run([KEYSEAL, *args], input=stdin, text=True, env=env, check=True,
                       capture_output=True)
    return env


def create_key(env: dict[str, str]) -> dict[str, str]:
    done = subprocess.run([KEYSEAL, "key", "create", "--account", "pipe@example.com", "--label",
                           "bot1", "--json"], input="Sandbox-Pass1\n", text=True, env=env,
                          check=True, capture_output=True)
    return dict(json.loads(done.stdout))


def at_a_terminal(args: list[str], env: dict[str, str], columns: int) -> str:
    """Run with stdout on a pseudo-terminal ``columns`` wide; what it printed."""
    leader, follower = pty.openpty()
    try:
        subprocess.run([KEYSEAL, *args], stdout=follower, stderr=subprocess.DEVNULL,
                       env={**env, "COLUMNS": str(columns), "TERM": "xterm"}, check=True,
                       timeout=60)
        os.close(follower)
        chunks = []
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # the pty is drained and closed
                break
            if not chunk:
                break
            chunks.append(chunk)
    finally:
        os.close(leader)
    return b"".join(chunks).decode()


def test_a_key_list_in_a_pipe_is_tab_separated_lines(env: dict[str, str]) -> None:
    key = create_key(env)
    piped = subprocess.run([KEYSEAL, "key", "list", "--account", "pipe@example.com"],
                           text=True, env=env, check=True, capture_output=True).stdout
    header, row = piped.splitlines()
    assert header.split("\t")[:3] == ["label", "apiKey", "perm"]
    assert row.split("\t")[:3] == ["bot1", key["apiKey"], "read_only"]
    assert "│" not in piped and "\x1b" not in piped  # no box drawing, no colour codes


@pytest.mark.parametrize("columns", [60, 200])
def test_an_api_key_is_never_wrapped_at_a_terminal(env: dict[str, str], columns: int) -> None:
    key = create_key(env)
    shown = at_a_terminal(["key", "list", "--account", "pipe@example.com"], env, columns)
    assert any(key["apiKey"] in line for line in shown.splitlines()), shown


def test_account_create_says_what_it_printed(tmp_path: Path) -> None:
    env = {**os.environ, "KEYSEAL_HOME": str(tmp_path / "home")}
    env.pop("KEYSEAL_DB", None)
    done = subprocess.run([KEYSEAL, "account", "create", "label@example.com", "--kyc-level", "2"],
                          input="a long password\n", text=True, env=env, check=True,
                          capture_output=True)
    line = done.stdout.strip()
    assert line.startswith("account label@example.com created: uid ") and "KYC level 2" in line


def test_regenerate_at_a_pipe_says_the_old_key_is_still_enabled(env: dict[str, str]) -> None:
    key = create_key(env)
    done = subprocess.run([KEYSEAL, "key", "regenerate", key["apiKey"], "--json"],
                          input="Sandbox-Pass2\n", text=True, env=env, check=True,
                          capture_output=True)
    assert json.loads(done.stdout)["apiKey"] != key["apiKey"]  # --json stays exact
    assert f"old key {key['apiKey']} is still enabled" in done.stderr
    assert f"keyseal key disable {key['apiKey']}" in done.stderr


def test_refusals_speak_of_the_command_lines_own_flags(env: dict[str, str]) -> None:
    def create(account: str, label: str) -> str:
        done = subprocess.run([KEYSEAL, "key", "create", "--account", account, "--label", label],
                              input="Sandbox-Pass1\n", text=True, env=env, capture_output=True)
        assert done.returncode == 1
        return done.stderr

    bad_label = create("pipe@example.com", "not a label!")
    assert "--label must be 1 to 50 letters or digits" in bad_label
    assert "note name" not in bad_label
    create_key(env)  # label bot1
    taken = create("pipe@example.com", "bot1")
    assert "already has that --label" in taken and "note name" not in taken
    subprocess.run([KEYSEAL, "account", "create", "nokyc@example.com"], input="a long password\n",
                   text=True, env=env, check=True, capture_output=True)
    assert "keyseal account set-kyc EMAIL 2" in create("nokyc@example.com", "bot2")
