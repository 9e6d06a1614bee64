"""Several processes starting at once on one fresh database migrate it once, and all start."""

from __future__ import annotations

import multiprocessing
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from tests.conftest import POSTGRES_ENV, postgres_url

PROCESSES = 6


def _start(db_url: str, home: str, barrier: Any, results: Any) -> None:
    from keyseal.services.runtime import open_runtime
    from keyseal.settings import Settings

    try:
        barrier.wait(timeout=60)
        rt = open_runtime(Settings(home=Path(home), db_url=db_url), pooled=False)
        rt.close()
        results.put("ok")
    except BaseException as exc:  # reported to the test, one line each
        results.put(f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}")


def _start_all_at_once(db_url: str, home: Path) -> list[str]:
    ctx = multiprocessing.get_context("spawn")
    barrier, results = ctx.Barrier(PROCESSES), ctx.Queue()
    workers = [ctx.Process(target=_start, args=(db_url, str(home), barrier, results))
               for _ in range(PROCESSES)]
    for worker in workers:
        worker.start()
    outcomes = [results.get(timeout=120) for _ in workers]
    for worker in workers:
        worker.join(timeout=30)
    return outcomes


@pytest.fixture(params=["sqlite", "postgresql"])
def fresh_db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database nobody has migrated: a new SQLite file, or a new PostgreSQL database."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'fresh.db'}"
        return
    base = postgres_url()
    if not base:
        pytest.skip(f"PostgreSQL not configured: set {POSTGRES_ENV}")
    from keyseal.settings import normalise_db_url
    from keyseal.store.database import Database

    name = f"ks_migrate_{uuid.uuid4().hex[:12]}"
    admin = Database(normalise_db_url(base), pooled=False)
    with admin.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(normalise_db_url(base)).set(database=name).render_as_string(
            hide_password=False)
    finally:
        with admin.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def test_processes_starting_at_once_migrate_the_database_once(fresh_db_url: str,
                                                               tmp_path: Path) -> None:
    outcomes = _start_all_at_once(fresh_db_url, tmp_path / "home")
    assert [o for o in outcomes if o != "ok"] == []

    from keyseal.store.database import Database

    db = Database(fresh_db_url, pooled=False)
    try:
        with db.read() as conn:
            versions = conn.execute(text("SELECT version_num FROM alembic_version")).all()
    finally:
        db.dispose()
    assert len(versions) == 1
