"""``keyseal serve`` and ``keyseal init``: run the server, create a home."""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import socket
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from keyseal.cli.common import Db, Home, Switch, err, lazy, open_home, runtime, settings_for
from keyseal.cli.groups import app
from keyseal.scaleout import REDIS_URL_ENV, ScaleOut
from keyseal.settings import ConnectionLimits, shown_db_url

if TYPE_CHECKING:
    from keyseal.services import master_keys
else:
    master_keys = lazy("keyseal.services.master_keys")

# -- serve -------------------------------------------------------------------------------
@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8400,
    home: Home = None,
    db: Db = None,
    rate_limits: Annotated[Switch, typer.Option(
        "--rate-limits", help="OKX's per-endpoint rate limits; off for benchmarks and load tests.")
    ] = Switch.ON,
    trusted_proxy: Annotated[list[str] | None, typer.Option(
        "--trusted-proxy", help="A proxy (IP or CIDR) whose X-Forwarded-For is believed.")
    ] = None,
    tls_cert: Annotated[Path | None, typer.Option(help="PEM certificate, to serve HTTPS/WSS.")
                        ] = None,
    tls_key: Annotated[Path | None, typer.Option(help="PEM private key for --tls-cert.")
                       ] = None,
    log_level: Annotated[str, typer.Option(help="debug, info, warning or error.")] = "warning",
    redis: Annotated[str | None, typer.Option(
        "--redis", envvar=REDIS_URL_ENV, show_default=False,
        help="redis://host:port/db shared by several `keyseal serve`: rate limits, replay "
             "memory and key changes pushed to every process [default: none, per process].")
    ] = None,
) -> None:
    """Run the OKX-compatible server (migrates the database first)."""
    import logging

    import uvicorn

    from keyseal.http.app import create_app
    from keyseal.http.protocols import GuardedWebSocketProtocol, http_protocol

    logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: "
                        "%(message)s")
    settings = settings_for(home, db, host=host, port=port, rate_limits=rate_limits is Switch.ON,
                         trusted_proxies=tuple(trusted_proxy or ()),
                         **({"scaleout": ScaleOut(redis_url=redis)} if redis else {}))
    listener = bound_socket(host, port)  # before the home: a busy port creates nothing
    try:
        rt = open_home(settings)
        scheme = "https" if tls_cert else "http"
        err.print(f"Keyseal listening on {scheme}://{host}:{port}  (home {settings.home}, db "
                  f"{shown_db_url(settings.db_url)}, redis {settings.scaleout.shown_redis_url}, "
                  f"rate limits {rate_limits.value})", highlight=False)
        limits = _within_open_file_limit(settings.limits)
        # uvicorn's httptools and sans-I/O WebSocket protocols, with deadlines, head limits and
        # a connection limit of ours (src/keyseal/http/protocols.py)
        config = uvicorn.Config(create_app(rt), host=host, port=port, log_level=log_level,
                                access_log=False, lifespan="on", http=http_protocol(limits),
                                loop="uvloop", ws=GuardedWebSocketProtocol,
                                ws_max_size=limits.ws_max_frame_bytes, ssl_certfile=tls_cert,
                                ssl_keyfile=tls_key, server_header=False, date_header=False,
                                proxy_headers=False)  # X-Forwarded-For: see --trusted-proxy
        try:
            uvicorn.Server(config).run(sockets=[listener])
        finally:
            rt.close()
    finally:
        listener.close()


#: descriptors kept beside the connections: the database, the listener, logs, a CLI's reads
_SPARE_FILES = 64


def _within_open_file_limit(limits: ConnectionLimits) -> ConnectionLimits:
    """The limits, with ``max_connections`` below what the process may open: the soft limit
    on open files is raised to the hard one if need be, and when even that is too low the
    connection limit is lowered, saying so. Past the open-file limit the server could not
    even accept a connection to refuse it."""
    import resource

    wanted = limits.max_connections + _SPARE_FILES
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < wanted:
        raised = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (raised, hard))
            soft = raised
    if soft != resource.RLIM_INFINITY and soft < wanted:
        allowed = max(1, soft - _SPARE_FILES)
        err.print(f"[yellow]warning:[/] at most {soft} open files (ulimit -n): serving at most "
                  f"{allowed} connections, not {limits.max_connections}", highlight=False)
        return dataclasses.replace(limits, max_connections=allowed)
    return limits


def bound_socket(host: str, port: int) -> socket.socket:
    """The socket the server will listen on, bound now, so a port in use is said in one line
    before anything is created; uvicorn serves on this very socket, so nothing can take the
    port in between."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn: restarts at once
    try:
        sock.bind((host, port))
    except OSError as failure:
        sock.close()
        if failure.errno == errno.EADDRINUSE:
            err.print(f"[red]error:[/] port {port} on {host} is already in use (another "
                      "`keyseal serve`?); stop that process or choose another port with "
                      "--port.", highlight=False)
        else:
            reason = failure.strerror or failure
            err.print(f"[red]error:[/] cannot listen on {host}:{port} ({reason}); choose "
                      "another --host or --port.", highlight=False)
        raise typer.Exit(1) from None
    return sock


@app.command()
def init(home: Home = None, db: Db = None) -> None:
    """Create a Keyseal home: its folder, its master key and the database schema. A
    database that already has a master key is refused unless this home holds that key."""
    with runtime(home, db) as rt:
        if not rt.new_home:
            listed = ", ".join(f"v{v.version}" for v in master_keys.versions(rt))
            err.print(f"{rt.settings.home} is already a Keyseal home (master keys {listed} "
                      "match the database); nothing changed.", highlight=False)
