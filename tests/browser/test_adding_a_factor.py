"""Adding a second factor to an account that has one needs that one: a stolen dashboard
session can neither register a security key of its own (and approve key changes with it)
nor enrol an authenticator app beside the account's security keys. In process: the checks
come before any WebAuthn ceremony, so no authenticator is needed to see them."""

from __future__ import annotations

import re

import httpx
import pyotp
import pytest

from keyseal import errors
from keyseal.domain.commands import ConfirmTwoFactor, CreateAccount, EnrollTwoFactor
from keyseal.http.app import create_app
from keyseal.services import accounts
from keyseal.services.runtime import Runtime
from keyseal.store import security_keys as security_key_rows
from tests.conftest import ManualClock, new_email

PASSWORD = "correct horse battery"


def _csrf(page: httpx.Response) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', page.text) or re.search(
        r'data-csrf="([^"]+)"', page.text)
    assert found is not None, page.text[:300]
    return found.group(1)


async def _signed_up(client: httpx.AsyncClient) -> str:
    email = new_email()
    page = await client.get("/signup")
    answer = await client.post("/signup", data={"csrf": _csrf(page), "email": email,
                                                "password": PASSWORD, "password_again": PASSWORD})
    assert answer.status_code == 303
    return email


async def test_a_security_key_cannot_be_added_without_the_authenticator_code(
        sqlite_rt: Runtime, clock: ManualClock) -> None:
    transport = httpx.ASGITransport(app=create_app(sqlite_rt), client=("127.0.0.1", 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as client:
        email = await _signed_up(client)
        totp = pyotp.TOTP(accounts.enroll_2fa(sqlite_rt, EnrollTwoFactor(email)).secret)
        accounts.confirm_2fa(sqlite_rt, ConfirmTwoFactor(email, totp.at(clock())))
        page = await client.get("/security")
        assert 'name="code"' in page.text  # the page asks for it beside "Add a security key"
        csrf = _csrf(page)
        options = await client.post("/security/webauthn/options", data={"csrf": csrf})
        assert options.status_code == 200
        # what a stolen session sends: its own authenticator's answer, and no code
        answer = await client.post("/security/webauthn", data={
            "csrf": csrf, "credential": "{}", "label": "mine"})
        assert answer.status_code == 400 and answer.json()["code"] == "70003"
        answer = await client.post("/security/webauthn", data={
            "csrf": csrf, "credential": "{}", "label": "mine", "code": "000000"})
        assert answer.json()["code"] == "70004"


def test_an_authenticator_app_cannot_be_enrolled_beside_a_security_key_without_it(
        rt: Runtime) -> None:
    email = new_email()
    account = accounts.create_account(rt, CreateAccount(email, PASSWORD))
    with rt.db.write() as conn:
        security_key_rows.insert_key(conn, account_id=account.id, credential_id="cred-1",
                                     public_key=b"\x00", sign_count=0, label="YubiKey",
                                     created_ms=rt.now_ms())
    with pytest.raises(errors.OkxError) as refused:  # no seed without the key's answer
        accounts.enroll_2fa(rt, EnrollTwoFactor(email))
    assert refused.value.code == "70003"
