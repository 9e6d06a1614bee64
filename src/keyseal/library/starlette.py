"""Starlette helpers (``pip install 'keyseal[library]'``): install the middleware and a
refusal handler, and verify a request inside an endpoint."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response

from keyseal import errors
from keyseal.domain.permissions import Permission
from keyseal.gate.verifier import Guard
from keyseal.http import envelope
from keyseal.library.access import Access
from keyseal.library.auth import KeysealAuth
from keyseal.library.caller import Caller
from keyseal.library.middleware import AUTH, CALLER, KeysealMiddleware


def install(app: Starlette, auth: KeysealAuth) -> None:
    """Add ``KeysealMiddleware`` (its table, its lifespan) and render every ``OkxError`` an
    endpoint or dependency raises as OKX's envelope."""
    app.add_middleware(KeysealMiddleware, auth=auth)
    app.add_exception_handler(errors.OkxError, okx_refusal)  # type: ignore[arg-type]


async def okx_refusal(request: Request, refusal: errors.OkxError) -> Response:
    status, body = envelope.failure(refusal)
    return Response(body, status, media_type="application/json")


class KeyRequirement:
    """What one route demands of its key; checks a caller the middleware already verified,
    else verifies the request itself (its body, its rate limit under this route's path)."""

    def __init__(self, access: Access, auth: KeysealAuth | None = None) -> None:
        self.access = access
        self.auth = auth
        self._guards: dict[str, Guard] = {}

    async def __call__(self, request: Request) -> Caller:
        found = request.scope.get(CALLER)
        if isinstance(found, Caller):
            if not found.allows(self.access.permission):
                raise errors.NO_PERMISSION(
                    detail=f"key {found.api_key} lacks {self.access.permission!r}")
            return found
        auth = self.auth or request.scope.get(AUTH)
        if not isinstance(auth, KeysealAuth):
            raise RuntimeError("no KeysealAuth: install KeysealMiddleware, or pass auth=")
        route = request.scope.get("route")
        group = f"{request.method} {getattr(route, 'path', request.url.path)}"
        guard = self._guards.get(group)
        if guard is None:
            guard = self._guards[group] = self.access.guard(group)
        caller = await auth.verify(request.scope, await request.body(), guard)
        request.scope[CALLER] = caller
        request.state.keyseal = caller
        return caller


async def verified_caller(request: Request, permission: str | Permission | Access, *,
                          auth: KeysealAuth | None = None) -> Caller:
    """The verified caller of ``request``, which needs ``permission``, inside a Starlette
    endpoint; raises ``OkxError`` (rendered by ``install``'s handler) when refused."""
    return await KeyRequirement(Access.of(permission), auth)(request)
