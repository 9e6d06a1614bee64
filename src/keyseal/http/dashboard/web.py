"""What every dashboard page shares: templates, the session cookie, CSRF, security headers
and the way a refusal becomes a page."""

from __future__ import annotations

import base64
import math
import secrets
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from keyseal import errors
from keyseal.domain.actors import Actor
from keyseal.services import web_sessions
from keyseal.services.runtime import Runtime
from keyseal.services.web_sessions import WebSession

HERE = Path(__file__).parent
SESSION_COOKIE = "ks_session"
#: the CSRF token of forms shown before login (double-submit: cookie and form must agree)
ANONYMOUS_CSRF_COOKIE = "ks_csrf"
#: the most a dashboard form may send (a WebAuthn answer is the largest, a few KB)
FORM_LIMIT = 64 * 1024
DAY_MS = 86_400_000

#: every response of the dashboard; no inline script or style anywhere, so the policy can
#: forbid both
SECURITY_HEADERS = [
    (b"content-security-policy",
     b"default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
     b"connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
     b"frame-ancestors 'none'"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-content-type-options", b"nosniff"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
]


class SecurityHeaders:
    """Adds the headers above to every response, and ``Cache-Control: no-store`` to every
    page (pages show account data, some show secrets); static files may be cached."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        static = scope["path"].startswith("/static/")

        async def send_with_headers(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                headers = [h for h in message.get("headers", [])
                           if h[0].lower() != b"cache-control" or static]
                headers.extend(SECURITY_HEADERS)
                if not static:
                    headers.append((b"cache-control", b"no-store"))
                    headers.append((b"pragma", b"no-cache"))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


def when(ms: int | None) -> str:
    if ms is None:
        return "never"
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M UTC")


def days_left(rt: Runtime, ms: int | None) -> int | None:
    if ms is None:
        return None
    return max(0, math.ceil((ms - rt.now_ms()) / DAY_MS))


templates = Environment(loader=FileSystemLoader(HERE / "templates"),
                        autoescape=select_autoescape(default=True), trim_blocks=True,
                        lstrip_blocks=True)
templates.filters["when"] = when


def when_html(ms: int | None) -> Markup:
    """``when``, its date and its time each kept on one line (a narrow column breaks
    between them, never inside)."""
    if ms is None:
        return Markup("never")
    day, clock = when(ms).split(" ", 1)
    return Markup('<span><span class="nowrap">{}</span> <span class="nowrap">{}</span></span>').format(
        day, clock)


templates.filters["when_html"] = when_html
templates.filters["b64"] = lambda value: base64.b64encode(str(value).encode()).decode()


class Dashboard:
    """The state the routes share: the runtime, how to find the client's address, and
    whether cookies must be Secure."""

    def __init__(self, rt: Runtime, client_ip: Callable[[Any], str],
                 is_https: Callable[[Any], bool]) -> None:
        self.rt = rt
        self._client_ip = client_ip
        self._is_https = is_https

    def ip(self, request: Request) -> str:
        return self._client_ip(request.scope)

    def secure(self, request: Request) -> bool:
        return self._is_https(request.scope)

    async def call(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """A service call, off the event loop (services do database and argon2 work)."""
        return await run_in_threadpool(fn, *args, **kwargs)

    async def session(self, request: Request) -> WebSession | None:
        token = request.cookies.get(SESSION_COOKIE)
        if not token:
            return None
        found: WebSession | None = await self.call(web_sessions.current, self.rt, token)
        return found

    def actor(self, request: Request, session: WebSession) -> Actor:
        return web_sessions.user_actor(session, self.ip(request))

    # -- cookies ---------------------------------------------------------------------------
    def set_session_cookie(self, request: Request, response: Response, session: WebSession
                           ) -> None:
        response.set_cookie(SESSION_COOKIE, session.token, httponly=True, samesite="strict",
                            secure=self.secure(request), path="/",
                            max_age=self.rt.settings.web_session_max_s)

    def clear_session_cookie(self, request: Request, response: Response) -> None:
        response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict",
                               secure=self.secure(request))

    # -- CSRF ------------------------------------------------------------------------------
    def anonymous_csrf(self, request: Request) -> tuple[str, bool]:
        """The token for forms shown before login, and whether its cookie must be set."""
        token = request.cookies.get(ANONYMOUS_CSRF_COOKIE)
        if token and 20 <= len(token) <= 100:
            return token, False
        return secrets.token_urlsafe(32), True

    async def form(self, request: Request, session: WebSession | None) -> FormData:
        """The posted form, provided its CSRF token is the session's (or, before login, the
        cookie's); otherwise 70060 and nothing is done. A form states its length, and no
        form of these pages needs more than ``FORM_LIMIT`` bytes: anything else is refused
        before it is read (413)."""
        declared = request.headers.get("content-length", "")
        if not declared.isdigit() or int(declared) > FORM_LIMIT:
            raise errors.BODY_TOO_LARGE(FORM_LIMIT, detail=f"form of {declared or '?'} bytes")
        form = await request.form()
        given = form.get("csrf")
        given = given if isinstance(given, str) else None
        if session is not None:
            expected: str | None = session.csrf
        else:
            expected = request.cookies.get(ANONYMOUS_CSRF_COOKIE)
        if not expected or not web_sessions.matches(expected, given):
            raise errors.CSRF_REFUSED(detail=f"POST {request.url.path} without a valid token")
        return form

    # -- pages -----------------------------------------------------------------------------
    def page(self, request: Request, template: str, session: WebSession | None, *,
             status: int = 200, **context: Any) -> HTMLResponse:
        set_cookie = False
        if session is not None:
            csrf = session.csrf
        else:
            csrf, set_cookie = self.anonymous_csrf(request)
        body = templates.get_template(template).render(
            request=request, session=session if session and session.stage == "full" else None,
            csrf=csrf, path=request.url.path, **context)
        response = HTMLResponse(body, status_code=status)
        if set_cookie:
            response.set_cookie(ANONYMOUS_CSRF_COOKIE, csrf, httponly=True, samesite="strict",
                                secure=self.secure(request), path="/")
        return response

    def refusal_page(self, request: Request, session: WebSession | None,
                     refusal: errors.OkxError) -> HTMLResponse:
        status = refusal.http_status if refusal.http_status >= 400 else 400
        return self.page(request, "message.html", session, status=status,
                         title="That did not work", message=refusal.message, code=refusal.code)


def redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def text(form: FormData, name: str, default: str = "") -> str:
    value = form.get(name)
    return value if isinstance(value, str) else default
