"""The per-key ``explain_signatures`` setting, on SQLite and PostgreSQL: off by default, set by
``EditKey``, audited, carried to the gate's entry; migration 0004 adds it to existing keys."""

from __future__ import annotations

from alembic import command
from alembic.config import Config

from keyseal.domain.commands import EditKey
from keyseal.services import audit
from keyseal.services import keys as key_service
from keyseal.services.runtime import Runtime
from keyseal.store.database import MIGRATIONS, Database
from tests.conftest import make_key


def test_it_is_off_by_default_and_the_owner_switches_it(rt: Runtime) -> None:
    key = make_key(rt, label="explain1")
    api_key = key["apiKey"]
    assert key_service.get_key(rt, api_key).explain_signatures is False
    entry = key_service.load_entry(rt, api_key)
    assert entry is not None and not entry.explain_signatures and not entry.explains
    edited = key_service.edit_key(rt, EditKey(api_key, explain_signatures=True))
    assert edited.explain_signatures and edited.label == "explain1"
    assert key_service.get_key(rt, api_key).explain_signatures is True
    entry = key_service.load_entry(rt, api_key)
    assert entry is not None and entry.explains
    [event] = [e for e in audit.events(rt, api_key=api_key) if e.event == "key_edited"]
    assert event.details == {"explain_signatures": [False, True]}
    # a label edit leaves it alone
    key_service.edit_key(rt, EditKey(api_key, label="explain2"))
    assert key_service.get_key(rt, api_key).explain_signatures is True


def test_demo_keys_always_explain(rt: Runtime) -> None:
    entry = key_service.load_entry(rt, make_key(rt, demo=True)["apiKey"])
    assert entry is not None and not entry.explain_signatures and entry.explains


def _alembic(db: Database, target: str, *, down: bool = False) -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with db.engine.begin() as conn:
        config.attributes["connection"] = conn
        (command.downgrade if down else command.upgrade)(config, target)


def test_migration_0004_adds_the_setting_off_to_existing_keys(rt: Runtime) -> None:
    api_key = make_key(rt)["apiKey"]
    _alembic(rt.db, "0003", down=True)
    with rt.db.engine.connect() as conn:
        columns = list(conn.exec_driver_sql("SELECT * FROM api_keys").keys())
    assert "expires_ms" in columns
    assert "explain_signatures" not in columns
    _alembic(rt.db, "0004")
    assert rt.db.schema_revision() == "0004"
    _alembic(rt.db, "head")
    assert key_service.get_key(rt, api_key).explain_signatures is False


def test_key_edit_switches_it_and_key_list_json_shows_it(rt: Runtime) -> None:
    import json

    from typer.testing import CliRunner

    from keyseal.cli import app
    from tests.conftest import make_account

    email = make_account(rt)
    live = make_key(rt, email)["apiKey"]
    where = ["--home", str(rt.settings.home), "--db", rt.settings.db_url or ""]
    runner = CliRunner()

    def listed() -> dict[str, bool]:
        shown = runner.invoke(app, ["key", "list", "--account", email, "--json", *where],
                              env={"COLUMNS": "200"})
        assert shown.exit_code == 0, shown.output
        return {row["apiKey"]: row["explainSignatures"] for row in json.loads(shown.stdout)}

    assert listed() == {live: False}
    edited = runner.invoke(app, ["key", "edit", live, "--explain-signatures", "on", *where],
                           env={"COLUMNS": "200"})
    assert edited.exit_code == 0, edited.output
    assert "explains signatures" in edited.stdout
    assert listed() == {live: True}
    assert runner.invoke(app, ["key", "edit", live, "--explain-signatures", "off", "--json",
                               *where]).exit_code == 0
    assert listed() == {live: False}
    wrong = runner.invoke(app, ["key", "edit", live, "--explain-signatures", "maybe", *where])
    assert wrong.exit_code == 2
