"""The profile menu's other pages: Security (the authenticator app), Sub-accounts and
Activity (the audit trail)."""

from __future__ import annotations

from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from keyseal import errors
from keyseal.domain.commands import (
    ConfirmTwoFactor,
    CreateSubAccount,
    DisableTwoFactor,
    EnrollTwoFactor,
)
from keyseal.http.dashboard.guards import logged_in
from keyseal.http.dashboard.web import Dashboard, redirect, text
from keyseal.http.usage_chart import render_usage_chart, usage_summary
from keyseal.services import accounts as account_service
from keyseal.services import activity as activity_service
from keyseal.services import audit, web_sessions
from keyseal.services import keys as key_service
from keyseal.services.web_sessions import WebSession

ACTIVITY_LIMIT = 200
CHART_DAYS = 30


@logged_in
async def security_page(dash: Dashboard, request: Request, session: WebSession) -> Response:
    factors = await dash.call(web_sessions.second_factors, dash.rt, session.account.id)
    return dash.page(request, "security.html", session, factors=factors)


@logged_in
async def totp_start(dash: Dashboard, request: Request, session: WebSession) -> Response:
    """A new seed, pending until a first code confirms it; the QR code is on this page only
    (a POST answer, never cached)."""
    form = await dash.form(request, session)
    enrolment = await dash.call(account_service.enroll_2fa, dash.rt, EnrollTwoFactor(
        session.actor_name, code=text(form, "code").strip() or None,
        actor=dash.actor(request, session)))
    return dash.page(request, "totp_enrol.html", session, secret=enrolment.secret,
                     qr=enrolment.qr_svg())


@logged_in
async def totp_confirm(dash: Dashboard, request: Request, session: WebSession) -> Response:
    form = await dash.form(request, session)
    try:
        codes = await dash.call(account_service.confirm_2fa, dash.rt, ConfirmTwoFactor(
            session.actor_name, text(form, "code").strip(), actor=dash.actor(request, session)))
    except errors.OkxError as refusal:
        return dash.page(request, "totp_enrol.html", session, status=400, secret=None,
                         qr=None, error=refusal.message)
    return dash.page(request, "recovery_codes.html", session, codes=codes)


@logged_in
async def totp_off(dash: Dashboard, request: Request, session: WebSession) -> Response:
    """Turn the authenticator app off (its recovery codes go too); needs a current code."""
    form = await dash.form(request, session)
    try:
        await dash.call(account_service.disable_2fa, dash.rt, DisableTwoFactor(
            session.actor_name, text(form, "code").strip() or None,
            actor=dash.actor(request, session)))
    except errors.OkxError as refusal:
        factors = await dash.call(web_sessions.second_factors, dash.rt, session.account.id)
        return dash.page(request, "security.html", session, status=400, factors=factors,
                         error=refusal.message)
    return redirect("/security")


@logged_in
async def subaccounts_page(dash: Dashboard, request: Request, session: WebSession
                           ) -> Response:
    error, name = None, ""
    if request.method == "POST":
        form = await dash.form(request, session)
        name = text(form, "name").strip()
        try:
            await dash.call(account_service.create_sub_account, dash.rt, CreateSubAccount(
                session.actor_name, name, actor=dash.actor(request, session)))
        except errors.OkxError as refusal:
            error = refusal.message
        else:
            return redirect("/subaccounts")
    subs = await dash.call(account_service.sub_accounts, dash.rt, session.account)
    rows = []
    for sub in subs:
        keys = await dash.call(key_service.list_keys, dash.rt, session.actor_name,
                               sub=sub.sub_name)
        rows.append({"sub": sub, "keys": len(keys)})
    return dash.page(request, "subaccounts.html", session, rows=rows, error=error, name=name,
                     status=400 if error else 200)


@logged_in
async def activity_page(dash: Dashboard, request: Request, session: WebSession) -> Response:
    """The audit trail of the account and its sub-accounts, newest first; ``?key=`` narrows
    it to one key."""
    account = session.account
    subs = await dash.call(account_service.sub_accounts, dash.rt, account)
    ids = [account.id, *(s.id for s in subs)]
    keys = await dash.call(key_service.list_keys, dash.rt, session.actor_name)
    for sub in subs:
        keys += await dash.call(key_service.list_keys, dash.rt, session.actor_name,
                                sub=sub.sub_name)
    api_key = request.query_params.get("key") or None
    events = await dash.call(audit.events, dash.rt, account_ids=ids, api_key=api_key,
                             limit=ACTIVITY_LIMIT)
    chosen = next((k for k in keys if k.api_key == api_key), None)
    chart = summary = None
    if chosen is not None:
        series = await dash.call(activity_service.requests_per_day, dash.rt,
                                 dash.actor(request, session), chosen.api_key, CHART_DAYS)
        # the renderer escapes every text it puts in the SVG, so it goes in as it is
        svg = render_usage_chart(series, label=chosen.label or chosen.api_key,
                                 chart_id="usage-chart-svg")
        chart = Markup(svg)  # noqa: S704
        summary = usage_summary(series)
    return dash.page(request, "activity.html", session, events=events, keys=keys,
                     api_key=api_key, chosen=chosen, chart=chart, chart_summary=summary,
                     chart_days=CHART_DAYS)


routes = [
    Route("/security", security_page),
    Route("/security/totp", totp_start, methods=["POST"]),
    Route("/security/totp/confirm", totp_confirm, methods=["POST"]),
    Route("/security/totp/off", totp_off, methods=["POST"]),
    Route("/subaccounts", subaccounts_page, methods=["GET", "POST"]),
    Route("/activity", activity_page),
]
