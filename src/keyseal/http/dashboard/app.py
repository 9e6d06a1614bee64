"""The dashboard's Starlette application."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles

from keyseal.http.dashboard import account, auth, keys, webauthn_routes
from keyseal.http.dashboard.web import HERE, Dashboard, SecurityHeaders
from keyseal.services.runtime import Runtime


def create_dashboard(rt: Runtime, *, client_ip: Callable[[dict[str, Any]], str],
                     is_https: Callable[[dict[str, Any]], bool]) -> Any:
    """The dashboard as an ASGI app; ``client_ip`` and ``is_https`` read a request's scope
    the way the OKX routes do (``X-Forwarded-*`` only from trusted proxies)."""
    dashboard = Dashboard(rt, client_ip, is_https)

    async def not_found(request: Request, exc: Exception) -> Response:
        return dashboard.page(request, "message.html", None, status=404,
                              title="There is no such page", message="Nothing lives at this "
                              "address. The dashboard starts at the API keys page.", code=None)

    app = Starlette(routes=[*auth.routes, *keys.routes, *account.routes, *webauthn_routes.routes,
                            Mount("/static", StaticFiles(directory=HERE / "static"))],
                    exception_handlers={404: not_found, 405: not_found})
    app.state.dashboard = dashboard
    return SecurityHeaders(app)
