"""The leak scanner on a corpus of real-looking files, with planted credentials and tricky
look-alikes (lockfile hashes, MD5 sums, git SHAs, UUIDs in docs, placeholders).

The corpus is written per test from generated credentials, so the repository holds none.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from keyseal.client import Credentials, scan_git_history, scan_path
from keyseal.client.cli import scan_command
from keyseal.client.masking import mask
from tests.client.okx_fake import new_credentials


def write(root: Path, name: str, text: str | bytes) -> None:
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text)


def plant_leaks(root: Path) -> dict[str, Credentials]:
    """One leak per format; returns the credentials planted, by file."""
    planted = {name: new_credentials() for name in (
        ".env", "config/okx.json", "deploy/settings.yaml", "bot.py", "pyproject.toml",
        "conf/exchange.ini", "notebooks/explore.ipynb", "notes.txt")}
    c = planted[".env"]
    write(root, ".env", f"DEBUG=1\nOKX_API_KEY={c.api_key}\nOKX_SECRET_KEY={c.secret_key}\n"
                        f"OKX_PASSPHRASE='{c.passphrase}'\n")
    c = planted["config/okx.json"]
    write(root, "config/okx.json", json.dumps({"exchange": "okx", "credentials": {
        "apiKey": c.api_key, "secret": c.secret_key, "password": c.passphrase}}, indent=2))
    c = planted["deploy/settings.yaml"]
    write(root, "deploy/settings.yaml", f"exchange:\n  name: okx\n  api_key: {c.api_key}\n"
                                        f"  secret_key: {c.secret_key.lower()}\n"
                                        f"  passphrase: {c.passphrase}\n")
    c = planted["bot.py"]
    write(root, "bot.py", "import ccxt\n\nexchange = ccxt.okx({"
                          f"'apiKey': '{c.api_key}', 'secret': '{c.secret_key}', "
                          f"'password': '{c.passphrase}'}})\n")
    c = planted["pyproject.toml"]
    write(root, "pyproject.toml", f'[tool.bot]\nname = "grid"\nokx_api_key = "{c.api_key}"\n'
                                  f'okx_secret = "{c.secret_key}"\n')
    c = planted["conf/exchange.ini"]
    write(root, "conf/exchange.ini", f"[okx]\naccess_key = {c.api_key}\n"
                                     f"secret = {c.secret_key}\npassphrase = {c.passphrase}\n")
    c = planted["notebooks/explore.ipynb"]
    write(root, "notebooks/explore.ipynb", json.dumps({"cells": [
        {"cell_type": "markdown", "source": ["# Explore the balance\n"]},
        {"cell_type": "code", "source": ["import okx.Account as Account\n",
                                         f"api_key = \"{c.api_key}\"\n",
                                         f"secret_key = \"{c.secret_key}\"\n",
                                         f"passphrase = \"{c.passphrase}\"\n"],
         "outputs": []}], "nbformat": 4}, indent=1))
    c = planted["notes.txt"]
    write(root, "notes.txt", f"OKX keys for the grid bot (do not share)\n{c.api_key}\n"
                             f"{c.secret_key}\n{c.passphrase}\n")
    return planted


#: An upper-case MD5, built here so this file itself does not hold one beside a UUID.
UPPER_MD5 = "9E107D9D372BB682" + "6BD81D3542A419D6"


def plant_lookalikes(root: Path) -> None:
    """Files full of UUIDs and hex that are not credentials."""
    write(root, "package-lock.json", json.dumps({"name": "app", "lockfileVersion": 3,
        "packages": {"node_modules/left-pad": {
            "version": "1.3.0",
            "resolved": "https://registry.npmjs.org/left-pad/-/left-pad-1.3.0.tgz",
            "integrity": "sha512-XI5MPzVNApjAyhQzphX8BkmKsKUxD4LdyK24iZeQpP4jRCN7DoZaELv4pD"
                         "S4ay15GntWEB3bTLBgwMqwi4Q6Bg==",
            "shasum": "5b8f2c1a6e0d4f9b3a7c1e2d4f6a8b0c"},
            "node_modules/uuid": {"version": "9.0.1",
                                  "requestId": "0f8fad5b-d9cb-469f-a165-70867728950e",
                                  "integrity": "md5-9E107D9D372BB6826BD81D3542A419D6"}}},
        indent=2))
    write(root, "docs/api.md", "# API\n\nEvery response carries a request id such as\n"
                               "`0f8fad5b-d9cb-469f-a165-70867728950e` or\n"
                               "`7c9e6679-7425-40de-944b-e07fc1f90ae7`.\n\n"
                               "Download checksum (md5): D41D8CD98F00B204E9800998ECF8427E\n")
    write(root, "MD5SUMS", "d41d8cd98f00b204e9800998ecf8427e  empty.txt\n"
                           "0f8fad5b-d9cb-469f-a165-70867728950e.json\n"
                           "9e107d9d372bb6826bd81d3542a419d6  fox.txt\n")
    write(root, "CHANGELOG.md", "## 1.2.0\n\n- commit 4b825dc642cb6eb9a060e54bf8d69288fbee4904\n"
                                "- build 6ba7b810-9dad-11d1-80b4-00c04fd430c8\n"
                                "- fixed by 9fceb02d0ae598e95dc970b74767f19372d61af8\n")
    write(root, "yarn.lock", 'left-pad@^1.3.0:\n  version "1.3.0"\n'
                             '  resolved "https://registry.yarnpkg.com/left-pad/-/left-pad-1.3.0'
                             '.tgz#5b8f2c1a6e0d4f9b3a7c1e2d4f6a8b0c9d1e2f3a"\n')
    write(root, ".env.example", "OKX_API_KEY=your-api-key\nOKX_SECRET_KEY=xxxxxxxxxxxx\n"
                                "OKX_PASSPHRASE=****\nOK_ACCESS_KEY=${OK_ACCESS_KEY}\n"
                                "OKX_API_SECRET=\nOKX_PASSPHRASE=<your passphrase>\n")
    write(root, "app/settings.py", "import os\n\nSECRET_KEY = 'django-insecure-8f3k2j1h0g9f8d7s'"
                                   "\napi_key = os.environ['OKX_API_KEY']\n"
                                   "secret = os.getenv('OKX_SECRET_KEY')\n"
                                   "password = os.environ.get('DB_PASSWORD')\n")
    write(root, "far_apart.txt", "id 0f8fad5b-d9cb-469f-a165-70867728950e\n" + "\n" * 10
          + UPPER_MD5 + "\n")
    write(root, "lone_hex.txt", f"product code {UPPER_MD5}\n")
    write(root, "docs/okx.md", "Example header: `OK-ACCESS-KEY: 37c541a1-****-****-****-"
                               "10fe7a038418`\n")


def plant_ignored(root: Path) -> None:
    """Real credentials where the scanner must not look."""
    c = new_credentials()
    text = f"OKX_API_KEY={c.api_key}\nOKX_SECRET_KEY={c.secret_key}\n"
    write(root, "node_modules/pkg/.env", text)
    write(root, ".git/config.bak", text)
    write(root, "env/pyvenv.cfg", "home = /usr/bin\n")
    write(root, "env/lib/leak.env", text)
    write(root, ".venv/lib/leak.env", text)
    write(root, "image.bin", b"\x89PNG\r\n\x1a\n\0\0" + text.encode())


def test_finds_every_planted_credential_and_nothing_else(tmp_path: Path) -> None:
    planted = plant_leaks(tmp_path)
    plant_lookalikes(tmp_path)
    plant_ignored(tmp_path)
    findings = scan_path(tmp_path).findings
    by_file: dict[str, set[str]] = {}
    for finding in findings:
        by_file.setdefault(finding.path, set()).add(finding.masked)
    assert set(by_file) == set(planted), [f.location() for f in findings]
    for name, creds in planted.items():
        secret = mask(creds.secret_key)
        assert secret in by_file[name] or mask(creds.secret_key.lower()) in by_file[name], name
    assert mask(planted[".env"].passphrase) in by_file[".env"]
    assert mask(planted["config/okx.json"].passphrase) in by_file["config/okx.json"]


def test_findings_locate_and_mask(tmp_path: Path) -> None:
    creds = plant_leaks(tmp_path)[".env"]
    findings = [f for f in scan_path(tmp_path).findings if f.path == ".env"]
    assert [(f.line, f.rule) for f in findings] == [
        (2, "okx-variable"), (3, "okx-variable"), (4, "okx-variable")]
    secret_finding = findings[1]
    assert secret_finding.masked == f"{creds.secret_key[:6]}…{creds.secret_key[-4:]}"
    assert creds.secret_key not in json.dumps([f.to_json() for f in findings])


def test_notebook_findings_name_the_cell(tmp_path: Path) -> None:
    plant_leaks(tmp_path)
    cells = {(f.cell, f.line) for f in scan_path(tmp_path).findings if f.path.endswith(".ipynb")}
    assert (2, 3) in cells and all(cell == 2 for cell, _ in cells)


def test_the_lookalike_corpus_alone_is_clean(tmp_path: Path) -> None:
    plant_lookalikes(tmp_path)
    plant_ignored(tmp_path)
    assert scan_path(tmp_path).findings == []


def git(root: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(root), "-c", "user.name=t", "-c",
                           "user.email=t@example.invalid", "-c", "commit.gpgsign=false", *args],
                          check=True, capture_output=True, text=True).stdout.strip()


def test_git_history_finds_a_credential_removed_since(tmp_path: Path) -> None:
    creds = new_credentials()
    git(tmp_path, "init", "-q")
    write(tmp_path, "README.md", "# bot\n")
    git(tmp_path, "add", ".")
    git(tmp_path, "commit", "-qm", "start")
    write(tmp_path, "bot.py", f"KEY = '{creds.api_key}'\nSECRET = '{creds.secret_key}'\n")
    git(tmp_path, "add", ".")
    git(tmp_path, "commit", "-qm", "oops")
    leaked_in = git(tmp_path, "rev-parse", "HEAD")
    write(tmp_path, "bot.py", "import os\nKEY = os.environ['OKX_API_KEY']\n")
    git(tmp_path, "commit", "-qam", "read keys from env")
    git(tmp_path, "checkout", "-qb", "side")
    write(tmp_path, "side.env", f"OKX_PASSPHRASE={creds.passphrase}\n")
    git(tmp_path, "add", ".")
    git(tmp_path, "commit", "-qm", "side branch")
    git(tmp_path, "checkout", "-q", "-")
    assert scan_path(tmp_path).findings == []
    findings = scan_git_history(tmp_path)
    assert {(f.path, f.line, f.masked) for f in findings} == {
        ("bot.py", 1, mask(creds.api_key)), ("bot.py", 2, mask(creds.secret_key)),
        ("side.env", 1, mask(creds.passphrase))}
    assert {f.commit for f in findings if f.path == "bot.py"} == {leaked_in}


@pytest.fixture
def scan():
    app = typer.Typer()
    app.command("scan")(scan_command)
    app.command("noop")(lambda: None)
    runner = CliRunner()
    return lambda *args: runner.invoke(app, ["scan", *args])


def test_scan_command_exit_status_and_json(tmp_path: Path, scan) -> None:
    plant_lookalikes(tmp_path / "clean")
    clean = scan(str(tmp_path / "clean"))
    assert clean.exit_code == 0 and "No credentials found" in clean.output
    planted = plant_leaks(tmp_path / "dirty")
    dirty = scan(str(tmp_path / "dirty"), "--json")
    assert dirty.exit_code == 1
    report = json.loads(dirty.stdout)
    assert {item["path"] for item in report["findings"]} == set(planted)
    text = scan(str(tmp_path / "dirty"))
    assert text.exit_code == 1 and ".env:3" in text.stdout
    for creds in planted.values():
        assert creds.secret_key not in dirty.output + text.output
        assert creds.passphrase not in dirty.output + text.output


def test_scan_git_history_outside_a_repository_is_a_usage_error(tmp_path: Path, scan) -> None:
    result = scan(str(tmp_path), "--git-history")
    assert result.exit_code == 2 and "not inside a git repository" in result.output


# -- what the scan leaves out, and says so -----------------------------------------------------

def test_files_the_scan_cannot_read_are_reported(tmp_path: Path, scan) -> None:
    creds = new_credentials()
    leak = f"OKX_SECRET_KEY={creds.secret_key}\n"
    write(tmp_path, "dump.bin", b"\0\1\2" + leak.encode())
    write(tmp_path, "logo.png", leak)
    write(tmp_path, "big.log", "x" * (4 * 2**20) + "\n" + leak)
    write(tmp_path, "fine.txt", "nothing here\n")
    result = scan(str(tmp_path), "--json")
    assert result.exit_code == 0
    skipped = {s["path"]: s["reason"] for s in json.loads(result.stdout)["skipped"]}
    assert set(skipped) == {"dump.bin", "logo.png", "big.log"}
    assert "larger than 4 MiB" in skipped["big.log"] and "binary" in skipped["dump.bin"]
    text = scan(str(tmp_path))
    assert "skipped big.log: larger than 4 MiB" in text.stderr


def test_an_ignore_file_and_ignore_patterns_leave_paths_alone(tmp_path: Path, scan) -> None:
    planted = plant_leaks(tmp_path)
    write(tmp_path, ".keyseal-scan-ignore", "# known test fixtures\nconfig/\n*.ipynb\n")
    result = scan(str(tmp_path), "--ignore", "deploy/*.yaml", "--json")
    reported = {item["path"] for item in json.loads(result.stdout)["findings"]}
    assert reported == set(planted) - {"config/okx.json", "notebooks/explore.ipynb",
                                       "deploy/settings.yaml"}
    # an ignored file is left alone on purpose: it is not reported as skipped
    assert json.loads(result.stdout)["skipped"] == []


def test_git_history_honours_the_ignore_file(tmp_path: Path, scan) -> None:
    creds = new_credentials()
    git(tmp_path, "init", "-q")
    write(tmp_path, "fixtures/bot.py", f"KEY = '{creds.api_key}'\nSECRET = '{creds.secret_key}'\n")
    git(tmp_path, "add", ".")
    git(tmp_path, "commit", "-qm", "fixture")
    git(tmp_path, "rm", "-rq", "fixtures")
    git(tmp_path, "commit", "-qm", "gone")
    assert scan(str(tmp_path), "--git-history").exit_code == 1
    write(tmp_path, ".keyseal-scan-ignore", "fixtures/\n")
    assert scan(str(tmp_path), "--git-history").exit_code == 0


def test_a_baseline_hides_known_findings_and_only_those(tmp_path: Path, scan) -> None:
    planted = plant_leaks(tmp_path)
    recorded = scan(str(tmp_path), "--update-baseline")
    assert recorded.exit_code == 0 and "now holds" in recorded.stderr
    baseline = (tmp_path / ".keyseal-scan-baseline.json").read_text()
    for creds in planted.values():  # the baseline is meant to be committed
        for value in (creds.api_key, creds.secret_key, creds.secret_key.lower(),
                      creds.passphrase):
            assert value not in baseline
    # known findings stay quiet, even when the file around them moves
    env = tmp_path / ".env"
    env.write_text("# moved down a line\n" + env.read_text())
    again = scan(str(tmp_path), "--json")
    assert again.exit_code == 0, again.stdout
    assert json.loads(again.stdout)["findings"] == [] and json.loads(again.stdout)["known"] > 0
    # a new credential, even in a known file, is reported
    fresh = new_credentials()
    with env.open("a") as out:
        out.write(f"OKX_SECRET_KEY_2={fresh.secret_key}\n")
    new = scan(str(tmp_path), "--json")
    assert new.exit_code == 1
    assert [(f["path"], f["masked"]) for f in json.loads(new.stdout)["findings"]] == [
        (".env", mask(fresh.secret_key))]


def test_a_damaged_baseline_is_a_usage_error(tmp_path: Path, scan) -> None:
    write(tmp_path, ".keyseal-scan-baseline.json", "{not json")
    result = scan(str(tmp_path))
    assert result.exit_code == 2 and "--update-baseline" in result.output


def test_keyseals_own_repository_is_clean_history_included(scan) -> None:
    root = Path(__file__).resolve().parents[2]
    if not (root / ".git").exists():
        pytest.skip(f"{root} is not a git checkout")
    result = scan(str(root), "--git-history")
    assert result.exit_code == 0, result.output
