"""The one-time reveal after a key is created is shown by whichever process serves the page
the redirect leads to: with ``--workers N`` or several hosts behind a balancer, the POST and
the GET after it often reach different processes. Two real ``keyseal serve`` processes on
one home stand for two workers here."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pyotp
import pytest

from keyseal.domain.commands import ConfirmTwoFactor, EnrollTwoFactor, SetKycLevel
from keyseal.services import accounts
from keyseal.services.runtime import open_runtime
from keyseal.settings import Settings
from tests.conftest import new_email, start_server, stop_server

pytestmark = pytest.mark.compat
PASSWORD = "correct horse battery"
PASSPHRASE = "Bot-pass-123!"


def _csrf(page: httpx.Response) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert found is not None, page.text[:300]
    return found.group(1)


@pytest.fixture
def two_servers(tmp_path: Path) -> Iterator[tuple[str, str]]:
    first, first_url = start_server(tmp_path)
    second, second_url = start_server(tmp_path)
    yield first_url, second_url
    stop_server(first)
    stop_server(second)


def test_the_reveal_is_shown_once_by_any_process(two_servers: tuple[str, str],
                                                  tmp_path: Path) -> None:
    first_url, second_url = two_servers
    email = new_email()
    with httpx.Client(base_url=first_url, timeout=20) as on_first, \
            httpx.Client(base_url=second_url, timeout=20) as on_second:
        page = on_first.get("/signup")
        signed_up = on_first.post("/signup", data={
            "csrf": _csrf(page), "email": email, "password": PASSWORD,
            "password_again": PASSWORD})
        assert signed_up.status_code == 303
        rt = open_runtime(Settings(home=tmp_path))
        try:
            accounts.set_kyc_level(rt, SetKycLevel(email, 2))
            totp = pyotp.TOTP(accounts.enroll_2fa(rt, EnrollTwoFactor(email)).secret)
            # the previous step's code enrols; the current one is then still unused
            accounts.confirm_2fa(rt, ConfirmTwoFactor(email, totp.at(time.time() - 30)))
        finally:
            rt.close()

        form = on_first.get("/keys/new")
        created = on_first.post("/keys/new", data={
            "csrf": _csrf(form), "label": "anyworker1", "passphrase": PASSPHRASE, "ip": "",
            "env": "live", "code": totp.now()})
        assert created.status_code == 303, created.text[:500]
        assert created.headers["location"] == "/keys/reveal"

        on_second.cookies = on_first.cookies  # the same browser, served by the other process
        shown = on_second.get("/keys/reveal")
        assert shown.status_code == 200, shown.text[:500]
        assert PASSPHRASE in shown.text and "anyworker1" in shown.text
        assert shown.headers["cache-control"] == "no-store"

        again = on_first.get("/keys/reveal")  # once, whichever process serves the reload
        assert again.status_code == 410 and PASSPHRASE not in again.text
