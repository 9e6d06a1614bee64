"""``keyseal key rotate`` through the real command line, in a fresh home: the new secret shown
once (a table or ``--json``), a second rotation refused unless ``--force``, ``--finish``,
refusals that change nothing, ``key list`` saying when and from where the old secret was last
used, the audit trail — and no secret in the clear in the database, the trail or the output
of other commands."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from keyseal.http.app import create_app
from keyseal.http.background import flush_usage
from keyseal.signing import format_timestamp
from tests.conftest import signed_headers
from tests.faults.test_cli_lifecycle import (
    KEY_ROW,
    PASS1,
    PASS2,
    PASSWORD,
    Run,
    ok,
    refused,
    runtime,
)
from tests.faults.test_cli_lifecycle import home as home  # noqa: F401 - the fixtures
from tests.faults.test_cli_lifecycle import run as run  # noqa: F401

CLIENT = "198.51.100.23"
BALANCE = "/api/v5/account/balance"


def key_rows(run: Run, email: str) -> dict[str, dict[str, Any]]:
    rows = ok(run, "key", "list", "--account", email, "--json")
    assert all(set(row) == KEY_ROW for row in rows)
    return {row["label"]: row for row in rows}


async def balance_code(home: Path, key: dict[str, str]) -> str:
    """One signed request to an in-process server on the same home; usage written after."""
    rt = runtime(home, time.time())
    try:
        app = create_app(rt)
        transport = httpx.ASGITransport(app=app, client=(CLIENT, 50000))
        async with httpx.AsyncClient(transport=transport, base_url="http://keyseal.test") as client:
            answer = await client.get(BALANCE, headers=signed_headers(
                key, "GET", BALANCE, timestamp=format_timestamp(rt.clock())))
        flush_usage(app.state)
    finally:
        rt.close()
    return str(answer.json()["code"])


async def test_rotate_show_once_list_finish_and_audit(run: Run, home: Path) -> None:
    email = "rot@example.com"
    ok(run, "account", "create", email, "--kyc-level", "2", input=PASSWORD)
    key = ok(run, "key", "create", "--account", email, "--label", "bot1", "--json",
             input=PASS1 + "\n")
    api_key = key["apiKey"]

    rotated = ok(run, "key", "rotate", api_key, "--json")
    assert rotated["apiKey"] == api_key and rotated["secretKey"] != key["secretKey"]
    assert rotated["passphrase"] is None and rotated["label"] == "bot1"
    assert rotated["oldSecretSilenceS"] == 24 * 3600
    grace_until = int(rotated["oldSecretGraceUntil"])
    assert abs(grace_until - (time.time() + 7 * 86_400) * 1000) < 60_000
    new = {**key, "secretKey": rotated["secretKey"]}

    # a second rotation while the old secret still verifies: refused, and nothing changes
    busy = refused(run, "70021", "key", "rotate", api_key)
    assert "--finish" in busy and "--force" in busy
    assert await balance_code(home, key) == "0"
    assert await balance_code(home, new) == "0"

    # key list says when and from where the old secret was last used
    row = key_rows(run, email)["bot1"]
    assert row["lastUsedIp"] == CLIENT
    rotation = row["rotation"]
    assert rotation["oldSecretLive"] is True and rotation["oldSecretLastUsedIp"] == CLIENT
    assert rotation["oldSecretGraceUntil"] == str(grace_until)
    table = ok(run, "key", "list", "--account", email)
    assert "old secret last used" in table and f"from {CLIENT}" in table
    assert "unless used again" in table

    # --force: a new secret again, the first one stops now; with a new passphrase
    forced = ok(run, "key", "rotate", api_key, "--force", "--new-passphrase", "--grace", "2d",
                "--json", input=PASS2 + "\n")
    assert forced["passphrase"] == PASS2
    assert int(forced["oldSecretGraceUntil"]) - grace_until < -4 * 86_400_000
    newest = {**key, "secretKey": forced["secretKey"], "passphrase": PASS2}
    assert await balance_code(home, key) == "50113"
    assert await balance_code(home, new) == "0"  # the previous secret, with its passphrase
    assert await balance_code(home, newest) == "0"

    done = run("key", "rotate", api_key, "--finish")
    assert done.returncode == 0 and "no longer verifies" in done.stdout, done.stderr
    assert await balance_code(home, new) == "50113"
    assert await balance_code(home, newest) == "0"
    refused(run, "70022", "key", "rotate", api_key, "--finish")
    assert "stopped verifying" in ok(run, "key", "list", "--account", email)

    trail = ok(run, "audit", "list", "--key", api_key, "--json")
    events = [row["event"] for row in trail]
    assert events.count("key_rotated") == 2 and events.count("key_old_secret_retired") == 1
    shown = json.dumps(trail)
    db = (home / "keyseal.db").read_bytes() + b"".join(
        p.read_bytes() for p in home.glob("keyseal.db-wal"))
    for secret in (key["secretKey"], rotated["secretKey"], forced["secretKey"], PASS1, PASS2):
        assert secret not in shown
        assert secret.encode() not in db


def test_rotate_refusals_at_the_command_line(run: Run) -> None:
    email = "rot2@example.com"
    ok(run, "account", "create", email, "--kyc-level", "2", input=PASSWORD)
    key = ok(run, "key", "create", "--account", email, "--label", "bot2", "--json",
             input=PASS1 + "\n")
    refused(run, "59506", "key", "rotate", "0b4e7a52-5b8e-4d0a-9a55-2f1f0d9e9c11")
    ok(run, "key", "disable", key["apiKey"])
    disabled = refused(run, "70020", "key", "rotate", key["apiKey"])
    assert "key enable" in disabled
    ok(run, "key", "enable", key["apiKey"])
    refused(run, "51000", "key", "rotate", key["apiKey"], "--grace", "soon")
    refused(run, "59505", "key", "rotate", key["apiKey"], "--new-passphrase", input="weak\n")
    assert key_rows(run, email)["bot2"]["rotation"] is None  # none of it changed anything
    both = run("key", "rotate", key["apiKey"], "--finish", "--force")
    assert both.returncode == 2 and "--finish" in both.stderr

    # --grace 0: a plain replacement, shown as such
    now = run("key", "rotate", key["apiKey"], "--grace", "0")
    assert now.returncode == 0 and "no longer verifies" in now.stderr
    assert "secretKey" in now.stdout
    assert key_rows(run, email)["bot2"]["rotation"]["oldSecretLive"] is False

    # the sweeper, run by hand, retires an old secret silent for a day
    ok(run, "key", "rotate", key["apiKey"])
    later = datetime.fromtimestamp(time.time() + 2 * 86_400, tz=UTC).isoformat()
    preview = run("key", "sweep", "--as-of", later, "--dry-run")
    assert "would retire the old secret of 1 rotated key(s)" in preview.stderr
    assert key_rows(run, email)["bot2"]["rotation"]["oldSecretLive"] is True
    swept = run("key", "sweep", "--as-of", later)
    assert swept.returncode == 0 and "retired the old secret of 1" in swept.stderr
    assert key_rows(run, email)["bot2"]["rotation"]["oldSecretLive"] is False
