"""``keyseal forward-auth``: the verify endpoint for a proxy (nginx ``auth_request``, Caddy
``forward_auth``) in front of the team's own API, in any language."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from keyseal.cli.common import Db, Home, Switch, err, open_home, settings_for
from keyseal.cli.groups import app
from keyseal.cli.serve import bound_socket

#: the proxy usually runs on the same machine: its X-Forwarded-For is believed by default
LOOPBACK = ("127.0.0.1", "::1")


@app.command("forward-auth")
def forward_auth(
    host: Annotated[str, typer.Option(help="Address to listen on (only the proxy needs it).")
                    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8401,
    routes: Annotated[Path | None, typer.Option(
        "--routes", help="A TOML file: what each route demands (default, rate, [routes]).")
    ] = None,
    route: Annotated[list[str] | None, typer.Option(
        "--route", help="'PATTERN=PERMISSION', e.g. 'POST /orders=trade' or '/payouts/*="
        "withdraw'; over the --routes file.")] = None,
    home: Home = None,
    db: Db = None,
    rate_limits: Annotated[Switch, typer.Option(
        "--rate-limits", help="The routes' rate limits; off for benchmarks and load tests.")
    ] = Switch.ON,
    trusted_proxy: Annotated[list[str] | None, typer.Option(
        "--trusted-proxy", help="A proxy (IP or CIDR) whose X-Forwarded-For is believed "
        "[default: 127.0.0.1 and ::1].", show_default=False)] = None,
    log_level: Annotated[str, typer.Option(help="debug, info, warning or error.")] = "warning",
) -> None:
    """Verify OKX-signed requests for a proxy in front of your own API: the answer is 200 with
    X-Keyseal-Account, X-Keyseal-Key and X-Keyseal-Permissions, or the OKX refusal. Routes
    not named need read for GET and HEAD, trade for other methods, unless --routes says
    otherwise. The README has the nginx and Caddy configuration."""
    import logging

    import uvicorn

    from keyseal.library.auth import KeysealAuth
    from keyseal.library.forward_auth import ForwardAuthApp
    from keyseal.library.route_rules import RouteRules, RulesError

    logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: "
                        "%(message)s")
    try:
        rules = RouteRules.load(routes, route or ())
    except RulesError as bad:
        err.print(f"[red]error:[/] {bad}", highlight=False)
        raise typer.Exit(1) from None
    settings = settings_for(home, db, host=host, port=port, rate_limits=rate_limits is Switch.ON,
                            trusted_proxies=tuple(trusted_proxy or LOOPBACK))
    listener = bound_socket(host, port)
    try:
        rt = open_home(settings)
        err.print(f"Keyseal forward-auth listening on http://{host}:{port}  (home "
                  f"{settings.home}, default rule {rules.default}, trusted proxies "
                  f"{', '.join(settings.trusted_proxies)})", highlight=False)
        config = uvicorn.Config(ForwardAuthApp(KeysealAuth(rt), rules), host=host, port=port,
                                log_level=log_level, access_log=False, lifespan="on",
                                http="httptools", loop="uvloop", server_header=False,
                                date_header=False, proxy_headers=False)
        try:
            uvicorn.Server(config).run(sockets=[listener])
        finally:
            rt.close()
    finally:
        listener.close()
