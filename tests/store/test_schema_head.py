"""The schema's newest revision, as the store knows it without loading Alembic."""

from __future__ import annotations

from alembic.config import Config
from alembic.script import ScriptDirectory

from keyseal.services.runtime import Runtime
from keyseal.store.database import MIGRATIONS, SCHEMA_HEAD


def test_the_known_head_is_alembics_head() -> None:
    """A new migration must move SCHEMA_HEAD too, or databases would stop being upgraded."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    assert ScriptDirectory.from_config(config).get_heads() == [SCHEMA_HEAD]


def test_a_migrated_database_is_at_the_head_and_a_new_one_has_no_revision(rt: Runtime) -> None:
    assert rt.db.schema_revision() == SCHEMA_HEAD
    with rt.db.write() as conn:
        conn.exec_driver_sql("DELETE FROM alembic_version")
    assert rt.db.schema_revision() is None
