"""The dashboard in a real browser: Playwright (Python) driving Debian's chromium against a
real ``keyseal serve`` on a free port. Playwright's own browser download cannot reach the
network here, so the browser is the system's (``.ci/run`` installs it when missing)."""

from __future__ import annotations

import os
import re
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pyotp
import pytest

from keyseal.domain.commands import SetKycLevel
from keyseal.services import accounts
from keyseal.services.runtime import Runtime, open_runtime
from keyseal.settings import Settings
from tests.conftest import signed_headers, start_server, stop_server

CHROMIUM = os.environ.get("KEYSEAL_CHROMIUM", "/usr/bin/chromium")
#: DESIGN.md's flags: as root, no sandbox; nothing that reaches for the network
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--disable-dev-shm-usage"]
PASSWORD = "correct horse battery"
PASSPHRASE = "Str0ng!pass"
BALANCE = "/api/v5/account/balance"


def balance_code(url: str, key: dict[str, str]) -> str:
    """The OKX code a signed balance request with this key gets, over real HTTP."""
    response = httpx.get(url + BALANCE, headers=signed_headers(key, "GET", BALANCE), timeout=10)
    return str(response.json()["code"])


def _missing(reason: str) -> None:
    if os.environ.get("KEYSEAL_REQUIRE_SERVICES"):
        pytest.fail(f"{reason}, and KEYSEAL_REQUIRE_SERVICES is set")
    pytest.skip(reason)


def chromium_path() -> str:
    found = CHROMIUM if Path(CHROMIUM).exists() else shutil.which("chromium")
    if not found:
        _missing(f"no chromium at {CHROMIUM} (apt-get install chromium)")
    assert found is not None
    return found


@dataclass
class Dashboard:
    url: str
    rt: Runtime
    home: Path

    def verify_kyc(self, email: str, level: int = 2) -> None:
        """What the operator does: `keyseal account set-kyc EMAIL 2`."""
        accounts.set_kyc_level(self.rt, SetKycLevel(email, level))


@pytest.fixture(scope="module")
def dashboard(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dashboard]:
    home = tmp_path_factory.mktemp("dashboard-home")
    process, url = start_server(home)
    rt = open_runtime(Settings(home=home))
    yield Dashboard(url, rt, home)
    stop_server(process)
    rt.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    executable = chromium_path()
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing("the playwright package is not installed (pip install -e '.[test]')")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS,
                                             headless=True)
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 900},
                                  permissions=["clipboard-read", "clipboard-write"])
    page = context.new_page()
    page.set_default_timeout(15_000)
    page.on("dialog", lambda dialog: dialog.accept())
    yield page
    context.close()


def sign_up(page: Any, url: str, email: str) -> None:
    page.goto(url + "/signup")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_label("Password, again").fill(PASSWORD)
    page.get_by_role("button", name="Create account").click()
    page.wait_for_url(re.compile(r"/keys$"))


class Codes:
    """The test's authenticator app and the recovery codes it saved. The server accepts each
    30-second step once (and the next step early), so after those the test answers with a
    recovery code, as a person in a hurry could; no test waits for the clock."""

    def __init__(self, totp: pyotp.TOTP, recovery: list[str]) -> None:
        self.totp = totp
        self.recovery = recovery
        self.last_step = -1

    def next(self) -> str:
        step = int(time.time() // 30)
        for candidate in (step, step + 1):
            if candidate > self.last_step:
                self.last_step = candidate
                return str(self.totp.at(candidate * 30))
        return self.recovery.pop()


def enrol_totp(page: Any, url: str) -> Codes:
    """Security → set up the authenticator app, as a person does with a phone."""
    page.goto(url + "/security")
    page.get_by_role("button", name="Set up authenticator app").click()
    secret = page.locator("#setup-key").inner_text().strip()
    assert page.locator("img.qr").is_visible()
    codes = Codes(pyotp.TOTP(secret), [])
    page.get_by_label("Code from the app").fill(codes.next())
    page.get_by_role("button", name="Turn on").click()
    page.get_by_text("Two-factor authentication is on").wait_for()
    codes.recovery = [c.strip() for c in page.locator(".recovery-codes code").all_inner_texts()]
    assert len(codes.recovery) == 10
    return codes
