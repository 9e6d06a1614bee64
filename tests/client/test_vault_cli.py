"""``keyseal vault …`` and its exit codes, through a Typer app mounted like the server's CLI."""

from __future__ import annotations

import json
import multiprocessing
import os
import socket
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from keyseal.client import Credentials, KdfParams, Vault, VaultEntry
from keyseal.client.cli import scan_command, vault_app
from tests.client.okx_fake import new_credentials

PASSWORD = "vault-password-for-tests"

app = typer.Typer()
app.add_typer(vault_app, name="vault")
app.command("scan")(scan_command)


@pytest.fixture
def run(tmp_path: Path):
    runner = CliRunner()
    vault = tmp_path / "vault"

    def invoke(*args: str, input: str | None = None, env: dict[str, str] | None = None):
        environment = {"KEYSEAL_VAULT": str(vault), "KEYSEAL_VAULT_PASSWORD": PASSWORD,
                       **(env or {})}
        return runner.invoke(app, list(args), input=input, env=environment)

    invoke.vault = vault  # type: ignore[attr-defined]
    return invoke


def lines(creds: Credentials) -> str:
    return f"{creds.api_key}\n{creds.secret_key}\n{creds.passphrase}\n"


def test_add_reads_piped_stdin_and_list_masks_everything(run) -> None:
    creds = new_credentials()
    added = run("vault", "add", "okx-main", "--purpose", "grid bot", input=lines(creds))
    assert added.exit_code == 0, added.output
    listed = run("vault", "list", "--json")
    assert listed.exit_code == 0
    [item] = json.loads(listed.stdout)
    assert item["name"] == "okx-main" and item["environment"] == "live"
    assert item["base_url"] == "https://www.okx.com" and item["purpose"] == "grid bot"
    table = run("vault", "list")
    for output in (listed.output, table.output, added.output):
        assert creds.api_key not in output and creds.secret_key not in output
        assert creds.passphrase not in output
    assert "okx-main" in table.stdout and creds.api_key[:8] in table.stdout
    # a secret shows at most its last four characters
    assert item["secretKey"] == f"…{creds.secret_key[-4:]}"
    assert creds.secret_key[:6] not in table.stdout + listed.stdout


def test_add_from_env_with_custom_variable_names(run) -> None:
    creds = new_credentials()
    env = {"MY_KEY": creds.api_key, "MY_SECRET": creds.secret_key, "MY_PASS": creds.passphrase}
    result = run("vault", "add", "bot", "--demo", "--base-url", "http://127.0.0.1:9/",
                 "--from-env", "--key-env", "MY_KEY", "--secret-env", "MY_SECRET",
                 "--passphrase-env", "MY_PASS", env=env)
    assert result.exit_code == 0, result.output
    stored = Vault.open(run.vault, PASSWORD).get("bot")
    assert stored.credentials == creds
    assert stored.environment == "demo" and stored.base_url == "http://127.0.0.1:9"


def test_add_from_env_names_the_missing_variable(run) -> None:
    result = run("vault", "add", "bot", "--from-env", env={"OKX_API_KEY": "k"})
    assert result.exit_code == 2
    assert "OKX_SECRET_KEY" in result.output and "OKX_PASSPHRASE" in result.output


def test_add_warns_when_secret_and_passphrase_look_swapped(run) -> None:
    creds = new_credentials()
    swapped = f"{creds.api_key}\n{creds.passphrase}\n{creds.secret_key}\n"
    result = run("vault", "add", "swapped", input=swapped)
    assert result.exit_code == 0
    assert "swapped" in result.output


def test_show_masks_unless_reveal(run) -> None:
    creds = new_credentials()
    run("vault", "add", "k", input=lines(creds))
    masked = run("vault", "show", "k", "--json")
    assert creds.secret_key not in masked.stdout and creds.passphrase not in masked.stdout
    assert json.loads(masked.stdout)["secretKey"] == f"…{creds.secret_key[-4:]}"
    assert creds.secret_key[:6] not in run("vault", "show", "k").stdout
    revealed = run("vault", "show", "k", "--reveal", "--json")
    assert revealed.exit_code == 0
    data = json.loads(revealed.stdout)
    assert (data["apiKey"], data["secretKey"], data["passphrase"]) == (
        creds.api_key, creds.secret_key, creds.passphrase)


def test_rename_and_remove(run) -> None:
    run("vault", "add", "old", input=lines(new_credentials()))
    assert run("vault", "rename", "old", "new").exit_code == 0
    assert run("vault", "show", "old").exit_code == 1
    removed = run("vault", "remove", "new", "--json")
    assert removed.exit_code == 0 and json.loads(removed.stdout)["removed"] == "new"
    assert json.loads(run("vault", "list", "--json").stdout) == []
    assert [e.name for e in Vault.open(Path(f"{run.vault}.bak"), PASSWORD)] == ["new"]


def test_wrong_password_and_damaged_vault_exit_1_with_advice(run) -> None:
    run("vault", "add", "a", input=lines(new_credentials()))
    wrong = run("vault", "list", env={"KEYSEAL_VAULT_PASSWORD": "nope-nope"})
    assert wrong.exit_code == 1 and "Wrong password" in wrong.output
    run.vault.write_bytes(run.vault.read_bytes()[:40])
    damaged = run("vault", "list")
    assert damaged.exit_code == 1 and "truncated" in damaged.output


def test_duplicate_and_invalid_names_are_refused(run) -> None:
    run("vault", "add", "a", input=lines(new_credentials()))
    assert run("vault", "add", "a", input=lines(new_credentials())).exit_code == 1
    assert run("vault", "add", "bad name", input=lines(new_credentials())).exit_code == 2
    short = run("vault", "add", "b", input="only-one-line\n")
    assert short.exit_code == 2 and "three values" in short.output


def test_check_usage_errors_exit_2(run) -> None:
    run("vault", "add", "a", input=lines(new_credentials()))
    assert run("vault", "check").exit_code == 2
    assert run("vault", "check", "a", "--all").exit_code == 2
    bad = run("vault", "check", "a", "--require", "read_only,fly")
    assert bad.exit_code == 2 and "fly" in bad.output


def test_check_of_an_unreachable_server_is_a_refusal(run) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    run("vault", "add", "a", "--base-url", f"http://127.0.0.1:{port}",
        input=lines(new_credentials()))
    result = run("vault", "check", "a", "--json", "--timeout", "2")
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert report["ok"] is False and report["refusal"]["code"] == "network"
    assert "base-url" in report["refusal"]["hint"]


def test_commands_other_than_add_do_not_create_a_vault(run) -> None:
    result = run("vault", "list")
    assert result.exit_code == 1 and "vault add" in result.output
    assert not run.vault.exists()


def test_reveal_asks_again_unless_the_password_came_from_env(
        run, monkeypatch: pytest.MonkeyPatch) -> None:
    creds = new_credentials()
    run("vault", "add", "k", input=lines(creds))
    monkeypatch.setattr("keyseal.client.vault_password.keyring_password", lambda path: PASSWORD)
    no_env = {"KEYSEAL_VAULT_PASSWORD": ""}
    assert run("vault", "show", "k", env=no_env).exit_code == 0, "keyring opens the vault"
    refused = run("vault", "show", "k", "--reveal", env=no_env)
    assert refused.exit_code == 1 and "run in a terminal" in refused.output
    assert creds.secret_key not in refused.output


def test_interactive_add_prompts_with_hidden_input(monkeypatch: pytest.MonkeyPatch) -> None:
    from keyseal.client import cli

    creds = new_credentials()
    answers = iter([creds.api_key, creds.secret_key, creds.passphrase])
    prompts: list[str] = []

    def hidden(prompt: str) -> str:
        prompts.append(prompt)
        return next(answers)

    monkeypatch.setattr(cli.sys.stdin, "isatty", lambda: True, raising=False)
    monkeypatch.setattr(cli.getpass, "getpass", hidden)
    assert cli._read_credentials(False, ("A", "B", "C")) == creds
    assert prompts == ["API key: ", "Secret key: ", "Passphrase: "]


def _add_behind_barrier(barrier: Any, vault: str, name: str, stdin: str) -> None:
    """One `keyseal vault add` in a forked process, started when every writer is ready."""
    barrier.wait()
    result = CliRunner().invoke(app, ["vault", "add", name], input=stdin,
                                env={"KEYSEAL_VAULT": vault, "KEYSEAL_VAULT_PASSWORD": PASSWORD})
    os._exit(result.exit_code)


def test_concurrent_adds_from_several_processes_keep_every_entry(tmp_path: Path) -> None:
    vault = tmp_path / "vault"
    base = Vault.open(vault, PASSWORD, kdf=KdfParams(time_cost=1, memory_cost=8 * 1024))
    creds = new_credentials()
    base.add(VaultEntry("base", creds.api_key, creds.secret_key, creds.passphrase))
    base.save()
    context = multiprocessing.get_context("fork")
    writers, rounds = 6, 2
    refused: list[str] = []
    for round_ in range(rounds):
        names = [f"r{round_}-writer-{i}" for i in range(writers)]
        barrier = context.Barrier(writers, timeout=20)
        processes = [context.Process(target=_add_behind_barrier,
                                     args=(barrier, str(vault), name, lines(new_credentials())))
                     for name in names]
        for process in processes:
            process.start()
        for process in processes:
            process.join(timeout=30)
        refused += [name for name, p in zip(names, processes, strict=True) if p.exitcode != 0]
    stored = {entry.name for entry in Vault.open(vault, PASSWORD)}
    expected = {"base"} | {f"r{r}-writer-{i}" for r in range(rounds) for i in range(writers)}
    assert (sorted(expected - stored), refused) == ([], [])


@pytest.mark.parametrize("kdf", [{"time_cost": 0}, {"parallelism": 0}, {"salt": ""}])
def test_a_vault_with_an_impossible_kdf_header_is_refused_with_advice(run, kdf) -> None:
    run("vault", "add", "a", input=lines(new_credentials()))
    document = json.loads(run.vault.read_bytes())
    document["kdf"].update(kdf)
    run.vault.write_text(json.dumps(document))
    result = run("vault", "list")
    assert (result.exit_code, type(result.exception)) == (1, SystemExit), "no traceback"
    assert "damaged or hostile" in result.output and str(run.vault) in result.output
