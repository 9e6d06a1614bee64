"""The security-key ceremonies: the browser asks for options, the authenticator answers,
the server checks the answer (``services.security_keys``). JSON both ways, CSRF-checked."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from keyseal import errors
from keyseal.http.dashboard.guards import half_logged_in, logged_in
from keyseal.http.dashboard.web import Dashboard, text
from keyseal.services import security_keys
from keyseal.services.security_keys import RelyingParty
from keyseal.services.web_sessions import WebSession


def relying_party(dash: Dashboard, request: Request) -> RelyingParty:
    """The host the browser shows: WebAuthn binds each credential to it."""
    scheme = "https" if dash.secure(request) else "http"
    return RelyingParty(request.url.hostname or "",
                        f"{scheme}://{request.headers.get('host', '')}")


def _refused(refusal: errors.OkxError) -> JSONResponse:
    return JSONResponse({"code": refusal.code, "msg": refusal.message}, status_code=400)


def _json(body: str) -> Response:
    return Response(body, media_type="application/json")


@logged_in
async def register_options(dash: Dashboard, request: Request, session: WebSession) -> Response:
    await dash.form(request, session)
    try:
        return _json(await dash.call(security_keys.registration_options, dash.rt, session,
                                     relying_party(dash, request)))
    except errors.OkxError as refusal:
        return _refused(refusal)


@logged_in
async def register(dash: Dashboard, request: Request, session: WebSession) -> Response:
    form = await dash.form(request, session)
    try:
        await dash.call(security_keys.register, dash.rt, session, text(form, "credential"),
                        relying_party(dash, request), text(form, "label"), dash.ip(request),
                        text(form, "code").strip() or None)
    except errors.OkxError as refusal:
        return _refused(refusal)
    return JSONResponse({"code": "0", "redirect": "/security"})


@half_logged_in
async def login_options(dash: Dashboard, request: Request, session: WebSession) -> Response:
    await dash.form(request, session)
    try:
        return _json(await dash.call(security_keys.login_options, dash.rt, session,
                                     relying_party(dash, request)))
    except errors.OkxError as refusal:
        return _refused(refusal)


@half_logged_in
async def login(dash: Dashboard, request: Request, session: WebSession) -> Response:
    form = await dash.form(request, session)
    try:
        new = await dash.call(security_keys.log_in, dash.rt, session, text(form, "credential"),
                              relying_party(dash, request), dash.ip(request))
    except errors.OkxError as refusal:
        return _refused(refusal)
    response = JSONResponse({"code": "0", "redirect": "/keys"})
    dash.set_session_cookie(request, response, new)
    return response


@logged_in
async def action_options(dash: Dashboard, request: Request, session: WebSession) -> Response:
    await dash.form(request, session)
    try:
        return _json(await dash.call(security_keys.assertion_options, dash.rt, session,
                                     relying_party(dash, request)))
    except errors.OkxError as refusal:
        return _refused(refusal)


@logged_in
async def action(dash: Dashboard, request: Request, session: WebSession) -> Response:
    """A security key's answer for one key change: a one-time code the form then sends in
    place of an authenticator code."""
    form = await dash.form(request, session)
    try:
        grant = await dash.call(security_keys.approve_action, dash.rt, session,
                                text(form, "credential"), relying_party(dash, request),
                                dash.ip(request))
    except errors.OkxError as refusal:
        return _refused(refusal)
    return JSONResponse({"code": "0", "grant": grant})


routes = [
    Route("/security/webauthn/action/options", action_options, methods=["POST"]),
    Route("/security/webauthn/action", action, methods=["POST"]),
    Route("/security/webauthn/options", register_options, methods=["POST"]),
    Route("/security/webauthn", register, methods=["POST"]),
    Route("/login/webauthn/options", login_options, methods=["POST"]),
    Route("/login/webauthn", login, methods=["POST"]),
]
