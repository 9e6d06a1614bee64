"""Secrets at rest and in transit: after a whole life of an account and its keys, through the
CLI and the API of a real ``keyseal serve`` (sign-up, 2FA enrolled and re-enrolled with a
recovery code, keys created, used, edited, rotated with a new passphrase, regenerated,
disabled and deleted, sub-account keys made, changed and deleted over the API, and errors
provoked all along), none of the secrets, passphrases, TOTP seeds, recovery codes or
passwords used is in the database (the SQLite files, or every row of every PostgreSQL
table), in the server's log, or in any HTTP answer but the one that hands a new secret out.
(The dashboard's pages join this test when the dashboard lands.)"""

from __future__ import annotations

import json
import os
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pyotp
import pytest
from sqlalchemy import create_engine, inspect, text

from keyseal import errors
from keyseal.services import accounts as account_service
from keyseal.services.runtime import open_runtime
from keyseal.settings import Settings, normalise_db_url
from keyseal.signing import format_timestamp, sign_request
from tests.conftest import KEYSEAL, postgres_url, start_server, stop_server

PASSWORD = "Horse-Battery-Staple-9"
PASSPHRASES = ["First-Phrase1!", "Sub-Phrase2!", "Rotated-Phrase3!", "Regen-Phrase4!"]


@dataclass
class Run:
    home: Path
    env: dict[str, str]
    url: str
    process: subprocess.Popen[bytes]
    #: the PostgreSQL schema holding the data (None: SQLite in the home)
    schema: str | None = None
    #: every secret-like value used, and the HTTP answers (body, what it may carry)
    secrets: set[str] = field(default_factory=set)
    answers: list[tuple[str, frozenset[str]]] = field(default_factory=list)

    def stop(self) -> None:
        """Stop the server (it writes what it holds on the way out); dump PostgreSQL."""
        stop_server(self.process)
        if self.schema is not None:
            dump_postgres(self.env["KEYSEAL_DB"], self.schema, self.home / "dump.txt")

    def cli(self, *args: str, stdin: str | None = None, ok: bool = True) -> Any:
        done = subprocess.run([KEYSEAL, *args, "--json"], input=stdin, text=True,
                              capture_output=True, env=self.env, timeout=60)
        assert (done.returncode == 0) == ok, (args, done.stdout, done.stderr)
        return json.loads(done.stdout) if ok and done.stdout.strip() else None

    def call(self, key: dict[str, str], method: str, path: str, body: Any = None,
             **overrides: str) -> dict[str, Any]:
        text_body = "" if body is None else json.dumps(body)
        ts = format_timestamp(time.time())
        secret = overrides.get("secret", key["secretKey"])
        headers = {"OK-ACCESS-KEY": key["apiKey"], "OK-ACCESS-TIMESTAMP": ts,
                   "OK-ACCESS-PASSPHRASE": overrides.get("passphrase", key["passphrase"]),
                   "OK-ACCESS-SIGN": sign_request(secret, ts, method, path, text_body),
                   "Content-Type": "application/json"}
        response = httpx.request(method, self.url + path, content=text_body.encode(),
                                 headers=headers, timeout=30)
        self.answers.append((response.text, frozenset()))
        return dict(response.json())


@pytest.fixture(params=["sqlite", "postgresql"])
def run(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Run]:
    home = tmp_path / "home"
    home.mkdir()
    env = {**os.environ, "KEYSEAL_HOME": str(home)}
    schema = None
    if request.param == "postgresql":
        base = postgres_url()
        if not base:
            pytest.skip("PostgreSQL not configured: set KEYSEAL_TEST_POSTGRES_URL")
        schema = f"ks_{uuid.uuid4().hex[:12]}"
        with create_engine(normalise_db_url(base)).begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        env["KEYSEAL_DB"] = f"{base}?options=-csearch_path%3D{schema}"
    process, url = start_server(home, "--log-level", "debug", env=env)
    try:
        yield Run(home, env, url, process, schema)
    finally:
        stop_server(process)
        if schema is not None:
            with create_engine(normalise_db_url(postgres_url() or "")).begin() as conn:
                conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))


def dump_postgres(url: str, schema: str, into: Path) -> None:
    """Every row of every table of the schema, as text (what ``pg_dump --data-only`` would
    hold, in a form this test can read without the tool)."""
    engine = create_engine(normalise_db_url(url))
    lines = []
    with engine.connect() as conn:
        for table in inspect(conn).get_table_names(schema=schema):
            for row in conn.execute(text(f'SELECT * FROM "{schema}"."{table}"')):
                lines.append(f"{table}: " + " | ".join(str(v) for v in row))
    engine.dispose()
    assert lines, "the dump is empty: the test would prove nothing"
    into.write_text("\n".join(lines))


def life_of_an_account(run: Run) -> None:
    email = f"grep-{uuid.uuid4().hex[:8]}@example.com"
    run.secrets |= {PASSWORD, *PASSPHRASES}
    run.cli("account", "create", email, "--kyc-level", "2", stdin=PASSWORD)
    enrolled = run.cli("account", "enroll-2fa", email)
    seed = enrolled["secret"]
    run.secrets.add(seed)
    run.cli("account", "confirm-2fa", email, "000000", ok=False)  # a wrong code
    codes = run.cli("account", "confirm-2fa", email, pyotp.TOTP(seed).now())["recoveryCodes"]
    run.secrets |= set(codes)
    # enrol again, proving the account with a recovery code
    again = run.cli("account", "enroll-2fa", email, "--code", codes[0])
    run.secrets.add(again["secret"])
    codes2 = run.cli("account", "confirm-2fa", email,
                     pyotp.TOTP(again["secret"]).now())["recoveryCodes"]
    run.secrets |= set(codes2)
    # a login, as the dashboard will make it: wrong, then right
    rt = open_runtime(Settings(home=run.home, db_url=run.env.get("KEYSEAL_DB", "")))
    try:
        with pytest.raises(errors.OkxError):
            account_service.login(rt, email, PASSWORD + "x", ip="127.0.0.1")
        account_service.login(rt, email, PASSWORD, totp_code=codes2[1], ip="127.0.0.1")
    finally:
        rt.close()

    run.cli("ledger", "credit", "--account", email, "--ccy", "USDT", "--amount", "5000")
    key = run.cli("key", "create", "--account", email, "--label", "grepmain",
                  "--perm", "read_only,trade,withdraw", "--ip", "127.0.0.1",
                  "--sub-account-access", stdin=PASSPHRASES[0])
    run.secrets.add(key["secretKey"])
    # used, and errors provoked
    assert run.call(key, "GET", "/api/v5/account/balance")["code"] == "0"
    assert run.call(key, "POST", "/api/v5/trade/order", {
        "instId": "BTC-USDT", "tdMode": "cash", "side": "buy", "ordType": "limit",
        "px": "1000", "sz": "0.01"})["code"] == "0"
    assert run.call(key, "GET", "/api/v5/account/balance",
                    passphrase=PASSPHRASES[0] + "x")["code"] == "50105"
    assert run.call(key, "GET", "/api/v5/account/balance", secret="0" * 32)["code"] == "50113"
    assert run.call(key, "POST", "/api/v5/trade/order", {"instId": "BTC-USDT"})["code"] != "0"
    # sub-account keys over the API: created (the one answer that carries its secret),
    # listed, changed, deleted; and a creation refused for a bad passphrase
    run.cli("account", "create-sub", "--master", email, "grepsub01")
    created = run.call(key, "POST", "/api/v5/users/subaccount/apikey", {
        "subAcct": "grepsub01", "label": "grepsubkey", "passphrase": PASSPHRASES[1],
        "perm": "read_only"})
    assert created["code"] == "0", created
    sub_key = created["data"][0]
    run.secrets.add(sub_key["secretKey"])
    # OKX's answer to this call holds the new secret and the passphrase it was given
    run.answers[-1] = (run.answers[-1][0], frozenset({sub_key["secretKey"], PASSPHRASES[1]}))
    sub_creds = {"apiKey": sub_key["apiKey"], "secretKey": sub_key["secretKey"],
                 "passphrase": PASSPHRASES[1]}
    assert run.call(sub_creds, "GET", "/api/v5/account/balance")["code"] == "0"
    assert run.call(key, "POST", "/api/v5/users/subaccount/apikey", {
        "subAcct": "grepsub01", "label": "grepbad", "passphrase": "x"})["code"] != "0"
    assert run.call(key, "GET", "/api/v5/users/subaccount/apikey?subAcct=grepsub01"
                    )["code"] == "0"
    assert run.call(key, "POST", "/api/v5/users/subaccount/modify-apikey", {
        "subAcct": "grepsub01", "apiKey": sub_key["apiKey"], "label": "grepsubkey2"}
        )["code"] == "0"
    assert run.call(key, "POST", "/api/v5/users/subaccount/delete-apikey", {
        "subAcct": "grepsub01", "apiKey": sub_key["apiKey"]})["code"] == "0"
    # edited, rotated with a new passphrase (old and new both verify), regenerated, deleted
    run.cli("key", "edit", key["apiKey"], "--label", "grepedited", "--ip", "127.0.0.1,::1")
    rotated = run.cli("key", "rotate", key["apiKey"], "--new-passphrase",
                      stdin=PASSPHRASES[2])
    run.secrets.add(rotated["secretKey"])
    new = {**key, "secretKey": rotated["secretKey"], "passphrase": PASSPHRASES[2]}
    assert run.call(new, "GET", "/api/v5/account/balance")["code"] == "0"
    assert run.call(key, "GET", "/api/v5/account/balance")["code"] == "0"
    regenerated = run.cli("key", "regenerate", key["apiKey"], "--disable-old",
                          stdin=PASSPHRASES[3])
    run.secrets.add(regenerated["secretKey"])
    regen = {"apiKey": regenerated["apiKey"], "secretKey": regenerated["secretKey"],
             "passphrase": PASSPHRASES[3]}
    assert run.call(regen, "GET", "/api/v5/account/balance")["code"] == "0"
    assert run.call(new, "GET", "/api/v5/account/balance")["code"] == "50100"  # disabled
    run.cli("key", "delete", key["apiKey"], "--yes")
    run.cli("key", "disable", regenerated["apiKey"])
    run.cli("key", "delete", regenerated["apiKey"], "--yes")
    assert run.call(regen, "GET", "/api/v5/account/balance")["code"] == "50111"


def forms(secret: str) -> set[str]:
    """The secret as written, and in the other case (hex secrets, base32 seeds)."""
    return {secret, secret.lower(), secret.upper()} if len(secret) >= 8 else {secret}


def test_no_secret_is_at_rest_in_the_logs_or_in_an_answer(run: Run) -> None:
    life_of_an_account(run)
    secrets = set(run.secrets)
    assert len(secrets) >= 30  # passwords, passphrases, 2 seeds, 20 codes, 4 secrets
    found: dict[str, list[str]] = {}
    for index, (body, reveals) in enumerate(run.answers):
        for secret in secrets - reveals:
            if any(form in body for form in forms(secret)):
                found.setdefault(f"answer {index}", []).append(secret)
    # the database, its journal and the log: every file of the home but the master key,
    # read after the server stopped (it flushes on the way out); on PostgreSQL the dump
    run.stop()
    stores = [p for p in run.home.rglob("*") if p.is_file() and p.name != "master.key"]
    assert any(p.name == "server.log" for p in stores)
    for path in stores:
        data = path.read_bytes()
        for secret in secrets:
            if any(form.encode() in data for form in forms(secret)):
                found.setdefault(path.name, []).append(secret)
    assert not found, found
    print(f"secrets grep: {len(secrets)} secrets x ({len(run.answers)} answers + "
          f"{len(stores)} files, {sum(p.stat().st_size for p in stores)} bytes): none found")
