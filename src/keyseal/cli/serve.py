"""``keyseal serve`` and ``keyseal init``: run the server, create a home."""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import logging
import socket
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from keyseal.cli.common import (
    Db,
    Home,
    Switch,
    config_settings,
    err,
    lazy,
    load_config,
    open_home,
    runtime,
)
from keyseal.cli.groups import app
from keyseal.settings import ConnectionLimits, Settings, shown_db_url

if TYPE_CHECKING:
    from keyseal.config import KeysealConfig
    from keyseal.services import master_keys
    from keyseal.services.runtime import Runtime
else:
    master_keys = lazy("keyseal.services.master_keys")

# -- serve -------------------------------------------------------------------------------
# No envvar= on these: the environment and the config file are read by keyseal.config, which
# then knows (for `keyseal config show`) where each value came from.
ConfigFile = Annotated[Path | None, typer.Option(
    "--config", help="A TOML file of settings (names as `keyseal config show` lists them) "
    "[default: $KEYSEAL_CONFIG].", show_default=False)]
SetOption = Annotated[list[str] | None, typer.Option(
    "--set", metavar="NAME=VALUE", help="Any other setting, e.g. --set key_cache_size=50000 "
    "(repeatable).", show_default=False)]


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Address to listen on [default: 127.0.0.1].",
                                             show_default=False)] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on [default: 8400].",
                                             show_default=False)] = None,
    home: Annotated[Path | None, typer.Option(
        "--home", help="Where the SQLite file and the master key live [default: ~/.keyseal].",
        show_default=False)] = None,
    db: Annotated[str | None, typer.Option(
        "--db", help="Database URL, e.g. postgresql://user@host/db [default: SQLite in the "
        "home].", show_default=False)] = None,
    config: ConfigFile = None,
    workers: Annotated[int | None, typer.Option(
        help="Processes serving the one port [default: 1].", show_default=False)] = None,
    rate_limits: Annotated[Switch | None, typer.Option(
        "--rate-limits", help="OKX's per-endpoint rate limits; off for benchmarks and load "
        "tests [default: on].", show_default=False)] = None,
    trusted_proxy: Annotated[list[str] | None, typer.Option(
        "--trusted-proxy", help="A proxy (IP or CIDR) whose X-Forwarded-For is believed.")
    ] = None,
    tls_cert: Annotated[Path | None, typer.Option(help="PEM certificate, to serve HTTPS/WSS.")
                        ] = None,
    tls_key: Annotated[Path | None, typer.Option(help="PEM private key for --tls-cert.")
                       ] = None,
    log_level: Annotated[str | None, typer.Option(
        help="debug, info, warning or error [default: warning].", show_default=False)] = None,
    log_format: Annotated[str | None, typer.Option(
        help="text, or json: one JSON object per line [default: text].", show_default=False)
    ] = None,
    access_log: Annotated[bool | None, typer.Option(
        "--access-log/--no-access-log", help="One log line per request [default: off].",
        show_default=False)] = None,
    redis: Annotated[str | None, typer.Option(
        "--redis", show_default=False,
        help="redis://host:port/db shared by several `keyseal serve`: rate limits, replay "
             "memory and key changes pushed to every process [default: none, per process].")
    ] = None,
    set_: SetOption = None,
) -> None:
    """Run the OKX-compatible server (migrates the database first)."""
    flags: dict[str, object] = {
        "host": host, "port": port, "home": home, "db": db, "workers": workers,
        "rate_limits": None if rate_limits is None else rate_limits is Switch.ON,
        "trusted_proxies": tuple(trusted_proxy) if trusted_proxy else None,
        "tls_cert": tls_cert, "tls_key": tls_key, "log_level": log_level,
        "log_format": log_format, "access_log": access_log, "redis_url": redis}
    loaded = load_config(flags, config, set_)
    settings = config_settings(loaded)
    options = loaded.config
    if options.workers > 1 and not settings.scaleout.redis_url:
        err.print("--workers needs --redis (or KEYSEAL_REDIS_URL): the workers share the replay "
                  "memory and the rate limits through it. Without it each worker would keep its "
                  "own, admitting a replayed order once per worker and each limit N times. "
                  "Start Redis and add --redis redis://127.0.0.1:6379/0, or serve one worker.",
                  highlight=False)
        raise typer.Exit(2)
    from keyseal.http.logs import configure_logging

    configure_logging(options.log_level, options.log_format, access_log=options.access_log)
    listener = bound_socket(settings.host, settings.port)  # before the home: a busy port
    try:                                                   # creates nothing
        rt = open_home(settings)
        scheme = "https" if options.tls_cert else "http"
        listening = (f"Keyseal listening on {scheme}://{settings.host}:{settings.port}  (home "
                     f"{settings.home}, db {shown_db_url(settings.db_url)}, rate limits "
                     f"{'on' if settings.rate_limits else 'off'}, redis {settings.scaleout.shown_redis_url}, "
                     f"workers {options.workers})")
        if options.log_format == "json":  # every line a JSON object
            logging.getLogger("keyseal.start").info(listening)
        else:
            err.print(listening, highlight=False)
        if options.workers == 1:
            try:
                run_server(rt, listener, options)
            finally:
                rt.close()
        else:
            rt.close()  # each worker opens its own: connections do not survive a fork
            from keyseal.cli.workers import supervise

            raise typer.Exit(supervise(options.workers, lambda: _serve_worker(
                settings, listener, options)))
    finally:
        listener.close()


def _serve_worker(settings: Settings, listener: socket.socket, options: KeysealConfig) -> None:
    rt = open_home(settings)
    try:
        run_server(rt, listener, options)
    finally:
        rt.close()


def run_server(rt: Runtime, listener: socket.socket, options: KeysealConfig) -> None:
    """Serve on ``listener`` until SIGTERM or SIGINT; then stop accepting, let the requests
    under way finish (at most ``graceful_timeout_s``), and write the usage still pending."""
    import uvicorn

    from keyseal.http.app import create_app
    from keyseal.http.protocols import GuardedWebSocketProtocol, http_protocol

    limits = _within_open_file_limit(rt.settings.limits)
    # uvicorn's httptools and sans-I/O WebSocket protocols, with deadlines, head limits and
    # a connection limit of ours (src/keyseal/http/protocols.py)
    config = uvicorn.Config(create_app(rt, access_log=options.access_log),
                            host=rt.settings.host, port=rt.settings.port,
                            log_level=options.log_level, log_config=None, access_log=False,
                            lifespan="on", http=http_protocol(limits), loop="uvloop",
                            ws=GuardedWebSocketProtocol, ws_max_size=limits.ws_max_frame_bytes,
                            ssl_certfile=options.tls_cert, ssl_keyfile=options.tls_key,
                            server_header=False, date_header=False,
                            timeout_graceful_shutdown=max(1, round(options.graceful_timeout_s)),
                            proxy_headers=False)  # X-Forwarded-For: see --trusted-proxy
    uvicorn.Server(config).run(sockets=[listener])


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
