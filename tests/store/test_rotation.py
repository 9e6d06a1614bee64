"""Rotation under the same key id (issue 11 item 5), on SQLite and PostgreSQL: the services,
what the store holds (never a secret in the clear), the sweeper's retirements, refusals that
change nothing, the master-key reseal, and migration 0005 on a database that has keys."""

from __future__ import annotations

from typing import Any

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import MetaData, select

from keyseal import errors
from keyseal.clock import ManualClock
from keyseal.domain.actors import Actor
from keyseal.domain.commands import (
    FinishRotation,
    RetireOldSecrets,
    RotateKey,
    SetKeyStatus,
    SetRestricted,
)
from keyseal.domain.keys import Environment, KeyStatus, parse_grace
from keyseal.services import accounts as account_service
from keyseal.services import audit
from keyseal.services import keys as key_service
from keyseal.services import master_keys as master_key_service
from keyseal.services.runtime import Runtime
from keyseal.store.database import MIGRATIONS, SCHEMA_HEAD, Database
from keyseal.store.master_keys import sealed_versions
from tests.conftest import make_account, make_key

HOUR_MS = 3_600_000
NEW_PASS = "Rotated-Pass2"


def _state(rt: Runtime) -> dict[str, Any]:
    """Everything a refused rotation must leave as it was."""
    with rt.db.read() as conn:
        tables = MetaData()
        tables.reflect(conn, only=["api_keys", "audit_events", "key_changes"])
        return {name: [tuple(row) for row in conn.execute(select(table))]
                for name, table in tables.tables.items()}


def _everything_stored(rt: Runtime) -> str:
    """Every value of every table, as text: where a secret in the clear would show."""
    with rt.db.read() as conn:
        tables = MetaData()
        tables.reflect(conn)
        return "\n".join(repr(tuple(row)) for table in tables.tables.values()
                         for row in conn.execute(select(table)))


def _entry(rt: Runtime, api_key: str) -> Any:
    entry = key_service.load_entry(rt, api_key)
    assert entry is not None
    return entry


def test_a_rotation_keeps_the_old_secret_verifying_beside_the_new_one(rt: Runtime) -> None:
    key = make_key(rt)
    rotated = key_service.rotate_key(rt, RotateKey(key["apiKey"], new_passphrase=NEW_PASS))
    assert rotated.key.api_key == key["apiKey"] and rotated.secret_key != key["secretKey"]
    assert rotated.passphrase == NEW_PASS and "***" in repr(rotated)
    assert rotated.old_until_ms == rt.now_ms() + 7 * 24 * HOUR_MS  # the default grace
    entry = _entry(rt, key["apiKey"])
    assert entry.secret == rotated.secret_key.encode()
    assert entry.previous.secret == key["secretKey"].encode()
    assert entry.previous.ends_ms == rt.now_ms() + 24 * HOUR_MS  # silent since the rotation
    assert key_service.passphrase_matches(entry.passphrase_hash, NEW_PASS)
    assert key_service.passphrase_matches(entry.previous.passphrase_hash, key["passphrase"])
    rotation = key_service.get_key(rt, key["apiKey"]).rotation
    assert rotation is not None and rotation.old_live and rotation.new_passphrase
    # neither secret, nor either passphrase, is stored or audited in the clear
    stored = _everything_stored(rt)
    for secret in (key["secretKey"], rotated.secret_key, key["passphrase"], NEW_PASS):
        assert secret not in stored
    [event] = [e for e in audit.events(rt, api_key=key["apiKey"]) if e.event == "key_rotated"]
    assert event.actor.startswith("operator") and event.details["new_passphrase"] is True
    assert event.details["old_secret_until_ms"] == rotated.old_until_ms


def test_without_a_new_passphrase_both_secrets_keep_the_current_one(rt: Runtime) -> None:
    key = make_key(rt)
    rotated = key_service.rotate_key(rt, RotateKey(key["apiKey"]))
    assert rotated.passphrase is None
    entry = _entry(rt, key["apiKey"])
    assert entry.previous.passphrase_hash is None  # the gate checks the key's own
    assert key_service.passphrase_matches(entry.passphrase_hash, key["passphrase"])


def test_refused_rotations_change_nothing(rt: Runtime) -> None:
    email = make_account(rt)
    key = make_key(rt, email)
    other = make_key(rt)
    master = account_service.account_by_email(rt, email)
    stranger_email = make_account(rt)  # another account's own key, acting for it
    stranger_key = make_key(rt, stranger_email)["apiKey"]
    stranger = Actor.api(stranger_key, account_service.account_by_email(rt, stranger_email).id,
                         Environment.LIVE, "9.9.9.9")
    before = _state(rt)
    with pytest.raises(errors.OkxError) as unknown:
        key_service.rotate_key(rt, RotateKey("0b4e7a52-5b8e-4d0a-9a55-2f1f0d9e9c11"))
    assert unknown.value.code == "59506"
    with pytest.raises(errors.OkxError) as foreign:
        key_service.rotate_key(rt, RotateKey(other["apiKey"], actor=stranger))
    assert foreign.value.code == "59506"  # someone else's key answers as if it did not exist
    with pytest.raises(errors.OkxError) as weak:
        key_service.rotate_key(rt, RotateKey(key["apiKey"], new_passphrase="weak"))
    assert weak.value.code == "59505"
    assert _state(rt) == before
    key_service.set_key_status(rt, SetKeyStatus(key["apiKey"], KeyStatus.DISABLED))
    before = _state(rt)
    with pytest.raises(errors.OkxError) as disabled:
        key_service.rotate_key(rt, RotateKey(key["apiKey"]))
    assert disabled.value.code == "70020"
    assert _state(rt) == before
    key_service.set_key_status(rt, SetKeyStatus(key["apiKey"], KeyStatus.ENABLED))
    account_service.set_restricted(rt, SetRestricted(email, True))
    before = _state(rt)
    with pytest.raises(errors.OkxError) as restricted:
        key_service.rotate_key(rt, RotateKey(key["apiKey"]))
    assert restricted.value.code == "70002"
    assert _state(rt) == before
    account_service.set_restricted(rt, SetRestricted(email, False))
    assert master.id == key_service.get_key(rt, key["apiKey"]).account_id


def test_a_second_rotation_during_the_overlap_is_refused_unless_forced(rt: Runtime) -> None:
    key = make_key(rt)
    first = key_service.rotate_key(rt, RotateKey(key["apiKey"]))
    before = _state(rt)
    with pytest.raises(errors.OkxError) as busy:
        key_service.rotate_key(rt, RotateKey(key["apiKey"]))
    assert busy.value.code == "70021" and "UTC" in busy.value.message
    assert _state(rt) == before
    second = key_service.rotate_key(rt, RotateKey(key["apiKey"], force=True))
    entry = _entry(rt, key["apiKey"])
    assert entry.secret == second.secret_key.encode()
    assert entry.previous.secret == first.secret_key.encode()  # the very first one is gone
    [event] = [e for e in audit.events(rt, api_key=key["apiKey"])
               if e.event == "key_rotated" and e.details["replaced_previous"]]
    assert event.details["label"] == key["label"]


def test_an_old_secret_past_its_time_but_not_yet_swept_does_not_block_a_rotation(
        rt: Runtime, clock: ManualClock) -> None:
    key = make_key(rt)
    key_service.rotate_key(rt, RotateKey(key["apiKey"]))
    clock.advance(24 * 3600)  # silent for a day: no longer verifies, still on the row
    assert key_service.get_key(rt, key["apiKey"]).rotation.old_live  # type: ignore[union-attr]
    second = key_service.rotate_key(rt, RotateKey(key["apiKey"]))
    assert _entry(rt, key["apiKey"]).secret == second.secret_key.encode()


def test_a_grace_of_zero_replaces_the_secret_at_once(rt: Runtime) -> None:
    key = make_key(rt)
    rotated = key_service.rotate_key(rt, RotateKey(key["apiKey"], grace_ms=0))
    assert rotated.old_until_ms is None
    assert _entry(rt, key["apiKey"]).previous is None
    rotation = key_service.get_key(rt, key["apiKey"]).rotation
    assert rotation is not None and not rotation.old_live and rotation.ended_ms == rt.now_ms()
    key_service.rotate_key(rt, RotateKey(key["apiKey"]))  # nothing in an overlap: allowed


def test_finish_ends_the_overlap_and_says_so_once(rt: Runtime) -> None:
    key = make_key(rt)
    key_service.rotate_key(rt, RotateKey(key["apiKey"]))
    finished = key_service.finish_rotation(rt, FinishRotation(key["apiKey"]))
    assert finished.rotation is not None and not finished.rotation.old_live
    assert _entry(rt, key["apiKey"]).previous is None
    with pytest.raises(errors.OkxError) as again:
        key_service.finish_rotation(rt, FinishRotation(key["apiKey"]))
    assert again.value.code == "70022"
    [event] = [e for e in audit.events(rt, api_key=key["apiKey"])
               if e.event == "key_old_secret_retired"]
    assert event.actor.startswith("operator") and event.details["reason"] == "finished"


def test_the_sweeper_retires_a_silent_old_secret(rt: Runtime, clock: ManualClock) -> None:
    key = make_key(rt)
    quiet = make_key(rt)
    for k in (key, quiet):
        key_service.rotate_key(rt, RotateKey(k["apiKey"]))
    clock.advance(20 * 3600)
    used_at = rt.now_ms()
    key_service.record_usage(rt, [(key["apiKey"], used_at, "1.2.3.4")],
                             [(key["apiKey"], used_at, "1.2.3.4")])
    rotation = key_service.get_key(rt, key["apiKey"]).rotation
    assert rotation is not None
    assert (rotation.old_last_used_ms, rotation.old_last_used_ip) == (used_at, "1.2.3.4")
    assert key_service.old_secret_ends_at(rt, key_service.get_key(rt, key["apiKey"])) == \
        used_at + 24 * HOUR_MS
    clock.advance(4 * 3600)  # the quiet key's old secret: 24 h unused since the rotation
    assert [k.api_key for k in key_service.retire_old_secrets(
        rt, RetireOldSecrets(dry_run=True))] == [quiet["apiKey"]]
    assert [k.api_key for k in key_service.retire_old_secrets(rt)] == [quiet["apiKey"]]
    assert _entry(rt, quiet["apiKey"]).previous is None
    assert _entry(rt, key["apiKey"]).previous is not None  # used 4 h ago
    [event] = [e for e in audit.events(rt, api_key=quiet["apiKey"])
               if e.event == "key_old_secret_retired"]
    assert event.actor == "system:sweeper" and event.details["reason"] == "silent"
    clock.advance(20 * 3600)
    assert [k.api_key for k in key_service.retire_old_secrets(rt)] == [key["apiKey"]]
    assert key_service.retire_old_secrets(rt) == []
    # the record of its last use stays, for `key list`
    rotation = key_service.get_key(rt, key["apiKey"]).rotation
    assert rotation is not None and rotation.old_last_used_ip == "1.2.3.4"


def test_the_sweeper_retires_an_old_secret_at_its_grace_deadline_however_used(
        rt: Runtime, clock: ManualClock) -> None:
    key = make_key(rt)
    key_service.rotate_key(rt, RotateKey(key["apiKey"], grace_ms=parse_grace("36h")))
    for _ in range(3):  # used every 12 h: never silent
        clock.advance(12 * 3600 - 1)
        key_service.record_usage(rt, [], [(key["apiKey"], rt.now_ms(), "5.6.7.8")])
        assert key_service.retire_old_secrets(rt) == []
    clock.advance(3)
    [retired] = key_service.retire_old_secrets(rt)
    assert retired.api_key == key["apiKey"]
    [event] = [e for e in audit.events(rt, api_key=key["apiKey"])
               if e.event == "key_old_secret_retired"]
    assert event.details["reason"] == "grace" and event.details["old_last_used_ip"] == "5.6.7.8"


def test_grace_parsing() -> None:
    assert parse_grace("7d") == 7 * 24 * HOUR_MS and parse_grace("36h") == 36 * HOUR_MS
    assert parse_grace("90m") == 90 * 60_000 and parse_grace("2") == 48 * HOUR_MS
    assert parse_grace("0") == 0
    for bad in ("soon", "-1d", "91d", "1w"):
        with pytest.raises(errors.OkxError):
            parse_grace(bad)


def test_master_key_rotation_reseals_the_old_secret_too(rt: Runtime) -> None:
    key = make_key(rt)
    key_service.rotate_key(rt, RotateKey(key["apiKey"]))
    master_key_service.rotate(rt)
    with rt.db.read() as conn:
        assert set(sealed_versions(conn)) == {2}  # nothing is left under v1
    master_key_service.retire(rt, 1)
    entry = _entry(rt, key["apiKey"])
    assert entry.previous.secret == key["secretKey"].encode()


def _alembic(db: Database, target: str, *, down: bool = False) -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with db.engine.begin() as conn:
        config.attributes["connection"] = conn
        (command.downgrade if down else command.upgrade)(config, target)


def test_migration_0005_upgrades_a_database_with_keys(rt: Runtime) -> None:
    keys = [make_key(rt) for _ in range(3)]
    _alembic(rt.db, "0004", down=True)
    assert rt.db.schema_revision() == "0004"
    with rt.db.engine.connect() as conn:
        columns = set(conn.exec_driver_sql("SELECT * FROM api_keys").keys())
    assert "explain_signatures" in columns and "prev_secret_sealed" not in columns
    _alembic(rt.db, "head")
    assert rt.db.schema_revision() == SCHEMA_HEAD  # 0005 and whatever came after it
    for key in keys:
        assert key_service.get_key(rt, key["apiKey"]).rotation is None
        assert _entry(rt, key["apiKey"]).secret == key["secretKey"].encode()
    rotated = key_service.rotate_key(rt, RotateKey(keys[0]["apiKey"]))
    assert _entry(rt, keys[0]["apiKey"]).previous.secret == keys[0]["secretKey"].encode()
    assert _entry(rt, keys[0]["apiKey"]).secret == rotated.secret_key.encode()
