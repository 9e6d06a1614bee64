"""Library mode: Keyseal keys in front of your own Python API.

``KeysealAuth`` runs Keyseal's gate (cache, change following, rate limits, usage) in your
process against your Keyseal store; ``KeysealMiddleware`` puts it in front of any ASGI
app; ``keyseal.library.fastapi.require_key`` / ``keyseal.library.starlette`` (the
``library`` extra) check keys per route. Handlers receive a ``Caller``, never a secret."""

from keyseal.domain.keys import Environment
from keyseal.domain.permissions import Permission
from keyseal.gate.ratelimit import Rate
from keyseal.library.access import DEFAULT_RATE, Access
from keyseal.library.auth import KeysealAuth
from keyseal.library.caller import Caller
from keyseal.library.middleware import KeysealMiddleware

__all__ = ["DEFAULT_RATE", "Access", "Caller", "Environment", "KeysealAuth",
           "KeysealMiddleware", "Permission", "Rate"]
