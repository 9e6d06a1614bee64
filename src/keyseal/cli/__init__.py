"""``keyseal``: the operator's command line. Thin: it parses, calls a service, prints.

Every command that prints data takes ``--json``; every command takes ``--home`` and
``--db``. A mistake prints what was wrong and what to do, exits non-zero and changes nothing.
One module per command group; ``common`` holds what they share.
"""

from __future__ import annotations

from keyseal.cli import (  # noqa: F401  (register)
    accounts,
    activity,
    audit,
    config,
    forward_auth,
    keys,
    ledger,
    master_keys,
    serve,
    sign,
)
from keyseal.cli.groups import app

__all__ = ["app", "main"]


def main() -> None:
    app()
