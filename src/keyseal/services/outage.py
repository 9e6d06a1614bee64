"""Telling a database that is away from a bug, so an entry point answers 50001 ("try again
later", HTTP 503) for the one and 50026 for the other, and never a bare 500."""

from __future__ import annotations

from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout


def is_outage(failure: BaseException) -> bool:
    """The database could not be reached, dropped the connection, or no connection was free
    in time."""
    if isinstance(failure, (PoolTimeout, OperationalError, InterfaceError)):
        return True
    return isinstance(failure, DBAPIError) and failure.connection_invalidated
