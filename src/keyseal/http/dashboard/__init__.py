"""The dashboard: OKX's "API management" pages, server-rendered with Jinja2 on Starlette.

It sits beside the bare OKX dispatcher (which stays the hot path) and calls the services,
nothing else. Every page works without JavaScript; ``static/dashboard.js`` only adds live
hints, copy buttons and the security-key ceremony."""

from keyseal.http.dashboard.app import create_dashboard

__all__ = ["create_dashboard"]
