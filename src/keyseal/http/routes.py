"""The route table: for each endpoint, its handler, the permission it needs and its rate
limit — one place to read all three."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import orjson

from keyseal import errors
from keyseal.domain.actors import Actor
from keyseal.domain.commands import Owner
from keyseal.domain.permissions import Permission
from keyseal.gate.ratelimit import Rate
from keyseal.gate.verifier import Guard, Principal
from keyseal.http import strict_json

if TYPE_CHECKING:
    from keyseal.http.state import ServerState


@dataclass(frozen=True)
class Reply:
    """A response other than plain success: OKX's ``1``/``2`` batch codes carry data too."""

    code: str
    msg: str
    data: list[Any]
    http_status: int = 200


@dataclass
class Call:
    """One request as a handler sees it: decoded query, lazily parsed JSON body, the caller."""

    state: ServerState
    query: dict[str, str]
    raw_body: bytes
    principal: Principal | None
    client_ip: str
    _json: Any = field(default=None, repr=False)

    @property
    def caller(self) -> Principal:
        assert self.principal is not None, "private handler without a principal"
        return self.principal

    @property
    def owner(self) -> Owner:
        """Whose money the caller moves: its account, in its key's environment."""
        caller = self.caller
        return Owner(caller.key.account_id, caller.environment)

    @property
    def actor(self) -> Actor:
        """The calling key, as the actor of a use case."""
        caller = self.caller
        return Actor.api(caller.key.api_key, caller.key.account_id, caller.environment,
                         self.client_ip)

    def json(self) -> Any:
        """The body as JSON: 50000 when empty, 50002 when not JSON (or not UTF-8)."""
        if self._json is None:
            if not self.raw_body.strip():
                raise errors.BODY_EMPTY()
            try:
                self._json = strict_json.loads(self.raw_body)
            except orjson.JSONDecodeError:
                raise errors.JSON_SYNTAX() from None
        return self._json

    def json_object(self) -> dict[str, Any]:
        body = self.json()
        if not isinstance(body, dict):
            raise errors.JSON_SYNTAX(detail="expected a JSON object")
        return body


Handler = Callable[[Call], Awaitable[list[Any] | Reply]]


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    handler: Handler
    guard: Guard | None  # None: public, limited per IP by ``public_rate``
    public_rate: Rate | None = None
    summary: str = ""


class RouteTable:
    def __init__(self) -> None:
        self.routes: list[Route] = []

    def private(self, method: str, path: str, permission: Permission, rate: Rate | None, *,
                manages_subs: bool = False, needs_ip_binding: bool = False
                ) -> Callable[[Handler], Handler]:
        def register(handler: Handler) -> Handler:
            guard = Guard(permission, rate, f"{method} {path}", manages_subs, needs_ip_binding)
            self.routes.append(Route(method, path, handler, guard, None,
                                     (handler.__doc__ or "").strip().splitlines()[0]))
            return handler
        return register

    def public(self, method: str, path: str, rate: Rate) -> Callable[[Handler], Handler]:
        def register(handler: Handler) -> Handler:
            self.routes.append(Route(method, path, handler, None, rate,
                                     (handler.__doc__ or "").strip().splitlines()[0]))
            return handler
        return register
