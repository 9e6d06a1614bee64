"""A hardware security key, played by Chromium's virtual authenticator (CDP WebAuthn):
register it on the Security page, then answer the login's second step with it."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.browser.conftest import PASSPHRASE, PASSWORD, Dashboard, balance_code, sign_up
from tests.conftest import new_email

pytestmark = pytest.mark.compat


def test_register_a_security_key_and_log_in_with_it(browser: Any, dashboard: Dashboard) -> None:
    # WebAuthn wants a host name, not an IP address: localhost is a secure context over HTTP
    url = dashboard.url.replace("127.0.0.1", "localhost")
    context = browser.new_context()
    page = context.new_page()
    page.set_default_timeout(15_000)
    cdp = context.new_cdp_session(page)
    cdp.send("WebAuthn.enable")
    authenticator = cdp.send("WebAuthn.addVirtualAuthenticator", {"options": {
        "protocol": "ctap2", "transport": "usb", "hasResidentKey": False,
        "hasUserVerification": False, "automaticPresenceSimulation": True}})
    try:
        email = new_email()
        sign_up(page, url, email)
        page.goto(url + "/security")
        page.get_by_label("Name of the key").fill("YubiKey 5")
        page.get_by_role("button", name="Add a security key").click()
        page.get_by_text("1 registered").wait_for()
        stored = cdp.send("WebAuthn.getCredentials",
                          {"authenticatorId": authenticator["authenticatorId"]})
        assert len(stored["credentials"]) == 1

        page.locator("summary").click()
        page.get_by_role("button", name="Log out").click()
        page.wait_for_url(re.compile(r"/login$"))
        page.get_by_label("Email").fill(email)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Log in").click()
        page.wait_for_url(re.compile(r"/login/2fa$"))
        assert page.goto(url + "/keys").url.endswith("/login/2fa")  # not in without the key
        page.get_by_role("button", name="Use my security key").click()
        page.wait_for_url(re.compile(r"/keys$"))
        page.get_by_role("heading", name="API keys", exact=True).wait_for()

        # the key also answers for key changes, in place of an authenticator code
        dashboard.verify_kyc(email)
        page.goto(url + "/keys/new")
        page.get_by_label("Label").fill("hwbot1")
        page.get_by_label("Passphrase", exact=True).fill(PASSPHRASE)
        page.get_by_role("button", name="Use my security key instead").click()
        page.wait_for_url(re.compile(r"/keys/reveal$"))
        key = {"apiKey": page.get_by_label("API key", exact=True).input_value(),
               "secretKey": page.get_by_label("Secret key", exact=True).input_value(),
               "passphrase": PASSPHRASE}
        assert balance_code(dashboard.url, key) == "0"
        page.goto(url + "/keys")  # Delete opens its dialog; the key answers inside it
        page.locator("tr", has_text="hwbot1").get_by_role("link", name="Delete").click()
        page.locator("dialog[open]").get_by_role("button",
                                                 name="Use my security key instead").click()
        page.locator("tr", has_text="hwbot1").wait_for(state="detached")  # the table, reloaded
        assert balance_code(dashboard.url, key) == "50111"
        page.goto(url + "/activity")
        trail = page.locator("main").inner_text()
        assert "security key added" in trail and "security key used" in trail
        assert "key deleted" in trail
    finally:
        context.close()
