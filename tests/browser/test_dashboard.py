"""The seeds' web flow in Chromium: sign up, the authenticator app, create a key, the
one-time reveal, a signed call with it, disable, delete; field errors; CSRF; sub-accounts."""

from __future__ import annotations

import re
import time
from typing import Any

import httpx
import pytest

from tests.browser.conftest import (
    PASSPHRASE,
    PASSWORD,
    Codes,
    Dashboard,
    balance_code,
    enrol_totp,
    sign_up,
)
from tests.conftest import new_email

pytestmark = pytest.mark.compat

def ready_account(page: Any, dashboard: Dashboard) -> tuple[str, Codes]:
    email = new_email()
    sign_up(page, dashboard.url, email)
    dashboard.verify_kyc(email)
    return email, enrol_totp(page, dashboard.url)


def open_api_keys(page: Any) -> None:
    """Profile menu → Developer Tools → API keys."""
    page.locator("summary").click()
    page.get_by_role("link", name="API keys").click()
    page.wait_for_url(re.compile(r"/keys$"))


def create_key(page: Any, codes: Codes, label: str, *, trade: bool = False,
               ip: str = "") -> dict[str, str]:
    page.get_by_role("link", name="Create API key").click()
    page.get_by_label("Label").fill(label)
    page.get_by_label("Passphrase", exact=True).fill(PASSPHRASE)
    if ip:
        page.get_by_label("IP allow-list").fill(ip)
    if trade:
        page.get_by_label(re.compile("^Trade")).check()
    page.get_by_label("Authenticator code").fill(codes.next())
    with page.expect_response(re.compile(r"/keys/reveal$")) as shown:
        page.get_by_role("button", name="Create key").click()
    assert shown.value.headers["cache-control"] == "no-store"  # the secret is never cached
    page.wait_for_url(re.compile(r"/keys/reveal$"))
    return {"apiKey": page.get_by_label("API key", exact=True).input_value(),
            "secretKey": page.get_by_label("Secret key", exact=True).input_value(),
            "passphrase": page.get_by_label("Passphrase", exact=True).input_value()}


def test_create_reveal_call_disable_delete(page: Any, dashboard: Dashboard) -> None:
    _, codes = ready_account(page, dashboard)
    open_api_keys(page)
    page.get_by_text("No API keys yet").wait_for()

    key = create_key(page, codes, "bot1", trade=True)
    assert key["passphrase"] == PASSPHRASE and len(key["secretKey"]) >= 32
    for field in ("API key", "Secret key", "Passphrase"):
        assert page.get_by_label(field, exact=True).get_attribute("autocomplete") == "off"
    assert page.get_by_text("shown this once").is_visible()
    assert f'"{dashboard.url}" + path' in page.locator("pre").first.inner_text()
    assert "keyseal vault check bot1" in page.content()
    page.get_by_role("button", name="Copy").first.click()  # JS: copy buttons, said aloud
    page.locator(".copied", has_text="API key copied.").wait_for()
    assert page.evaluate("navigator.clipboard.readText()") == key["apiKey"]

    assert balance_code(dashboard.url, key) == "0"

    page.reload()  # the reveal is gone for good
    assert key["secretKey"] not in page.content()
    assert page.get_by_text("shown once and cannot be shown again").is_visible()
    page.go_back()
    assert key["secretKey"] not in page.content()

    page.goto(dashboard.url + "/keys")
    row = page.locator("tr", has_text="bot1")
    assert key["apiKey"] in row.inner_text() and "Read, Trade" in row.inner_text()
    assert "No IP allow-list" in page.content() and "Expires in" in row.inner_text()

    row.get_by_role("link", name="Disable").click()
    page.get_by_label("Authenticator code").fill(codes.next())
    page.get_by_role("button", name="Disable").click()  # in the dialog over the table
    page.locator("tr", has_text="bot1").locator(".status.disabled").wait_for()
    assert "Disabled" in page.locator("tr", has_text="bot1").inner_text()
    assert balance_code(dashboard.url, key) == "50100"

    # the delete dialog says when and from where the key was last used (usage is written
    # in batches, about once a second)
    deadline = time.monotonic() + 10
    while True:
        page.goto(dashboard.url + f"/keys/{key['apiKey']}/delete")
        if "from 127.0.0.1" in page.content() or time.monotonic() > deadline:
            break
        time.sleep(0.3)
    page.goto(dashboard.url + "/keys")  # with JavaScript, Delete opens a dialog over the table
    page.locator("tr", has_text="bot1").get_by_role("link", name="Delete").click()
    dialog = page.locator("dialog[open]")
    dialog.get_by_text(re.compile("It was last used .* from 127.0.0.1")).wait_for()
    assert page.url.endswith("/keys")
    dialog.get_by_label("Authenticator code").fill(codes.next())
    dialog.get_by_role("button", name="Delete key").click()
    page.locator("tr", has_text="bot1").wait_for(state="detached")  # the table, reloaded
    assert "bot1" not in page.locator("main").inner_text()
    assert balance_code(dashboard.url, key) == "50111"


def test_field_errors_are_beside_their_fields(page: Any, dashboard: Dashboard) -> None:
    ready_account(page, dashboard)
    page.goto(dashboard.url + "/keys/new")
    page.get_by_label("Label").fill("okLabel1")
    page.get_by_label("Passphrase", exact=True).fill("weak")
    met = page.locator("#passphrase-rules li.met").evaluate_all("els => els.map(e => e.dataset.rule)")
    assert met == ["lower"]  # the rules tick as the user types
    page.get_by_label("IP allow-list").fill(", ".join(f"10.0.0.{i}" for i in range(1, 22)))
    assert page.locator("#ip-count").inner_text() == "21 of 20"  # counted as typed
    page.get_by_label("Authenticator code").fill("000000")
    page.get_by_role("button", name="Create key").click()
    assert page.locator("#label-feedback").inner_text() == "Your input is correct"
    assert page.locator("#passphrase-feedback").inner_text() == "The passphrase format is incorrect."
    assert page.locator("#ip-feedback").inner_text() == "Each API key can bind up to 20 IP addresses"
    assert page.get_by_label("Passphrase", exact=True).get_attribute("aria-invalid") == "true"
    # the fields pass; the use case's own refusal (a wrong code) goes beside its field
    page.get_by_label("Passphrase", exact=True).fill(PASSPHRASE)
    page.get_by_label("IP allow-list").fill("10.0.0.1")
    page.get_by_label("Authenticator code").fill("000000")
    page.get_by_role("button", name="Create key").click()
    assert page.locator("#code-feedback").inner_text() == \
        "The two-factor authentication code is invalid or was already used"
    assert page.locator("#passphrase-feedback").inner_text() == "Your input is correct"
    page.goto(dashboard.url + "/keys")
    page.get_by_text("No API keys yet").wait_for()  # nothing was created


def test_a_form_without_its_csrf_token_is_refused(page: Any, dashboard: Dashboard) -> None:
    ready_account(page, dashboard)
    # the browser's own cookies go along (a same-site request), but not the form's token
    response = page.request.post(dashboard.url + "/keys/new", form={
        "label": "forged1", "passphrase": PASSPHRASE, "code": "123456"})
    assert response.status == 403 and "70060" in response.text()
    response = page.request.post(dashboard.url + "/logout", form={"csrf": "wrong" * 8})
    assert response.status == 403
    page.goto(dashboard.url + "/keys")
    assert "forged1" not in page.content() and page.url.endswith("/keys")  # still logged in


def test_login_logout_and_the_second_factor(page: Any, dashboard: Dashboard) -> None:
    email, codes = ready_account(page, dashboard)
    page.locator("summary").click()
    page.get_by_role("button", name="Log out").click()
    page.wait_for_url(re.compile(r"/login$"))
    assert page.goto(dashboard.url + "/keys").url.endswith("/login")

    said = []
    for who, password in ((new_email(), PASSWORD), (email, "wrong password!")):
        page.get_by_label("Email").fill(who)
        page.get_by_label("Password").fill(password)
        page.get_by_role("button", name="Log in").click()
        said.append(page.get_by_role("alert").inner_text())
    assert said == ["User not found or password invalid"] * 2

    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(re.compile(r"/login/2fa$"))
    half = {c["name"]: c for c in page.context.cookies()}["ks_session"]
    assert half["httpOnly"] and half["sameSite"] == "Strict"
    assert page.goto(dashboard.url + "/keys").url.endswith("/login/2fa")  # not in yet
    page.get_by_label("Authenticator code").fill(codes.next())
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(re.compile(r"/keys$"))
    full = {c["name"]: c for c in page.context.cookies()}["ks_session"]
    assert full["value"] != half["value"]  # a new id once logged in


def test_security_headers(dashboard: Dashboard) -> None:
    response = httpx.get(dashboard.url + "/login")
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
    assert "script-src 'self'" in response.headers["content-security-policy"]
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["referrer-policy"] == "no-referrer"
    assert response.headers["cache-control"] == "no-store"
    missing = httpx.get(dashboard.url + "/nowhere")
    assert missing.status_code == 404 and "There is no such page" in missing.text
    assert missing.headers["x-frame-options"] == "DENY"
    assert missing.headers["x-keyseal-server-time"].isdigit()


def test_a_sub_account_and_its_key(page: Any, dashboard: Dashboard) -> None:
    _, codes = ready_account(page, dashboard)
    page.locator("summary").click()
    page.get_by_role("link", name="Sub-accounts").click()
    page.get_by_label("Name").fill("gridbot01")
    page.get_by_role("button", name="Create sub-account").click()
    row = page.locator("tr", has_text="gridbot01")
    row.get_by_role("link", name="Manage keys").click()
    page.get_by_role("heading", name="API keys of gridbot01").wait_for()
    assert page.get_by_label(re.compile("^Withdraw")).count() == 0  # sub-accounts cannot withdraw
    key = create_key(page, codes, "subbot1", trade=True, ip="127.0.0.1")
    assert balance_code(dashboard.url, key) == "0"
    page.goto(dashboard.url + "/keys?sub=gridbot01")
    assert "subbot1" in page.locator("tr", has_text="subbot1").inner_text()
    page.goto(dashboard.url + "/keys")
    assert "subbot1" not in page.locator("main").inner_text()  # the master's own keys only


def test_activity_lists_the_trail_newest_first(page: Any, dashboard: Dashboard) -> None:
    _, codes = ready_account(page, dashboard)
    page.goto(dashboard.url + "/keys")
    key = create_key(page, codes, "watched1")
    page.goto(dashboard.url + "/activity")
    events = page.locator("table.events tbody tr td:nth-child(2)").all_inner_texts()
    assert events[0] == "key created" and "2fa enabled" in events
    page.get_by_label("Show").select_option(key["apiKey"])
    page.get_by_role("button", name="Filter").click()
    page.locator("#usage-chart").wait_for()  # the filtered page, with its chart
    assert page.locator("table.events tbody tr td:nth-child(2)").all_inner_texts() == ["key created"]

    # calls just made show in the key's chart: let through, and refused by code
    for _ in range(3):
        assert balance_code(dashboard.url, key) == "0"
    forged = {**key, "secretKey": "not-" + key["secretKey"]}
    assert balance_code(dashboard.url, forged) == "50113"
    wanted = "4 requests in the 30 days"
    deadline = time.monotonic() + 15  # the server writes its counts about once a second
    while wanted not in page.locator("#usage-chart figcaption").inner_text():
        assert time.monotonic() < deadline, page.locator("#usage-chart").inner_text()
        time.sleep(0.3)
        page.reload()
    caption = page.locator("#usage-chart figcaption").inner_text()
    assert "3 let through, 1 refused (1 with code 50113" in caption
    chart = page.locator("#usage-chart svg[role=img]")
    assert chart.is_visible() and "watched1" in chart.locator("#usage-chart-svg-title").text_content()


def test_edit_enable_and_regenerate_work_without_javascript(browser: Any,
                                                           dashboard: Dashboard) -> None:
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    page.set_default_timeout(15_000)
    try:
        _, codes = ready_account(page, dashboard)
        page.goto(dashboard.url + "/keys")
        key = create_key(page, codes, "plain1", ip="127.0.0.1")
        assert page.locator("button[data-copy]").first.is_hidden()  # no JS: no copy buttons
        page.get_by_label("I have stored").check()
        page.get_by_role("button", name="Done").click()
        page.wait_for_url(re.compile(r"/keys$"))

        row = page.locator("tr", has_text="plain1")
        row.get_by_role("link", name="Edit").click()
        page.get_by_label("Label").fill("plain2")
        page.get_by_label("IP allow-list").fill("127.0.0.1 10.1.2.3")
        page.get_by_label("Authenticator code").fill(codes.next())
        page.get_by_role("button", name="Save").click()
        page.wait_for_url(re.compile(r"/keys$"))
        row = page.locator("tr", has_text="plain2")
        assert "10.1.2.3" in row.inner_text()

        for action in ("Disable", "Enable"):
            page.locator("tr", has_text="plain2").get_by_role("link", name=action).click()
            page.get_by_label("Authenticator code").fill(codes.next())
            page.get_by_role("button", name=action).click()
            page.wait_for_url(re.compile(r"/keys$"))
        assert "Enabled" in page.locator("tr", has_text="plain2").inner_text()
        assert balance_code(dashboard.url, key) == "0"

        page.locator("tr", has_text="plain2").get_by_role("link", name="Regenerate").click()
        page.get_by_label("Passphrase of the new key").fill("An0ther!pass")
        page.get_by_label("Authenticator code").fill(codes.next())
        page.get_by_role("button", name="Regenerate").click()
        page.wait_for_url(re.compile(r"/keys/reveal$"))
        new = {"apiKey": page.get_by_label("API key", exact=True).input_value(),
               "secretKey": page.get_by_label("Secret key", exact=True).input_value(),
               "passphrase": "An0ther!pass"}
        assert new["apiKey"] != key["apiKey"]
        assert balance_code(dashboard.url, new) == "0"
        assert balance_code(dashboard.url, key) == "50100"  # the old one was disabled with it
        page.goto(dashboard.url + "/keys")
        assert "plain2v2" in page.locator("main").inner_text()
    finally:
        context.close()


def test_banners_say_what_keeps_an_account_from_creating_keys(page: Any,
                                                              dashboard: Dashboard) -> None:
    from keyseal.domain.commands import SetRestricted
    from keyseal.services import accounts

    email = new_email()
    sign_up(page, dashboard.url, email)
    banners = page.locator(".alert.warn").all_inner_texts()
    assert any("Identity verification level 2 is needed" in b and "level 0" in b for b in banners)
    assert any("second factor" in b for b in banners)
    assert page.get_by_role("link", name="Create API key").count() == 0
    dashboard.verify_kyc(email)
    enrol_totp(page, dashboard.url)
    page.goto(dashboard.url + "/keys")
    assert page.locator(".alert.warn").count() == 0
    assert page.get_by_role("link", name="Create API key").count() == 1
    accounts.set_restricted(dashboard.rt, SetRestricted(email, True))
    page.reload()
    assert "security restriction" in page.locator(".alert.warn").inner_text()
    assert page.get_by_role("link", name="Create API key").count() == 0


def test_the_menu_works_by_keyboard_and_an_ended_session_says_so(page: Any,
                                                                 dashboard: Dashboard) -> None:
    sign_up(page, dashboard.url, new_email())
    page.locator("summary").focus()
    page.keyboard.press("Enter")  # the profile menu opens
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "API keys"
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/subaccounts$"))

    page.context.clear_cookies()
    page.context.add_cookies([{"name": "ks_session", "value": "a-session-that-ended",
                               "url": dashboard.url}])
    page.goto(dashboard.url + "/keys")
    assert page.url.endswith("/login?ended=1")
    assert page.get_by_role("status").inner_text() == "Your session has ended; please log in again"


def test_the_authenticator_app_can_be_turned_off(page: Any,
                                                           dashboard: Dashboard) -> None:
    _, codes = ready_account(page, dashboard)
    page.goto(dashboard.url + "/security")
    page.get_by_text("Turn off", exact=True).click()
    page.get_by_label("Current code or a recovery code").fill("000000")
    page.get_by_role("button", name="Turn off the authenticator app").click()
    assert "invalid" in page.get_by_role("alert").inner_text()
    page.get_by_text("Turn off", exact=True).click()
    page.get_by_label("Current code or a recovery code").fill(codes.recovery.pop())
    page.get_by_role("button", name="Turn off the authenticator app").click()
    page.wait_for_url(re.compile(r"/security$"))
    page.get_by_role("button", name="Set up authenticator app").wait_for()
