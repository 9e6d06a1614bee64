"""Keyseal's gate inside another application: the same state a ``keyseal serve`` process
holds (``build_state``: key cache, known ids, rate limiter, usage recorder), on the same
store, with the same background loops run in the host's lifespan."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

from keyseal import errors
from keyseal.clock import Clock, system_clock
from keyseal.gate.verifier import Guard
from keyseal.http.app import (
    read_body,
    signed_request,
    start_background,
    stop_background,
    wanted_headers,
)
from keyseal.http.background import ChangeFollower, flush_usage
from keyseal.http.client_address import TrustedProxies
from keyseal.http.state import ServerState, build_state
from keyseal.library.access import AccessTable, Rule
from keyseal.library.caller import Caller
from keyseal.services.runtime import Runtime, open_runtime
from keyseal.settings import Settings

log = logging.getLogger("keyseal.library")
Source = Runtime | Settings | str | Path | None


class KeysealAuth:
    """Verifies OKX-V5-signed requests to the host application's own routes.

    ``source``: a Keyseal home directory, ``Settings`` (for PostgreSQL, ``db_url``), an open
    ``Runtime``, or ``None`` for ``KEYSEAL_HOME`` / ``KEYSEAL_DB`` as ``keyseal serve``
    reads them. ``routes`` maps ``"METHOD /path"``, ``"/path"`` or ``"/prefix/*"`` to
    ``"read"``, ``"trade"``, ``"withdraw"`` or an ``Access``; ``default`` is the rule for the
    paths it does not name (``None``: passed on unverified).

    Start it with the host's lifespan (``KeysealMiddleware`` passes ASGI lifespan events
    through) or ``async with auth:``: that runs the change follower (a key disabled by
    another process is refused within ``change_poll_interval_s``), the usage writer and the
    sweeper. A key changed through services on ``auth.rt`` is refused at once."""

    def __init__(self, source: Source = None, *, routes: Mapping[str, Rule] | None = None,
                 default: Rule = None, clock: Clock = system_clock) -> None:
        if isinstance(source, Runtime):
            self.rt, self._owns_runtime = source, False
        else:
            if isinstance(source, Settings):
                settings = source
            else:
                settings = Settings() if source is None else Settings(home=Path(source))
            self.rt, self._owns_runtime = open_runtime(settings, clock=clock), True
            if self.rt.new_home:
                log.warning("%s is a new, empty Keyseal home: no key verifies until keys are "
                            "created there", settings.home)
        self.state: ServerState = build_state(self.rt, seed_limits=False)  # its own routes' limits
        self.table = AccessTable(routes or {}, default)
        self.follower = ChangeFollower(self.state)
        self._proxies = TrustedProxies(self.rt.settings.trusted_proxies)
        self._tasks: list[asyncio.Task[None]] = []
        self._users = 0

    # -- lifecycle -------------------------------------------------------------------------
    async def start(self) -> None:
        """Start the background loops (once, however many middlewares share this)."""
        if self._users == 0:
            self._tasks = await start_background(self.state)
        self._users += 1

    async def stop(self) -> None:
        """Stop the loops and write the usage still pending."""
        self._users = max(0, self._users - 1)
        if self._users == 0 and self._tasks:
            tasks, self._tasks = self._tasks, []
            await stop_background(self.state, tasks)

    def close(self) -> None:
        """Release the database connections, when this object opened them."""
        if self._owns_runtime:
            self.rt.close()

    async def __aenter__(self) -> KeysealAuth:
        await self.start()
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.stop()

    async def flush_usage(self) -> int:
        """Write the pending last-used records now (the usage writer does it every
        ``usage_flush_interval_s``); returns how many keys were written."""
        return await asyncio.to_thread(flush_usage, self.state)

    # -- verification ----------------------------------------------------------------------
    async def body_of(self, receive: Any, headers: dict[str, str]) -> bytes:
        """Read a request's whole body, refused (413) past ``max_body_bytes``."""
        return await read_body(receive, headers, self.rt.settings.max_body_bytes)

    async def verify(self, scope: Mapping[str, Any], body: bytes, guard: Guard, *,
                     headers: dict[str, str] | None = None) -> Caller:
        """Run the gate on one request: signature over its raw target and ``body``, then
        the key's state, IP allow-list, ``guard``'s permission and rate limit, and record its
        use. Raises ``OkxError`` with the gate's code; logs the refusal without secrets.
        ``headers``: the scope's, as ``wanted_headers`` decodes them, if already done."""
        if self.state.loop is None:  # served without a lifespan: own changes still apply
            self.state.loop = asyncio.get_running_loop()
        if headers is None:
            headers = wanted_headers(scope["headers"])
        client = scope.get("client")
        client_ip = self._proxies.client_ip(client[0] if client else "",
                                            headers.get("x-forwarded-for"))
        request = signed_request(scope, headers, body, client_ip)
        try:
            principal = await self.state.gate.authenticate(request, guard)
        except errors.OkxError as refusal:
            log.info("refused %s %s: %s %s", scope["method"], scope["path"], refusal.code,
                     refusal.detail)
            raise
        return Caller.of(principal)
