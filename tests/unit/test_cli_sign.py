"""``keyseal sign --explain``: what a request about to be sent will hash and its signature,
with the secret from stdin or a vault entry, never from arguments (issue 11, item 3)."""

from __future__ import annotations

import json
import secrets
import sys
from pathlib import Path

from typer.testing import CliRunner

from keyseal.cli import app
from keyseal.signing import explain, sign_request
from tests.unit.test_cli_startup import loaded_by

TS = "2026-12-03T08:00:00.123Z"
TARGET = "/api/v5/account/balance?ccy=BTC%2CETH"


def invoke(*args: str, input: str = "", env: dict[str, str] | None = None):
    return CliRunner().invoke(app, list(args), input=input, env={"COLUMNS": "200", **(env or {})})


def test_it_prints_each_part_and_the_signature_with_the_secret_from_stdin() -> None:
    secret = secrets.token_hex(16)
    shown = invoke("sign", "--explain", "get", TARGET, "--timestamp", TS, input=secret + "\n")
    assert shown.exit_code == 0, shown.output
    text = shown.stdout
    for part in (TS, "GET", TARGET, "/api/v5/account/balance?ccy=BTC,ETH", "0 bytes",
                 explain(TS, "GET", TARGET)["bodySha256"], f"{TS}GET{TARGET}",
                 sign_request(secret, TS, "GET", TARGET)):
        assert part in text, part
    assert secret not in shown.output


def test_json_output_is_the_servers_explain_shape_and_the_body_counts() -> None:
    secret = secrets.token_hex(16)
    body = '{"instId":"BTC-USDT"}'
    shown = invoke("sign", "--explain", "POST", "/api/v5/trade/order", "--body", body,
                   "--timestamp", TS, "--json", input=secret + "\n")
    assert shown.exit_code == 0, shown.output
    printed = json.loads(shown.stdout)
    assert printed == {"explain": explain(TS, "POST", "/api/v5/trade/order", body),
                       "signature": sign_request(secret, TS, "POST", "/api/v5/trade/order",
                                                 body)}


def test_it_compares_with_what_the_server_said() -> None:
    """Paste the server's 50113 envelope: the command says which part differs."""
    server = {"code": "50113", "msg": "Invalid Sign", "data": [],
              "explain": explain(TS, "GET", TARGET)}
    shown = invoke("sign", "--explain", "GET", "/api/v5/account/balance", "--timestamp", TS,
                   "--against", json.dumps(server), input="s3cret-value\n")
    assert shown.exit_code == 1, shown.output
    assert "target differs" in shown.stdout
    same = invoke("sign", "--explain", "GET", TARGET, "--timestamp", TS,
                  "--against", json.dumps(server["explain"]), input="s3cret-value\n")
    assert same.exit_code == 0 and "secret key is wrong" in same.stdout


def test_the_secret_can_come_from_a_vault_entry(tmp_path: Path) -> None:
    env = {"KEYSEAL_VAULT": str(tmp_path / "vault"), "KEYSEAL_VAULT_PASSWORD": "vault pass 1"}
    api_key, secret, passphrase = "k-" + secrets.token_hex(4), secrets.token_hex(16), "Pp-1aA"
    added = invoke("vault", "add", "bot", input=f"{api_key}\n{secret}\n{passphrase}\n", env=env)
    assert added.exit_code == 0, added.output
    shown = invoke("sign", "--explain", "GET", TARGET, "--timestamp", TS, "--vault-entry", "bot",
                   env=env)
    assert shown.exit_code == 0, shown.output
    assert sign_request(secret, TS, "GET", TARGET) in shown.stdout
    assert secret not in shown.output and passphrase not in shown.output


def test_a_bad_timestamp_or_no_secret_is_a_usage_error() -> None:
    assert invoke("sign", "GET", TARGET, "--timestamp", "yesterday", input="x\n").exit_code == 2
    assert invoke("sign", "GET", TARGET, "--timestamp", TS).exit_code == 2


def test_sign_loads_none_of_the_server(tmp_path: Path) -> None:
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "PYTHONPATH": ":".join(sys.path)}
    assert loaded_by(["sign", "--explain", "GET", TARGET, "--timestamp", TS], env) == []
