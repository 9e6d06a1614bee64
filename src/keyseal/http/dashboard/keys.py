"""Profile menu → Developer Tools → API keys: the table, create, the one-time reveal, edit,
disable/enable, delete and regenerate."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from keyseal import errors
from keyseal.domain.commands import CreateKey, DeleteKey, EditKey, RegenerateKey, SetKeyStatus
from keyseal.domain.keys import ApiKey, KeyStatus
from keyseal.domain.permissions import Permission
from keyseal.http.dashboard.guards import logged_in
from keyseal.http.dashboard.web import Dashboard, days_left, redirect, text
from keyseal.services import accounts as account_service
from keyseal.services import key_form, reveals, web_sessions
from keyseal.services import keys as key_service
from keyseal.services.web_sessions import WebSession

MAX_IPS = 20


@dataclass(frozen=True)
class FieldState:
    """What a form says beside one field: its error, or that it is correct."""

    value: str = ""
    error: str | None = None
    checked: bool = False  # whether it was checked at all (a fresh form says nothing)

    @property
    def ok(self) -> bool:
        return self.checked and self.error is None


def checked(checks: dict[str, errors.OkxError | None], **values: str) -> dict[str, FieldState]:
    """Each field's state after its check: its refusal's message, or correct."""
    states = {}
    for name, value in values.items():
        refusal = checks[name]
        states[name] = FieldState(value, None if refusal is None else refusal.message, True)
    return states


def place_refusal(fields: dict[str, FieldState], refusal: errors.OkxError) -> str | None:
    """Put the use case's refusal beside the field it is about; the message for the top of
    the form when it is about none of them."""
    field = key_form.FIELD_OF_CODE.get(refusal.code)
    if field is None or field not in fields:
        return refusal.message
    fields[field] = FieldState(fields[field].value, refusal.message, True)
    return None


def key_row(dash: Dashboard, key: ApiKey) -> dict[str, Any]:
    perms = [name for name, flag in (("Read", Permission.READ), ("Trade", Permission.TRADE),
                                     ("Withdraw", Permission.WITHDRAW)) if flag in key.permission]
    warnings = []
    if Permission.WITHDRAW in key.permission:
        warnings.append("Can withdraw: whoever holds it can move funds out")
    if not key.allowlist.bound:
        warnings.append("No IP allow-list: usable from any address")
    return {"key": key, "perms": perms, "ips": list(key.allowlist.entries),
            "expires_days": days_left(dash.rt, key.expires_ms), "warnings": warnings,
            "enabled": key.status is KeyStatus.ENABLED}


async def _context(dash: Dashboard, session: WebSession) -> dict[str, Any]:
    """What every key page shows around its content: banners and the second factor."""
    account = session.account
    factors = await dash.call(web_sessions.second_factors, dash.rt, account.id)
    banners = []
    need = dash.rt.settings.min_kyc_for_keys
    if account.restricted:
        banners.append("This account is under a security restriction: its keys are refused "
                       "(50100) and no key can be created or edited. Ask the operator to "
                       "lift it (keyseal account unrestrict).")
    if account.kyc_level < need:
        banners.append(f"Identity verification level {need} is needed to create API keys; "
                       f"this account is at level {account.kyc_level}. Ask the operator to "
                       f"verify it (keyseal account set-kyc {account.email} {need}).")
    if not factors.any:
        banners.append("Creating or changing keys asks for a second factor: set up an "
                       "authenticator app or a security key on the Security page first.")
    return {"banners": banners, "factors": factors,
            "can_create": not account.restricted and account.kyc_level >= need and factors.any}


def _sub(request: Request) -> str | None:
    return request.query_params.get("sub") or None


@logged_in
async def list_page(dash: Dashboard, request: Request, session: WebSession) -> Response:
    sub = _sub(request)
    keys = await dash.call(key_service.list_keys, dash.rt, session.actor_name, sub=sub)
    return dash.page(request, "keys.html", session, sub=sub,
                     rows=[key_row(dash, k) for k in keys], **await _context(dash, session))


def _perm(form: FormData) -> str:
    return ",".join(["read_only"] + [p for p in ("trade", "withdraw") if form.get(p) == "on"])


@logged_in
async def new_page(dash: Dashboard, request: Request, session: WebSession) -> Response:
    sub = _sub(request)
    if sub is not None:  # a typo'd sub-account is refused now, not after the form is filled
        await dash.call(account_service.sub_account, dash.rt, session.account, sub)
    context = await _context(dash, session)
    fields = {name: FieldState() for name in ("label", "passphrase", "ip", "perm", "code")}
    if request.method == "GET":
        return dash.page(request, "key_new.html", session, sub=sub, fields=fields,
                         form={"env": "live"}, max_ips=MAX_IPS, ip_count=0, **context)
    form = await dash.form(request, session)
    label, passphrase, ip = text(form, "label"), text(form, "passphrase"), text(form, "ip")
    shown = {"trade": form.get("trade") == "on", "withdraw": form.get("withdraw") == "on",
             "env": "demo" if text(form, "env") == "demo" else "live"}
    checks = key_form.check_new_key(dash.rt, label=label, passphrase=passphrase, ip=ip)
    fields = checked(checks, label=label, passphrase=passphrase, ip=ip)
    fields["perm"] = FieldState(checked=False)
    fields["code"] = FieldState()
    error = None
    if all(state.ok for state in fields.values() if state.checked):
        try:
            created = await dash.call(key_service.create_key, dash.rt, CreateKey(
                session.actor_name, label=label, passphrase=passphrase, perm=_perm(form), ip=ip,
                demo=shown["env"] == "demo", sub=sub, actor=dash.actor(request, session),
                totp_code=text(form, "code").strip() or None))
        except errors.OkxError as refusal:
            error = place_refusal(fields, refusal)
        else:
            await dash.call(reveals.hold, dash.rt, session.token, created)
            return redirect("/keys/reveal")
    return dash.page(request, "key_new.html", session, status=400, sub=sub, fields=fields,
                     form=shown, error=error, max_ips=MAX_IPS,
                     ip_count=key_form.count_ips(ip), **context)


@logged_in
async def reveal_page(dash: Dashboard, request: Request, session: WebSession) -> Response:
    if request.method == "POST":  # "I have stored them"
        await dash.form(request, session)
        return redirect("/keys")
    pending = await dash.call(reveals.take, dash.rt, session.token)
    if pending is None:
        return dash.refusal_page(request, session, errors.REVEAL_GONE())
    base_url = str(request.base_url).rstrip("/")
    return dash.page(request, "reveal.html", session, created=pending,
                     row=key_row(dash, pending.key), base_url=base_url,
                     demo=pending.key.environment.value == "demo")


async def _visible(dash: Dashboard, request: Request, session: WebSession
                   ) -> tuple[ApiKey, Any]:
    found: tuple[ApiKey, Any] = await dash.call(key_form.visible_key, dash.rt,
                                                dash.actor(request, session),
                                                request.path_params["api_key"])
    return found


def _back(owner: Any) -> str:
    return f"/keys?sub={owner.sub_name}" if owner.is_sub else "/keys"


@logged_in
async def edit_page(dash: Dashboard, request: Request, session: WebSession) -> Response:
    key, owner = await _visible(dash, request, session)
    fields = {"label": FieldState(key.label), "ip": FieldState(key.allowlist.wire()),
              "code": FieldState()}
    error = None
    if request.method == "POST":
        form = await dash.form(request, session)
        label, ip = text(form, "label"), text(form, "ip")
        checks = key_form.check_new_key(dash.rt, label=label, passphrase=None, ip=ip)
        fields = checked(checks, label=label, ip=ip)
        fields["code"] = FieldState()
        if all(state.ok for state in fields.values() if state.checked):
            try:
                await dash.call(key_service.edit_key, dash.rt, EditKey(
                    key.api_key, label=label, ip=ip, actor=dash.actor(request, session),
                    totp_code=text(form, "code").strip() or None))
            except errors.OkxError as refusal:
                error = place_refusal(fields, refusal)
            else:
                return redirect(_back(owner))
    return dash.page(request, "key_edit.html", session, row=key_row(dash, key), owner=owner,
                     fields=fields, error=error, max_ips=MAX_IPS, back=_back(owner),
                     ip_count=key_form.count_ips(fields["ip"].value),
                     status=400 if request.method == "POST" else 200,
                     **await _context(dash, session))


async def _confirmed_action(dash: Dashboard, request: Request, session: WebSession,
                            template: str, act: Any) -> Response:
    """A page that asks for the second factor, then does ``act(key, actor, code)``."""
    key, owner = await _visible(dash, request, session)
    error = None
    if request.method == "POST":
        form = await dash.form(request, session)
        try:
            result = await dash.call(act, key, dash.actor(request, session),
                                     text(form, "code").strip() or None, form)
        except errors.OkxError as refusal:
            error = refusal.message
        else:
            if isinstance(result, Response):
                return result
            return redirect(_back(owner))
    return dash.page(request, template, session, row=key_row(dash, key), owner=owner,
                     error=error, back=_back(owner),
                     status=400 if request.method == "POST" else 200,
                     **await _context(dash, session))


@logged_in
async def status_page(dash: Dashboard, request: Request, session: WebSession) -> Response:
    def act(key: ApiKey, actor: Any, code: str | None, form: FormData) -> None:
        status = KeyStatus.ENABLED if key.status is KeyStatus.DISABLED else KeyStatus.DISABLED
        key_service.set_key_status(dash.rt, SetKeyStatus(key.api_key, status, actor=actor,
                                                         totp_code=code))
    return await _confirmed_action(dash, request, session, "key_status.html", act)


@logged_in
async def delete_page(dash: Dashboard, request: Request, session: WebSession) -> Response:
    def act(key: ApiKey, actor: Any, code: str | None, form: FormData) -> None:
        key_service.delete_key(dash.rt, DeleteKey(key.api_key, actor=actor, totp_code=code))
    return await _confirmed_action(dash, request, session, "key_delete.html", act)


@logged_in
async def regenerate_page(dash: Dashboard, request: Request, session: WebSession) -> Response:
    def act(key: ApiKey, actor: Any, code: str | None, form: FormData) -> Response:
        created = key_service.regenerate_key(dash.rt, RegenerateKey(
            key.api_key, passphrase=text(form, "passphrase"),
            disable_old=form.get("disable_old") == "on", actor=actor, totp_code=code))
        reveals.hold(dash.rt, session.token, created)
        return redirect("/keys/reveal")
    return await _confirmed_action(dash, request, session, "key_regenerate.html", act)


routes = [
    Route("/keys", list_page),
    Route("/keys/new", new_page, methods=["GET", "POST"]),
    Route("/keys/reveal", reveal_page, methods=["GET", "POST"]),
    Route("/keys/{api_key}/edit", edit_page, methods=["GET", "POST"]),
    Route("/keys/{api_key}/status", status_page, methods=["GET", "POST"]),
    Route("/keys/{api_key}/delete", delete_page, methods=["GET", "POST"]),
    Route("/keys/{api_key}/regenerate", regenerate_page, methods=["GET", "POST"]),
]
