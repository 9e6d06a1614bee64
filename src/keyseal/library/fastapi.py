"""FastAPI: ``require_key("trade")`` as a dependency returning the verified ``Caller``::

    @app.post("/orders")
    async def place(caller: Annotated[Caller, Depends(require_key("trade"))]) -> ...

Routes the middleware's table already covers get its caller, checked for this permission;
others are verified here, on the same gate. Install with ``install(app, auth)``."""

from __future__ import annotations

from keyseal.domain.permissions import Permission
from keyseal.gate.ratelimit import Rate
from keyseal.library.access import DEFAULT_RATE, Access, permission_named
from keyseal.library.auth import KeysealAuth
from keyseal.library.starlette import KeyRequirement, install, okx_refusal

__all__ = ["install", "okx_refusal", "require_key"]


def require_key(permission: str | Permission, *, rate: Rate | None = DEFAULT_RATE,
                auth: KeysealAuth | None = None) -> KeyRequirement:
    """A dependency: the caller, verified with a key that has ``permission`` (read, trade
    or withdraw), at most ``rate`` requests per account to this route (``None``: no limit).
    ``auth`` defaults to the one ``KeysealMiddleware`` puts in the scope."""
    return KeyRequirement(Access(permission_named(permission), rate), auth)
