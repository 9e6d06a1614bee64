"""Sign up, log in (password, then the second factor), log out."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from keyseal import errors
from keyseal.http.dashboard.guards import anyone, half_logged_in
from keyseal.http.dashboard.web import Dashboard, redirect, text
from keyseal.services import web_sessions
from keyseal.services.web_sessions import FULL, WebSession


def _logged_in(dash: Dashboard, request: Request, session: WebSession) -> Response:
    response = redirect("/keys" if session.stage == FULL else "/login/2fa")
    dash.set_session_cookie(request, response, session)
    return response


@anyone
async def home(dash: Dashboard, request: Request, session: WebSession | None) -> Response:
    return redirect("/keys" if session is not None else "/login")


@anyone
async def login_page(dash: Dashboard, request: Request, session: WebSession | None) -> Response:
    if request.method == "GET":
        if session is not None and session.stage == FULL:
            return redirect("/keys")
        ended = errors.SESSION_ENDED().message if request.query_params.get("ended") else None
        return dash.page(request, "login.html", None, email="", notice=ended)
    form = await dash.form(request, None)  # a login form is never the session's
    email = text(form, "email")
    try:
        new = await dash.call(web_sessions.password_step, dash.rt, email,
                              text(form, "password"), dash.ip(request))
    except errors.OkxError as refusal:
        return dash.page(request, "login.html", None, status=400, email=email,
                         error=refusal.message)
    response = _logged_in(dash, request, new)
    if session is not None:  # whatever the browser held before is ended, not reused
        await dash.call(web_sessions.log_out, dash.rt, session, dash.ip(request))
    return response


@half_logged_in
async def second_factor_page(dash: Dashboard, request: Request, session: WebSession
                             ) -> Response:
    factors = await dash.call(web_sessions.second_factors, dash.rt, session.account.id)
    if request.method == "GET":
        return dash.page(request, "login_2fa.html", session, factors=factors)
    form = await dash.form(request, session)
    try:
        new = await dash.call(web_sessions.totp_step, dash.rt, session, text(form, "code"),
                              dash.ip(request))
    except errors.OkxError as refusal:
        return dash.page(request, "login_2fa.html", session, status=400, factors=factors,
                         error=refusal.message)
    return _logged_in(dash, request, new)


@anyone
async def signup_page(dash: Dashboard, request: Request, session: WebSession | None
                      ) -> Response:
    if request.method == "GET":
        return dash.page(request, "signup.html", None, email="")
    form = await dash.form(request, None)
    email = text(form, "email")
    try:
        new = await dash.call(web_sessions.sign_up, dash.rt, email, text(form, "password"),
                              text(form, "password_again"), dash.ip(request))
    except errors.OkxError as refusal:
        return dash.page(request, "signup.html", None, status=400, email=email,
                         error=refusal.message)
    return _logged_in(dash, request, new)


@anyone
async def logout(dash: Dashboard, request: Request, session: WebSession | None) -> Response:
    if session is not None:
        await dash.form(request, session)
        await dash.call(web_sessions.log_out, dash.rt, session, dash.ip(request))
    response = redirect("/login")
    dash.clear_session_cookie(request, response)
    return response


routes = [
    Route("/", home),
    Route("/login", login_page, methods=["GET", "POST"]),
    Route("/login/2fa", second_factor_page, methods=["GET", "POST"]),
    Route("/signup", signup_page, methods=["GET", "POST"]),
    Route("/logout", logout, methods=["POST"]),
]
