"""Issue 3 through the operator's command line: accounts (KYC, restrictions, sub-accounts,
two-factor) and the life of an API key (create, edit, regenerate, disable, delete, expire),
each in a fresh home, checked by what the commands print and what later commands show.

Each ``keyseal`` process costs about a second, so each test is one flow with many checks.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pyotp
import pytest

from keyseal.clock import ManualClock
from keyseal.domain.commands import CreateKey
from keyseal.domain.expiry import DAY_MS
from keyseal.http.app import create_app
from keyseal.http.background import flush_usage
from keyseal.http.okx.subaccount import created_key_fields
from keyseal.services import accounts as account_service
from keyseal.services import keys as key_service
from keyseal.services.runtime import Runtime, open_runtime
from keyseal.settings import Settings
from keyseal.signing import format_timestamp
from tests.conftest import KEYSEAL, signed_headers

PASSWORD = "long password 1\n"
PASS1 = "Passw0rd!one"
PASS2 = "Passw0rd!two"
PASS3 = "Passw0rd!three"
KEY_ROW = {"apiKey", "label", "perm", "ip", "environment", "status", "ts", "lastUsed",
           "lastUsedIp", "expires", "subAccountAccess", "explainSignatures", "rotation"}
AUDIT_ROW = {"ts", "event", "actor", "ip", "accountId", "account", "subAcct", "apiKey",
             "details"}
CLIENT = "203.0.113.7"

Run = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"


@pytest.fixture
def run(home: Path) -> Run:
    env = {**os.environ, "KEYSEAL_HOME": str(home)}
    env.pop("KEYSEAL_DB", None)

    def run(*args: str, input: str | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run([KEYSEAL, *args], input=input or "", text=True,
                              capture_output=True, env=env, timeout=60)
    return run


def ok(run: Run, *args: str, input: str | None = None) -> Any:
    """Run a command that must succeed; its JSON output when it printed any."""
    done = run(*args, input=input)
    assert done.returncode == 0, (args, done.stdout, done.stderr)
    return json.loads(done.stdout) if "--json" in args else done.stdout


def refused(run: Run, code: str, *args: str, input: str | None = None) -> str:
    """Run a command that must be refused with OKX/Keyseal ``code``; its stderr."""
    done = run(*args, input=input)
    assert done.returncode == 1, (args, done.stdout, done.stderr)
    assert "error:" in done.stderr and f"(code {code})" in done.stderr, done.stderr
    return done.stderr


def iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).isoformat()


def keys_by_label(run: Run, email: str, *extra: str) -> dict[str, dict[str, Any]]:
    rows = ok(run, "key", "list", "--account", email, *extra, "--json")
    for row in rows:
        assert set(row) == KEY_ROW
    return {row["label"]: row for row in rows}


def runtime(home: Path, now: float | None = None) -> Runtime:
    """The same home the CLI uses, opened in this process with a clock of our choosing."""
    return open_runtime(Settings(home=home), clock=ManualClock(time.time() if now is None
                                                               else now))


# -- accounts ------------------------------------------------------------------------------
def test_kyc_restriction_and_sub_accounts(run: Run) -> None:
    boss = "boss@example.com"
    created = ok(run, "account", "create", boss, "--json", input=PASSWORD)
    assert created["kycLv"] == 0 and created["email"] == boss

    # KYC level 0: no keys until the operator raises it to 2
    kyc = refused(run, "70001", "key", "create", "--account", boss, "--label", "bot1",
                  input=PASS1 + "\n")
    assert "level 2" in kyc
    ok(run, "account", "set-kyc", boss, "2")
    bot1 = ok(run, "key", "create", "--account", boss, "--label", "bot1", "--json",
              input=PASS1 + "\n")

    # a restricted account can neither create nor edit keys, until it is lifted
    ok(run, "account", "restrict", boss)
    refused(run, "70002", "key", "create", "--account", boss, "--label", "bot2",
            input=PASS1 + "\n")
    refused(run, "70002", "key", "edit", bot1["apiKey"], "--label", "renamed")
    ok(run, "account", "unrestrict", boss)
    ok(run, "key", "create", "--account", boss, "--label", "bot2", input=PASS1 + "\n")
    assert sorted(keys_by_label(run, boss)) == ["bot1", "bot2"]  # bot1 was not renamed

    # sub-accounts: 6-20 letters and digits, unique under the master
    for bad in ("abc12", "bad-name1"):  # too short; not only letters and digits
        refused(run, "51000", "account", "create-sub", "--master", boss, bad)
    sub = ok(run, "account", "create-sub", "--master", boss, "alpha01", "--json")
    assert sub["subAcct"] == "alpha01" and sub["uid"].isdigit() and sub["email"] is None
    refused(run, "70009", "account", "create-sub", "--master", boss, "alpha01")

    # the master creates keys for its sub-account, never with withdraw
    withdraw = refused(run, "59504", "key", "create", "--account", boss, "--sub", "alpha01",
                       "--label", "subbot", "--perm", "read_only,withdraw",
                       input=PASS1 + "\n")
    assert "withdraw" in withdraw.lower()
    sub_key = ok(run, "key", "create", "--account", boss, "--sub", "alpha01", "--label",
                 "subbot", "--perm", "trade", "--json", input=PASS1 + "\n")
    assert sub_key["perm"] == "read_only,trade"
    assert list(keys_by_label(run, boss, "--sub", "alpha01")) == ["subbot"]
    assert sorted(keys_by_label(run, boss)) == ["bot1", "bot2"]

    trail = ok(run, "audit", "list", "--account", boss, "--json")
    events = [row["event"] for row in trail]
    for event in ("signed_up", "kyc_set", "restriction_set", "restriction_lifted",
                  "sub_account_created", "key_created"):
        assert event in events, events
    assert sub_key["apiKey"] in [row["apiKey"] for row in trail]  # the sub's events too
    [kyc_event] = [row for row in trail if row["event"] == "kyc_set"]
    assert kyc_event["details"] == {"old": 0, "new": 2} and kyc_event["actor"] == "operator:cli"
    text = json.dumps(trail)
    for secret in (bot1["secretKey"], sub_key["secretKey"], PASS1, PASSWORD.strip()):
        assert secret not in text


def test_two_factor_enrolment_gives_ten_recovery_codes(run: Run) -> None:
    email = "totp@example.com"
    ok(run, "account", "create", email, "--kyc-level", "2", input=PASSWORD)
    enrolled = ok(run, "account", "enroll-2fa", email, "--json")
    assert set(enrolled) == {"secret", "uri"}
    assert enrolled["uri"].startswith("otpauth://totp/") and enrolled["secret"] in enrolled["uri"]

    wrong = pyotp.TOTP(pyotp.random_base32()).now()  # a code from some other secret
    if wrong != pyotp.TOTP(enrolled["secret"]).now():
        refused(run, "70004", "account", "confirm-2fa", email, wrong)
    confirmed = ok(run, "account", "confirm-2fa", email, pyotp.TOTP(enrolled["secret"]).now(),
                   "--json")
    assert set(confirmed) == {"recoveryCodes"}
    codes = confirmed["recoveryCodes"]
    assert len(codes) == 10 and len(set(codes)) == 10

    trail = ok(run, "audit", "list", "--account", email, "--json")
    assert {"2fa_enrolment_started", "2fa_enabled"} <= {row["event"] for row in trail}
    text = json.dumps(trail)
    assert enrolled["secret"] not in text and not any(code in text for code in codes)


def test_a_used_two_factor_code_is_refused_70004(run: Run) -> None:
    email = "reuse@example.com"
    ok(run, "account", "create", email, "--kyc-level", "2", input=PASSWORD)
    secret = ok(run, "account", "enroll-2fa", email, "--json")["secret"]
    code = pyotp.TOTP(secret).now()
    ok(run, "account", "confirm-2fa", email, code, "--json")
    refused(run, "70004", "account", "confirm-2fa", email, code)


# -- a key's life --------------------------------------------------------------------------
def test_edit_regenerate_disable_delete_and_the_audit_trail(run: Run) -> None:
    ops = "ops@example.com"
    ok(run, "account", "create", ops, "--kyc-level", "2", input=PASSWORD)
    edited = ok(run, "key", "create", "--account", ops, "--label", "edit1", "--perm", "trade",
                "--ip", "10.0.0.1", "--json", input=PASS1 + "\n")
    bot1 = ok(run, "key", "create", "--account", ops, "--label", "bot1", "--perm", "trade",
              "--ip", "10.0.0.5, 2001:db8::/48", "--json", input=PASS2 + "\n")
    assert bot1["ip"] == "10.0.0.5,2001:db8::/48"

    # edit: label and IP only
    changed = ok(run, "key", "edit", edited["apiKey"], "--label", "edit2", "--ip",
                 "10.0.0.1 10.0.0.2", "--json")
    assert (changed["label"], changed["ip"], changed["perm"]) == (
        "edit2", "10.0.0.1,10.0.0.2", "read_only,trade")
    message = refused(run, "70005", "key", "edit", edited["apiKey"], "--perm", "read_only",
                      "--label", "edit3", "--ip", "")
    assert "create a new key" in message
    refused(run, "59502", "key", "edit", edited["apiKey"], "--label", "bot1")  # taken
    nothing = run("key", "edit", edited["apiKey"])
    assert nothing.returncode == 2 and "nothing to change" in nothing.stderr
    row = keys_by_label(run, ops)["edit2"]  # no refusal changed anything
    assert (row["perm"], row["ip"], row["status"]) == ("read_only,trade", "10.0.0.1,10.0.0.2",
                                                       "enabled")
    unbound = ok(run, "key", "edit", edited["apiKey"], "--ip", "", "--json")
    assert (unbound["label"], unbound["ip"]) == ("edit2", "")

    # regenerate: a new key with the same settings, a derived label
    v2 = ok(run, "key", "regenerate", bot1["apiKey"], "--disable-old", "--json",
            input=PASS3 + "\n")
    assert set(v2) == {"apiKey", "secretKey", "passphrase", "label", "perm", "ip", "ts"}
    assert (v2["label"], v2["perm"], v2["ip"], v2["passphrase"]) == (
        "bot1v2", "read_only,trade", "10.0.0.5,2001:db8::/48", PASS3)
    assert v2["apiKey"] != bot1["apiKey"] and v2["secretKey"] != bot1["secretKey"]
    v3 = ok(run, "key", "regenerate", v2["apiKey"], "--keep-old", "--json", input=PASS3 + "\n")
    assert v3["label"] == "bot1v3" and v3["ip"] == bot1["ip"]
    rows = keys_by_label(run, ops)
    assert {label: r["status"] for label, r in rows.items()} == {
        "edit2": "enabled", "bot1": "disabled", "bot1v2": "enabled", "bot1v3": "enabled"}

    # disable, enable
    assert ok(run, "key", "disable", v3["apiKey"], "--json")["status"] == "disabled"
    assert ok(run, "key", "enable", v3["apiKey"], "--json")["status"] == "enabled"

    # delete: not at a terminal it proceeds, after printing when the key was last used
    deleted = run("key", "delete", bot1["apiKey"])
    assert deleted.returncode == 0, deleted.stderr
    assert "last used: never" in deleted.stderr
    assert "bot1" not in keys_by_label(run, ops)
    refused(run, "59506", "key", "delete", bot1["apiKey"], "--yes")

    # the audit trail: every change, by whom, and never a secret or passphrase
    trail = ok(run, "audit", "list", "--json")
    assert trail and all(set(row) == AUDIT_ROW for row in trail)
    events = [row["event"] for row in trail]
    for event in ("signed_up", "key_created", "key_edited", "key_regenerated", "key_disabled",
                  "key_enabled", "key_deleted"):
        assert event in events, events
    assert all(row["actor"] == "operator:cli" for row in trail)
    assert all(row["ts"].isdigit() for row in trail)
    edits = [row for row in trail if row["event"] == "key_edited"]
    assert {"label": ["edit1", "edit2"], "ip": ["10.0.0.1", "10.0.0.1,10.0.0.2"]} in [
        row["details"] for row in edits]
    [regen] = [row for row in trail if row["event"] == "key_regenerated"
               and row["apiKey"] == bot1["apiKey"]]
    assert regen["details"] == {"new_api_key": v2["apiKey"]}
    text = json.dumps(trail)
    for secret in (edited["secretKey"], bot1["secretKey"], v2["secretKey"], v3["secretKey"],
                   PASS1, PASS2, PASS3):
        assert secret not in text

    only = ok(run, "audit", "list", "--key", edited["apiKey"], "--json")
    assert only and {row["apiKey"] for row in only} == {edited["apiKey"]}
    assert [row["event"] for row in only] == ["key_edited", "key_edited", "key_created"]


# -- inactivity expiry ---------------------------------------------------------------------
def test_the_sweeper_and_the_expiry_policy(run: Run) -> None:
    email = "idle@example.com"
    ok(run, "account", "create", email, "--kyc-level", "2", input=PASSWORD)

    def create(label: str, *args: str) -> dict[str, str]:
        return ok(run, "key", "create", "--account", email, "--label", label, *args, "--json",
                  input=PASS1 + "\n")

    reader = create("reader")  # read_only, no IP
    trader = create("trader", "--perm", "trade")  # no IP
    bound = create("bound", "--perm", "trade", "--ip", "10.0.0.1")
    demo = create("demo", "--perm", "trade", "--demo")
    created = max(int(k["ts"]) for k in (reader, trader, bound, demo))

    def sweep(days: float, *extra: str) -> list[str]:
        rows = ok(run, "key", "sweep", "--as-of", iso(created + int(days * DAY_MS)), *extra,
                  "--json")
        return sorted(row["label"] for row in rows)

    assert sweep(29) == []
    assert sweep(31, "--dry-run") == ["reader", "trader"]
    assert sorted(keys_by_label(run, email)) == ["bound", "demo", "reader", "trader"]

    # OKX's rule: 14 days, and only for keys with trade or withdraw
    assert ok(run, "key", "expiry-policy", "--okx", "--json") == {
        "idleDays": 14, "scope": "trade-or-withdraw", "dryRun": False, "dueNow": 0}
    assert ok(run, "key", "expiry-policy", "--json") == {  # stored: a new process sees it
        "idleDays": 14, "scope": "trade-or-withdraw"}
    rows = keys_by_label(run, email)
    assert rows["reader"]["expires"] is None and rows["bound"]["expires"] is None
    assert rows["demo"]["expires"] is None
    assert rows["trader"]["expires"] == str(int(trader["ts"]) + 14 * DAY_MS)
    assert sweep(15) == ["trader"]
    assert sorted(keys_by_label(run, email)) == ["bound", "demo", "reader"]

    # back to the default rule: every live key without an IP, after 30 idle days
    assert ok(run, "key", "expiry-policy", "--days", "30", "--scope", "all", "--json") == {
        "idleDays": 30, "scope": "all", "dryRun": False, "dueNow": 0}
    assert sweep(31) == ["reader"]
    assert sweep(3650) == []  # an IP-bound key and a demo key never expire
    assert sorted(keys_by_label(run, email)) == ["bound", "demo"]

    trail = ok(run, "audit", "list", "--json")
    expired = [row for row in trail if row["event"] == "key_expired"]
    assert sorted(row["apiKey"] for row in expired) == sorted([reader["apiKey"],
                                                               trader["apiKey"]])
    assert all(row["actor"] == "system:sweeper" for row in expired)
    assert "expiry_policy_set" in [row["event"] for row in trail]


async def test_stale_keys_and_last_use_from_a_signed_request(run: Run, home: Path) -> None:
    email = "boss2@example.com"
    ok(run, "account", "create", email, "--kyc-level", "2", input=PASSWORD)
    ok(run, "account", "create-sub", "--master", email, "alpha01")
    fresh = ok(run, "key", "create", "--account", email, "--label", "fresh", "--json",
               input=PASS1 + "\n")
    admin = ok(run, "key", "create", "--account", email, "--label", "admin", "--perm", "trade",
               "--ip", CLIENT, "--sub-account-access", "--json", input=PASS1 + "\n")

    now = time.time()
    rt = runtime(home, now - 11 * 86_400)  # a key made 11 days ago, never used since
    try:
        old = created_key_fields(key_service.create_key(rt, CreateKey(email, label="old", passphrase=PASS1,
                                     perm="read_only")))
        # the admin key creates a sub-account key through OKX's endpoint, then it is used
        rt.clock = ManualClock(now)  # type: ignore[assignment]
        app = create_app(rt)
        transport = httpx.ASGITransport(app=app, client=(CLIENT, 50000))
        async with httpx.AsyncClient(transport=transport, base_url="http://keyseal.test") as client:
            body = json.dumps({"subAcct": "alpha01", "label": "viaapi", "passphrase": PASS2,
                               "perm": "trade", "ip": CLIENT})
            target = "/api/v5/users/subaccount/apikey"
            answer = await client.post(target, content=body, headers=signed_headers(
                admin, "POST", target, body, timestamp=format_timestamp(rt.clock())))
            assert answer.json()["code"] == "0", answer.text
            [via_api] = answer.json()["data"]
            target = "/api/v5/account/balance"
            answer = await client.get(target, headers=signed_headers(
                via_api, "GET", target, timestamp=format_timestamp(rt.clock())))
            assert answer.json()["code"] == "0", answer.text
        flush_usage(app.state)
        master_id = account_service.account_by_email(rt, email).id
    finally:
        rt.close()

    rows = keys_by_label(run, email)
    assert rows["admin"]["subAccountAccess"] is True and rows["fresh"]["subAccountAccess"] is False
    assert rows["old"]["lastUsed"] is None
    stale = keys_by_label(run, email, "--stale", "10")
    assert list(stale) == ["old"] and stale["old"]["apiKey"] == old["apiKey"]
    assert keys_by_label(run, email, "--stale", "12") == {}
    assert fresh["apiKey"] not in [r["apiKey"] for r in stale.values()]
    [sub_row] = keys_by_label(run, email, "--sub", "alpha01").values()
    assert sub_row["lastUsed"] == str(int(now * 1000)) and sub_row["lastUsedIp"] == CLIENT

    # the endpoint's action is in the trail: the calling key as actor, the caller's IP
    trail = ok(run, "audit", "list", "--key", via_api["apiKey"], "--json")
    [made] = trail
    assert (made["event"], made["actor"], made["ip"]) == (
        "key_created", f"api:{admin['apiKey']}", CLIENT)
    assert made["accountId"] != master_id
    assert via_api["secretKey"] not in json.dumps(trail) and PASS2 not in json.dumps(trail)

    # deleting shows when and from where the key was last used
    deleted = run("key", "delete", via_api["apiKey"])
    assert deleted.returncode == 0, deleted.stderr
    used_at = datetime.fromtimestamp(now, tz=UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    assert f"last used: {used_at} from {CLIENT}" in deleted.stderr
    assert keys_by_label(run, email, "--sub", "alpha01") == {}
    trail = ok(run, "audit", "list", "--key", via_api["apiKey"], "--json")
    assert trail[0]["event"] == "key_deleted"
    assert trail[0]["details"]["last_used_ip"] == CLIENT
