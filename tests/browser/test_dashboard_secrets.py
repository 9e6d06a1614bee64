"""The dashboard's part of the secrets grep (docs/security.md): after a whole life of an
account in the browser — sign-up, the authenticator app, keys created, used, edited,
regenerated, deleted, a wrong code provoked, log out and in again — no page after the
one-time reveals, no line of the server's log (debug level, with the access log), and no
file of the server's home holds the password, the TOTP seed, a recovery code, a secret key
or a passphrase."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from keyseal.services.runtime import open_runtime
from keyseal.settings import Settings
from tests.browser.conftest import (
    PASSPHRASE,
    PASSWORD,
    Codes,
    Dashboard,
    balance_code,
    enrol_totp,
    sign_up,
)
from tests.browser.test_dashboard import create_key
from tests.conftest import new_email, start_server, stop_server

pytestmark = pytest.mark.compat
NEW_PASSPHRASE = "Regen-pass-77!"


@pytest.fixture(scope="module")
def dashboard(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dashboard]:
    home = tmp_path_factory.mktemp("secrets-home")
    process, url = start_server(home, "--log-level", "debug", "--access-log")
    rt = open_runtime(Settings(home=home))
    yield Dashboard(url, rt, home)
    stop_server(process)
    rt.close()


def _stored(page: Any) -> None:
    page.get_by_label("I have stored").check()
    page.get_by_role("button", name="Done").click()
    page.wait_for_url(re.compile(r"/keys$"))


def test_no_secret_outlives_its_reveal(browser: Any, dashboard: Dashboard) -> None:
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    page.set_default_timeout(15_000)
    pages: dict[str, str] = {}

    def visit(path: str) -> None:
        page.goto(dashboard.url + path)
        pages[path] = page.content()

    try:
        email = new_email()
        sign_up(page, dashboard.url, email)
        dashboard.verify_kyc(email)
        codes: Codes = enrol_totp(page, dashboard.url)
        secrets = {"password": PASSWORD, "totp seed": codes.totp.secret,
                   **{f"recovery code {i}": c for i, c in enumerate(codes.recovery)}}
        visit("/security")  # after the recovery codes were shown once

        page.goto(dashboard.url + "/keys")
        key = create_key(page, codes, "grep1", trade=True)
        secrets |= {"secret key": key["secretKey"], "passphrase": key["passphrase"]}
        assert key["passphrase"] == PASSPHRASE
        # the control: the grep below finds a secret where one is (the reveal itself)
        assert key["secretKey"] in page.content() and PASSPHRASE in page.content()
        _stored(page)
        assert balance_code(dashboard.url, key) == "0"

        page.locator("tr", has_text="grep1").get_by_role("link", name="Edit").click()
        page.get_by_label("Label").fill("grep2")
        page.get_by_label("Authenticator code").fill("000000")  # a wrong code, provoked
        page.get_by_role("button", name="Save").click()
        pages["edit, refused"] = page.content()
        page.get_by_label("Authenticator code").fill(codes.next())
        page.get_by_role("button", name="Save").click()
        page.wait_for_url(re.compile(r"/keys$"))

        page.locator("tr", has_text="grep2").get_by_role("link", name="Regenerate").click()
        page.get_by_label("Passphrase of the new key").fill(NEW_PASSPHRASE)
        page.get_by_label("Authenticator code").fill(codes.next())
        page.get_by_role("button", name="Regenerate").click()
        page.wait_for_url(re.compile(r"/keys/reveal$"))
        secrets |= {"regenerated secret key":
                    page.get_by_label("Secret key", exact=True).input_value(),
                    "regenerated passphrase": NEW_PASSPHRASE}
        _stored(page)

        for path in ("/keys", f"/keys/{key['apiKey']}/edit", f"/keys/{key['apiKey']}/delete",
                     "/keys/reveal", "/activity", f"/activity?key={key['apiKey']}",
                     "/security", "/subaccounts", "/keys/new"):
            visit(path)
        page.goto(dashboard.url + f"/keys/{key['apiKey']}/delete")
        page.get_by_label("Authenticator code").fill(codes.next())
        page.get_by_role("button", name="Delete key").click()
        page.wait_for_url(re.compile(r"/keys$"))
        pages["after delete"] = page.content()

        page.locator("summary").click()
        page.get_by_role("button", name="Log out").click()
        page.wait_for_url(re.compile(r"/login"))
        page.get_by_label("Email").fill(email)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Log in").click()
        pages["second login step"] = page.content()
    finally:
        context.close()

    found = [(what, where) for what, secret in secrets.items()
             for where, html in pages.items() if secret in html]
    assert not found, found
    log = (dashboard.home / "server.log").read_text(errors="replace")
    assert "GET /api/v5/account/balance" in log  # the access log was on: real lines read
    assert not [what for what, secret in secrets.items() if secret in log]
    files = [p for p in Path(dashboard.home).rglob("*") if p.is_file()
             and p.name != "master.key" and p.name != "server.log"]
    assert any(p.suffix in (".db", ".sqlite", ".sqlite3") or "wal" in p.name for p in files)
    leaks = [(what, p.name) for p in files for what, secret in secrets.items()
             if secret.encode() in p.read_bytes()]
    assert not leaks, leaks
