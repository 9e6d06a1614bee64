"""/healthz says the process serves; /readyz says whether it can: database, migrations,
master key, and a 503 with 70075 naming what fails."""

from __future__ import annotations

import sqlite3

import httpx

from keyseal.services.health import readiness
from keyseal.services.runtime import Runtime
from keyseal.store.database import Database
from tests.conftest import envelope


def checks(response: httpx.Response) -> dict[str, bool]:
    return {row["check"]: row["ok"] for row in envelope(response)["data"]}


def test_alive_and_ready(serve) -> None:  # type: ignore[no-untyped-def]
    served = serve()
    alive = httpx.get(served.url + "/healthz")
    assert alive.status_code == 200 and envelope(alive)["data"] == [{"status": "alive"}]
    ready = httpx.get(served.url + "/readyz")
    assert ready.status_code == 200 and envelope(ready)["code"] == "0"
    assert checks(ready) == {"database": True, "migrations": True, "master_key": True}


def test_schema_behind_is_not_ready_but_alive(serve) -> None:  # type: ignore[no-untyped-def]
    served = serve()
    with sqlite3.connect(served.home / "keyseal.db") as db:  # as if an older Keyseal ran
        db.execute("UPDATE alembic_version SET version_num = '0004'")
    ready = httpx.get(served.url + "/readyz")
    body = envelope(ready)
    assert ready.status_code == 503 and body["code"] == "70075"
    assert body["msg"] == "Keyseal is not ready: migrations failing"
    assert checks(ready) == {"database": True, "migrations": False, "master_key": True}
    assert "0004" in next(r["detail"] for r in body["data"] if r["check"] == "migrations")
    assert httpx.get(served.url + "/healthz").status_code == 200


def test_another_master_key_is_not_ready(serve) -> None:  # type: ignore[no-untyped-def]
    served = serve()
    key_file = served.home / "master.key"
    other = served.home.parent / "other"
    from keyseal.crypto.keyring import create_key_file, new_keyring

    create_key_file(other, new_keyring())
    key_file.write_bytes((other / "master.key").read_bytes())  # the file swapped under it
    ready = httpx.get(served.url + "/readyz")
    body = envelope(ready)
    assert ready.status_code == 503 and body["msg"] == "Keyseal is not ready: master_key failing"
    detail = next(r["detail"] for r in body["data"] if r["check"] == "master_key")
    assert "is not the one this database was sealed with" in detail


def test_an_unreachable_database_is_named(sqlite_rt: Runtime) -> None:
    reachable = sqlite_rt.db
    sqlite_rt.db = Database("postgresql+psycopg://keyseal@127.0.0.1:1/none?connect_timeout=2",
                            pooled=False)
    try:
        found = readiness(sqlite_rt)
    finally:
        sqlite_rt.db.dispose()
        sqlite_rt.db = reachable
    assert [(c.name, c.ok) for c in found] == [
        ("database", False), ("migrations", False), ("master_key", False)]
    assert found[0].detail.startswith("the database does not answer")
    # the driver's words (host, port, user) go to the log, not to whoever reaches /readyz
    assert "127.0.0.1" not in found[0].detail and "keyseal" not in found[0].detail
