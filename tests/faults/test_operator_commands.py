"""Issue 8 through the operator's command line: the commands that were missing (account list /
show / disable-2fa, ledger balance), an audit trail that names accounts, a sweep and an
expiry rule that say what they touch, and a QR file only its owner can read.

Driven through the real CLI (Typer's runner, in-process) on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import os
import stat
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pyotp
import pytest
from typer.testing import CliRunner, Result

from keyseal.cli import app
from keyseal.cli import common as cli_common
from keyseal.clock import ManualClock
from keyseal.domain.commands import CreateKey
from keyseal.services import keys as key_service
from keyseal.services.runtime import Runtime, open_runtime
from keyseal.settings import Settings
from tests.conftest import PASSPHRASE

Cli = Callable[..., Result]
PASSWORD = "long password 1\n"
BOSS = "boss@example.com"


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"


@pytest.fixture
def cli(db_url: str, home: Path, monkeypatch: pytest.MonkeyPatch) -> Cli:
    """``cli(*args)``: the keyseal command on the test database, with a wide console so
    tables do not fold emails."""
    monkeypatch.delenv("KEYSEAL_MASTER_KEY", raising=False)
    monkeypatch.setattr(cli_common.out, "width", 250)
    runner = CliRunner()

    def run(*args: str, input: str | None = None) -> Result:
        return runner.invoke(app, [*args, "--home", str(home), "--db", db_url], input=input)
    return run


def ok(cli: Cli, *args: str, input: str | None = None) -> Any:
    done = cli(*args, input=input)
    assert done.exit_code == 0, (args, done.output)
    return json.loads(done.stdout) if "--json" in args else done.stdout


def refused(cli: Cli, code: str, *args: str, input: str | None = None) -> str:
    done = cli(*args, input=input)
    assert done.exit_code == 1, (args, done.output)
    assert f"(code {code})" in done.stderr, done.stderr
    return done.stderr


@pytest.fixture
def in_process(home: Path, db_url: str) -> Iterator[Callable[[float], Runtime]]:
    """Runtimes on the CLI's home with a clock of the test's choosing (days ago)."""
    opened: list[Runtime] = []

    def at(days_ago: float) -> Runtime:
        rt = open_runtime(Settings(home=home, db_url=db_url), pooled=False,
                          clock=ManualClock(time.time() - days_ago * 86_400))
        opened.append(rt)
        return rt
    yield at
    for rt in opened:
        rt.close()


def _boss_with_a_sub(cli: Cli) -> None:
    ok(cli, "account", "create", BOSS, "--kyc-level", "2", input=PASSWORD)
    ok(cli, "account", "create-sub", "--master", BOSS, "alpha01")


# -- account list / show -------------------------------------------------------------------
def test_account_list_and_show(cli: Cli) -> None:
    _boss_with_a_sub(cli)
    ok(cli, "account", "create-sub", "--master", BOSS, "beta0001")
    ok(cli, "account", "create", "solo@example.com", input=PASSWORD)
    ok(cli, "account", "restrict", "solo@example.com")
    key = ok(cli, "key", "create", "--account", BOSS, "--label", "bot1", "--json",
             input=PASSPHRASE + "\n")
    sub_key = ok(cli, "key", "create", "--account", BOSS, "--sub", "alpha01", "--label",
                 "subbot", "--json", input=PASSPHRASE + "\n")

    listed = ok(cli, "account", "list", "--json")
    by_email = {row["email"]: row for row in listed}
    assert sorted(by_email) == [BOSS, "solo@example.com"]  # masters only
    assert by_email[BOSS]["subAccounts"] == 2 and by_email[BOSS]["keys"] == 1
    assert by_email[BOSS]["twoFactor"] is False and by_email[BOSS]["kycLv"] == 2
    assert by_email["solo@example.com"]["restricted"] is True
    assert by_email["solo@example.com"]["subAccounts"] == 0
    table = ok(cli, "account", "list")
    assert BOSS in table and "solo@example.com" in table

    shown = ok(cli, "account", "show", BOSS, "--json")
    assert (shown["email"], shown["kycLv"], shown["restricted"], shown["twoFactor"]) == (
        BOSS, 2, False, False)
    assert [k["apiKey"] for k in shown["keys"]] == [key["apiKey"]]
    subs = {s["subAcct"]: s for s in shown["subAccounts"]}
    assert sorted(subs) == ["alpha01", "beta0001"]
    assert [k["apiKey"] for k in subs["alpha01"]["keys"]] == [sub_key["apiKey"]]
    assert subs["beta0001"]["keys"] == []
    text = ok(cli, "account", "show", BOSS)
    for expected in (BOSS, "KYC level 2", "2FA off", "bot1", "alpha01", "subbot", "beta0001"):
        assert expected in text, text
    for output in (json.dumps(shown), text, json.dumps(listed)):
        assert key["secretKey"] not in output and sub_key["secretKey"] not in output

    refused(cli, "50008", "account", "show", "nobody@example.com")


# -- disable-2fa ---------------------------------------------------------------------------
def _enrolled(cli: Cli, email: str) -> tuple[str, list[str]]:
    ok(cli, "account", "create", email, "--kyc-level", "2", input=PASSWORD)
    secret = ok(cli, "account", "enroll-2fa", email, "--json")["secret"]
    codes = ok(cli, "account", "confirm-2fa", email, pyotp.TOTP(secret).now(),
               "--json")["recoveryCodes"]
    return secret, codes


def test_disable_2fa_needs_a_current_or_recovery_code(cli: Cli) -> None:
    email = "totp@example.com"
    secret, codes = _enrolled(cli, email)
    assert ok(cli, "account", "show", email, "--json")["twoFactor"] is True

    refused(cli, "70004", "account", "disable-2fa", email, "--code", "not-a-code")
    no_code = cli("account", "disable-2fa", email)  # nothing on stdin
    assert no_code.exit_code == 2, no_code.output
    assert ok(cli, "account", "show", email, "--json")["twoFactor"] is True  # still on

    off = ok(cli, "account", "disable-2fa", email, "--json", input=codes[0] + "\n")
    assert off["email"] == email and off["twoFactor"] is False
    assert ok(cli, "account", "show", email, "--json")["twoFactor"] is False
    refused(cli, "70011", "account", "disable-2fa", email, "--code", codes[1])

    trail = ok(cli, "audit", "list", "--account", email, "--json")
    events = [row["event"] for row in trail]
    assert events[:2] == ["2fa_disabled", "recovery_code_used"], events
    text = json.dumps(trail) + json.dumps(off)
    assert secret not in text and not any(code in text for code in codes)


# -- ledger balance ------------------------------------------------------------------------
def test_ledger_balance_shows_cash_available_and_frozen(cli: Cli) -> None:
    _boss_with_a_sub(cli)
    before = ok(cli, "ledger", "balance", "--account", BOSS, "--json")
    assert before == {"account": BOSS, "subAcct": None, "environment": "live", "balances": []}
    ok(cli, "ledger", "credit", "--account", BOSS, "--ccy", "USDT", "--amount", "1000.5")
    ok(cli, "ledger", "credit", "--account", BOSS, "--ccy", "BTC", "--amount", "2", "--demo")
    ok(cli, "ledger", "credit", "--account", BOSS, "--sub", "alpha01", "--ccy", "USDT",
       "--amount", "7")

    live = ok(cli, "ledger", "balance", "--account", BOSS, "--json")
    assert live["balances"] == [{"ccy": "USDT", "cashBal": "1000.5", "availBal": "1000.5",
                                 "frozenBal": "0"}]
    demo = ok(cli, "ledger", "balance", "--account", BOSS, "--demo", "--json")
    assert (demo["environment"], [b["ccy"] for b in demo["balances"]]) == ("demo", ["BTC"])
    sub = ok(cli, "ledger", "balance", "--account", BOSS, "--sub", "alpha01", "--json")
    assert sub["subAcct"] == "alpha01" and sub["balances"][0]["cashBal"] == "7"
    table = ok(cli, "ledger", "balance", "--account", BOSS)
    assert "USDT" in table and "1000.5" in table and "BTC" not in table
    refused(cli, "59510", "ledger", "balance", "--account", BOSS, "--sub", "nosuch01")


# -- the audit trail names accounts --------------------------------------------------------
def test_audit_list_names_the_account_by_email(cli: Cli) -> None:
    _boss_with_a_sub(cli)
    ok(cli, "ledger", "credit", "--account", BOSS, "--ccy", "USDT", "--amount", "5")
    ok(cli, "ledger", "credit", "--account", BOSS, "--sub", "alpha01", "--ccy", "USDT",
       "--amount", "3")
    trail = ok(cli, "audit", "list", "--json")
    credits = [row for row in trail if row["event"] == "ledger_credited"]
    assert [(row["account"], row["subAcct"]) for row in credits] == [
        (BOSS, "alpha01"), (BOSS, None)]
    assert all(isinstance(row["accountId"], int) for row in credits)  # the id stays
    table = ok(cli, "audit", "list")
    assert f"{BOSS} / alpha01" in table and "ledger_credited" in table
    ids = {str(row["accountId"]) for row in trail}
    lines = [line for line in table.splitlines() if "ledger_credited" in line]
    assert lines and all(BOSS in line for line in lines)
    assert not any(f" {i} " in line for line in lines for i in ids)  # no bare internal id


# -- key sweep names the account -----------------------------------------------------------
def test_sweep_names_each_keys_account(cli: Cli, in_process: Callable[[float], Runtime]
                                       ) -> None:
    _boss_with_a_sub(cli)
    old = in_process(40)
    key_service.create_key(old, CreateKey(BOSS, label="idle", passphrase=PASSPHRASE))
    key_service.create_key(old, CreateKey(BOSS, label="subidle", passphrase=PASSPHRASE,
                                          sub="alpha01"))
    preview = ok(cli, "key", "sweep", "--dry-run", "--json")
    assert sorted((row["label"], row["account"], row["subAcct"]) for row in preview) == [
        ("idle", BOSS, None), ("subidle", BOSS, "alpha01")]
    swept = ok(cli, "key", "sweep")
    assert "deleted 2 idle key(s)" in swept
    assert f"idle of {BOSS} " in swept and f"subidle of {BOSS} / alpha01 " in swept
    assert ok(cli, "key", "sweep", "--json") == []


# -- key expiry-policy says what it deletes ------------------------------------------------
def test_expiry_policy_dry_run_counts_and_changes_nothing(
        cli: Cli, in_process: Callable[[float], Runtime]) -> None:
    ok(cli, "account", "create", BOSS, "--kyc-level", "2", input=PASSWORD)
    for days_ago, label, extra in ((40, "old", {}), (10, "tenday", {}),
                                   (40, "bound", {"ip": "10.0.0.1"}),
                                   (40, "demo", {"demo": True}), (1, "fresh", {})):
        key_service.create_key(in_process(days_ago), CreateKey(
            BOSS, label=label, passphrase=PASSPHRASE, **extra))  # type: ignore[arg-type]
    before = {k["label"]: k["expires"]
              for k in ok(cli, "key", "list", "--account", BOSS, "--json")}

    preview = ok(cli, "key", "expiry-policy", "--days", "7", "--dry-run")
    assert "2 live keys would be deleted now by this rule" in preview
    as_json = ok(cli, "key", "expiry-policy", "--days", "7", "--dry-run", "--json")
    assert as_json == {"idleDays": 7, "scope": "all", "dryRun": True, "dueNow": 2}
    assert ok(cli, "key", "expiry-policy", "--json")["idleDays"] == 30  # unchanged
    after = {k["label"]: k["expires"] for k in ok(cli, "key", "list", "--account", BOSS, "--json")}
    assert after == before
    assert "expiry_policy_set" not in [r["event"] for r in ok(cli, "audit", "list", "--json")]
    assert ok(cli, "key", "expiry-policy", "--okx", "--dry-run", "--json")["dueNow"] == 0

    nothing = cli("key", "expiry-policy", "--dry-run")
    assert nothing.exit_code == 2 and "--days" in nothing.stderr

    applied = ok(cli, "key", "expiry-policy", "--days", "7", "--json")
    assert applied == {"idleDays": 7, "scope": "all", "dryRun": False, "dueNow": 2}
    assert ok(cli, "key", "expiry-policy", "--json")["idleDays"] == 7
    told = ok(cli, "key", "expiry-policy", "--days", "7")
    assert "2 live keys are past this rule now" in told and "next sweep" in told
    swept = ok(cli, "key", "sweep", "--json")
    assert sorted(row["label"] for row in swept) == ["old", "tenday"]
    newest = next(r for r in ok(cli, "audit", "list", "--json")
                  if r["event"] == "expiry_policy_set")
    assert newest["details"] == {"idle_days": 7, "scope": "all", "due_now": 2}


# -- the QR file ---------------------------------------------------------------------------
@pytest.mark.parametrize("existed", [False, True])
def test_the_qr_file_is_readable_by_its_owner_only(cli: Cli, tmp_path: Path,
                                                   existed: bool) -> None:
    qr = tmp_path / "qr.svg"
    if existed:
        qr.write_text("old")
        qr.chmod(0o644)
    previous = os.umask(0o022)
    try:
        ok(cli, "account", "create", BOSS, input=PASSWORD)
        ok(cli, "account", "enroll-2fa", BOSS, "--qr", str(qr))
    finally:
        os.umask(previous)
    assert stat.S_IMODE(qr.stat().st_mode) == 0o600
    assert qr.read_text().lstrip().startswith("<")
