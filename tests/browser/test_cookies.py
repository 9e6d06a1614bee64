"""The session cookie's attributes, in process (no browser needed): Secure over HTTPS, or
when a trusted proxy says the browser used HTTPS, and never because anyone else says so."""

from __future__ import annotations

import re

import httpx
import pytest

from keyseal.http.app import create_app
from keyseal.services.runtime import Runtime
from tests.conftest import new_email

PASSWORD = "correct horse battery"


async def session_cookie(rt: Runtime, base_url: str, peer: str,
                         headers: dict[str, str] | None = None) -> str:
    transport = httpx.ASGITransport(app=create_app(rt), client=(peer, 50000))
    async with httpx.AsyncClient(transport=transport, base_url=base_url, headers=headers or {},
                                 cookies=None) as client:
        page = await client.get("/signup")
        csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
        assert csrf is not None
        email = new_email()
        response = await client.post("/signup", data={
            "csrf": csrf.group(1), "email": email, "password": PASSWORD,
            "password_again": PASSWORD},
            # as the browser does (behind a TLS proxy it sees HTTPS, so Secure cookies go too)
            headers={"cookie": f"ks_csrf={page.cookies['ks_csrf']}"})
        assert response.status_code == 303 and response.headers["location"] == "/keys"
        return str(response.headers["set-cookie"])


@pytest.mark.parametrize(("base_url", "peer", "headers", "secure"), [
    ("http://keyseal.test", "127.0.0.1", None, False),
    ("https://keyseal.test", "127.0.0.1", None, True),
    # a proxy Keyseal trusts (tests set none but this one) speaks for the browser ...
    ("http://keyseal.test", "10.9.9.9", {"x-forwarded-proto": "https"}, True),
    # ... anyone else saying so is not believed
    ("http://keyseal.test", "127.0.0.1", {"x-forwarded-proto": "https"}, False),
])
async def test_the_session_cookie(sqlite_rt: Runtime, base_url: str, peer: str,
                                  headers: dict[str, str] | None, secure: bool) -> None:
    sqlite_rt.settings.trusted_proxies = ("10.9.9.9",)
    cookie = await session_cookie(sqlite_rt, base_url, peer, headers)
    attributes = [part.strip().lower() for part in cookie.split(";")]
    assert attributes[0].startswith("ks_session=")
    assert "httponly" in attributes and "samesite=strict" in attributes and "path=/" in attributes
    assert ("secure" in attributes) is secure


async def test_a_post_from_another_site_without_the_token_is_refused(sqlite_rt: Runtime) -> None:
    transport = httpx.ASGITransport(app=create_app(sqlite_rt), client=("127.0.0.1", 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://keyseal.test") as client:
        response = await client.post("/signup", data={
            "email": new_email(), "password": PASSWORD, "password_again": PASSWORD})
    assert response.status_code == 403 and "70060" in response.text
    assert "set-cookie" not in response.headers or "ks_session" not in response.headers["set-cookie"]


async def test_a_form_larger_than_any_page_sends_is_refused_before_it_is_read(
        sqlite_rt: Runtime) -> None:
    transport = httpx.ASGITransport(app=create_app(sqlite_rt), client=("127.0.0.1", 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://keyseal.test") as client:
        page = await client.get("/login")
        csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
        assert csrf is not None
        response = await client.post("/login", data={
            "csrf": csrf.group(1), "email": "a@example.com", "password": "x" * 200_000})
    assert response.status_code == 413 and "50002" in response.text
