"""How a route gets its session: logged in, half-way through a login, or anyone; and how a
refusal it did not handle becomes a page (never a trace)."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from functools import wraps

from starlette.requests import Request
from starlette.responses import Response

from keyseal import errors
from keyseal.http.dashboard.web import SESSION_COOKIE, Dashboard, redirect
from keyseal.services.web_sessions import FULL, SECOND_FACTOR, WebSession

log = logging.getLogger("keyseal.dashboard")

Handler = Callable[[Dashboard, Request, WebSession], Awaitable[Response]]
AnonymousHandler = Callable[[Dashboard, Request, "WebSession | None"], Awaitable[Response]]


def _dashboard(request: Request) -> Dashboard:
    found: Dashboard = request.app.state.dashboard
    return found


async def _guarded(dash: Dashboard, request: Request, session: WebSession | None,
                   call: Callable[[], Awaitable[Response]]) -> Response:
    try:
        return await call()
    except errors.OkxError as refusal:
        log.info("dashboard refused %s %s: %s %s", request.method, request.url.path,
                 refusal.code, refusal.detail)
        return dash.refusal_page(request, session, refusal)
    except Exception:
        log.exception("dashboard error on %s %s", request.method, request.url.path)
        return dash.refusal_page(request, session, errors.SYSTEM_ERROR())


def _login_url(request: Request) -> str:
    """The login page; it says why when the browser still held a session that has ended."""
    return "/login?ended=1" if request.cookies.get(SESSION_COOKIE) else "/login"


def _at_stage(stage: str, elsewhere: str) -> Callable[[Handler], Callable[[Request], Awaitable[Response]]]:
    """A guard for routes that need a session at ``stage``; a session at the other stage goes
    to ``elsewhere``, no session to the login page."""
    def guard(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        @wraps(handler)
        async def route(request: Request) -> Response:
            dash = _dashboard(request)
            session = await dash.session(request)
            if session is None:
                return redirect(_login_url(request))
            if session.stage != stage:
                return redirect(elsewhere)
            return await _guarded(dash, request, session, lambda: handler(dash, request, session))
        return route
    return guard


#: only with a full session; anyone else goes to the login page
logged_in = _at_stage(FULL, "/login/2fa")
#: only with a session whose password step is done and whose second factor is due
half_logged_in = _at_stage(SECOND_FACTOR, "/keys")


def anyone(handler: AnonymousHandler) -> Callable[[Request], Awaitable[Response]]:
    @wraps(handler)
    async def route(request: Request) -> Response:
        dash = _dashboard(request)
        session = await dash.session(request)
        return await _guarded(dash, request, session, lambda: handler(dash, request, session))
    return route
