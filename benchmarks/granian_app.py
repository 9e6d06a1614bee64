"""Keyseal's own ASGI app for granian (the HTTP server comparison in benchmarks/run.py):
``granian --interface asgi --factory benchmarks.granian_app:create`` with ``KEYSEAL_HOME``
set. Rate limits off, as for the uvicorn run; granian's own HTTP layer, so none of
src/keyseal/http/protocols.py's slow-client limits apply (docs/decisions/0009)."""

from __future__ import annotations

import os
from pathlib import Path

from keyseal.http.app import KeysealApp, create_app
from keyseal.services.runtime import open_runtime
from keyseal.settings import Settings


def create() -> KeysealApp:
    return create_app(open_runtime(Settings(home=Path(os.environ["KEYSEAL_HOME"]),
                                            rate_limits=False)))
