"""A CLI mistake prints what was wrong and what to do, exits non-zero and changes nothing."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from tests.conftest import KEYSEAL


@pytest.fixture
def run(tmp_path: Path):  # type: ignore[no-untyped-def]
    env = {**os.environ, "KEYSEAL_HOME": str(tmp_path / "home")}
    env.pop("KEYSEAL_DB", None)

    def run(*args: str, input: str | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run([KEYSEAL, *args], input=input or "", text=True,
                              capture_output=True, env=env, timeout=60)
    return run


def test_the_operator_flow_and_its_mistakes(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    created = run("account", "create", "ops@example.com", "--kyc-level", "2", "--json",
                  input="long password 1\n")
    assert created.returncode == 0, created.stderr
    assert json.loads(created.stdout)["email"] == "ops@example.com"

    again = run("account", "create", "ops@example.com", input="long password 1\n")
    assert again.returncode == 1 and "already exists" in again.stderr

    nobody = run("key", "create", "--account", "nobody@example.com", "--label", "a",
                 input="Passw0rd!x\n")
    assert nobody.returncode == 1 and "50008" in nobody.stderr and "account create" in nobody.stderr

    weak = run("key", "create", "--account", "ops@example.com", "--label", "a", input="weak\n")
    assert weak.returncode == 1 and "59505" in weak.stderr and "special character" in weak.stderr

    bad_ip = run("key", "create", "--account", "ops@example.com", "--label", "a",
                 "--ip", "1.2.3.4,not-ip", input="Passw0rd!x\n")
    assert bad_ip.returncode == 1 and "not-ip" in bad_ip.stderr

    no_passphrase = run("key", "create", "--account", "ops@example.com", "--label", "a")
    assert no_passphrase.returncode == 2 and "standard input" in no_passphrase.stderr

    listed = run("key", "list", "--account", "ops@example.com", "--json")
    assert json.loads(listed.stdout) == []  # none of the refusals left a key behind

    made = run("key", "create", "--account", "ops@example.com", "--label", "bot1",
               "--perm", "read_only,trade", "--ip", "10.0.0.1 10.0.0.2", "--json",
               input="Passw0rd!x\n")
    shown = json.loads(made.stdout)
    assert set(shown) == {"apiKey", "secretKey", "passphrase", "label", "perm", "ip", "ts"}
    assert shown["perm"] == "read_only,trade" and shown["ip"] == "10.0.0.1,10.0.0.2"

    listed = json.loads(run("key", "list", "--account", "ops@example.com", "--json").stdout)
    assert [k["apiKey"] for k in listed] == [shown["apiKey"]]
    assert shown["secretKey"] not in json.dumps(listed)  # never shown again

    bad_amount = run("ledger", "credit", "--account", "ops@example.com", "--ccy", "BTC",
                     "--amount", "-5")
    assert bad_amount.returncode == 1 and "51000" in bad_amount.stderr
    bad_ccy = run("ledger", "credit", "--account", "ops@example.com", "--ccy", "DOGE",
                  "--amount", "5")
    assert bad_ccy.returncode == 1 and "DOGE" in bad_ccy.stderr
    credited = run("ledger", "credit", "--account", "ops@example.com", "--ccy", "BTC",
                   "--amount", "0.5", "--json")
    assert json.loads(credited.stdout)["cashBal"] == "0.5"

    ghost = run("key", "disable", "11111111-2222-4333-8444-555555555555")
    assert ghost.returncode == 1 and "59506" in ghost.stderr

    disabled = json.loads(run("key", "disable", shown["apiKey"], "--json").stdout)
    assert disabled["status"] == "disabled"

    home = tmp_path / "home"
    assert oct((home / "master.key").stat().st_mode & 0o777) == "0o600"
    database = (home / "keyseal.db").read_bytes()
    assert shown["secretKey"].encode() not in database and b"Passw0rd!x" not in database


def test_master_key_rotation_keeps_keys_working(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    run("account", "create", "rot@example.com", "--kyc-level", "2", input="long password 1\n")
    made = json.loads(run("key", "create", "--account", "rot@example.com", "--label", "r1",
                          "--json", input="Passw0rd!x\n").stdout)
    rotated = run("master-key", "rotate", "--json")
    assert json.loads(rotated.stdout) == {"version": 2, "resealed": 1}
    from keyseal.crypto.keyring import load_keyring
    from keyseal.services.keys import load_entry
    from keyseal.services.runtime import open_runtime
    from keyseal.settings import Settings

    rt = open_runtime(Settings(home=tmp_path / "home"))
    try:
        assert sorted(load_keyring(tmp_path / "home", environ={}).keys) == [1, 2]
        found = load_entry(rt, made["apiKey"])
        assert found is not None and found.secret == made["secretKey"].encode()
    finally:
        rt.close()


def test_a_rotation_while_serving_needs_no_restart(live_server) -> None:  # type: ignore[no-untyped-def]
    import httpx

    from tests.conftest import signed_headers

    before = live_server.new_key()
    rotated = json.loads(live_server.cli("master-key", "rotate", "--json").stdout)
    assert rotated["version"] >= 2
    live_server.rt.keyring = live_server.rt.keyring.__class__.from_text(
        json.loads((live_server.home / "master.key").read_text())["keys"])
    after = live_server.new_key()  # sealed under the new version the server has not loaded
    for key in (before, after):
        response = httpx.get(live_server.url + "/api/v5/account/config",
                             headers=signed_headers(key, "GET", "/api/v5/account/config"))
        assert response.json()["code"] == "0", response.text
