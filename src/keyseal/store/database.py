"""Engines, transactions and migrations for SQLite (embedded default) and PostgreSQL."""

from __future__ import annotations

import fcntl
import logging
import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import NullPool

from keyseal import errors

MIGRATIONS = Path(__file__).parent / "migrations"
#: the newest migration's revision (tests/store/test_schema_head.py holds it to Alembic's head):
#: a database already there is opened without loading Alembic, which costs a CLI command
#: a tenth of a second
SCHEMA_HEAD = "0007"
log = logging.getLogger("keyseal.store")
#: PostgreSQL's SQLSTATE for "disk full" (class 53, insufficient resources)
_PG_DISK_FULL = "53100"
#: the PostgreSQL advisory-lock id Keyseal's start-up holds (any fixed 64-bit number would do)
STARTUP_LOCK_ID = 0x6B65_7973_6561_6C01


def _storage_full(failure: DBAPIError) -> bool:
    orig = failure.orig
    if isinstance(orig, sqlite3.Error):
        return getattr(orig, "sqlite_errorcode", None) == sqlite3.SQLITE_FULL
    return getattr(orig, "sqlstate", None) == _PG_DISK_FULL


class Database:
    """One engine, with explicit read and write transactions.

    SQLite runs in WAL mode and takes the write lock at ``BEGIN IMMEDIATE``, so two processes
    (the server and the CLI) queue for it instead of failing on a lock upgrade.
    """

    def __init__(self, url: str, *, pooled: bool = True) -> None:
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        self._lock_file: Path | None = None
        if self.is_sqlite:
            path = url.split("///", 1)[-1].split("?", 1)[0]
            if path and path != ":memory:":
                Path(path).parent.mkdir(parents=True, exist_ok=True)
                self._lock_file = Path(path + ".lock")
            self.engine: Engine = create_engine(
                url, connect_args={"check_same_thread": False, "timeout": 30},
                hide_parameters=True)
            event.listen(self.engine, "connect", _sqlite_on_connect)
            event.listen(self.engine, "begin", _sqlite_begin_immediate)
        else:
            pool = {"pool_pre_ping": True, "pool_size": 8, "max_overflow": 8} if pooled else {
                "poolclass": NullPool}
            # parameters (hashes, sealed secrets) stay out of logs and exception messages
            self.engine = create_engine(url, hide_parameters=True, **pool)

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """A transaction: committed on success, rolled back (changing nothing) on error.
        A store out of space refuses it with 70082 (one log line, no traceback): the caller
        learns that nothing was done and that a retry may succeed once space returns."""
        try:
            with self.engine.begin() as conn:
                yield conn
        except DBAPIError as failure:
            if not _storage_full(failure):
                raise
            log.warning("the database is out of space: a write was refused (%s)",
                        type(failure.orig).__name__)
            raise errors.STORAGE_FULL(detail="database or disk full") from None

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A read: on SQLite a plain (deferred) BEGIN, which takes no write lock."""
        with self.engine.connect().execution_options(keyseal_read_only=True) as conn:
            yield conn

    @contextmanager
    def startup_lock(self) -> Iterator[None]:
        """One process at a time migrates and bootstraps: a PostgreSQL advisory lock, or a
        file lock next to the SQLite file. Others starting at the same moment wait, then find
        the work done. Not re-entrant: do not nest it."""
        if self.is_sqlite:
            if self._lock_file is None:  # in memory: nothing else can share it
                yield
                return
            fd = os.open(self._lock_file, os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                yield
            finally:
                os.close(fd)  # releases the lock
            return
        with self.engine.connect() as conn:
            conn.exec_driver_sql(f"SELECT pg_advisory_lock({STARTUP_LOCK_ID})")
            conn.commit()
            try:
                yield
            finally:
                conn.exec_driver_sql(f"SELECT pg_advisory_unlock({STARTUP_LOCK_ID})")
                conn.commit()

    def migrate(self) -> None:
        """Bring the schema to the newest migration, once however many processes start at
        the same moment (safe to call on every start)."""
        with self.startup_lock():
            self.upgrade_schema()

    def upgrade_schema(self) -> None:
        """The Alembic upgrade itself; call it holding ``startup_lock``."""
        if self.schema_revision() == SCHEMA_HEAD:
            return
        from alembic import command
        from alembic.config import Config

        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        with self.engine.begin() as conn:
            config.attributes["connection"] = conn
            command.upgrade(config, "head")

    def schema_revision(self) -> str | None:
        """The revision the database is at; None when it has no schema yet."""
        try:
            with self.engine.connect() as conn:
                found = conn.exec_driver_sql("SELECT version_num FROM alembic_version").all()
        except DBAPIError:  # no such table: a new database (an unreachable one fails again later)
            return None
        return str(found[0][0]) if len(found) == 1 else None

    def dispose(self) -> None:
        self.engine.dispose()


def _sqlite_on_connect(dbapi_conn, _record) -> None:  # type: ignore[no-untyped-def]
    dbapi_conn.isolation_level = None  # we emit BEGIN ourselves
    cursor = dbapi_conn.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def _sqlite_begin_immediate(conn: Connection) -> None:
    read_only = conn.get_execution_options().get("keyseal_read_only", False)
    conn.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")
