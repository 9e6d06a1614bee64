"""Which master keyring a process may use: the one whose fingerprints the database records.

A process whose keyring does not match refuses to start, so a second home on one database
can never make a second master key. A new keyring is made only for a database that holds no
sealed secret and records no fingerprint.
"""

from __future__ import annotations

import hmac
import os
from pathlib import Path

from keyseal import errors
from keyseal.crypto.keyring import (
    KEY_FILE,
    MASTER_KEY_ENV,
    KeyFileExposed,
    MasterKeyring,
    SealError,
    create_key_file,
    load_keyring,
    new_keyring,
)
from keyseal.settings import Settings
from keyseal.store import master_keys as fingerprint_rows
from keyseal.store.database import Database


def keys_from_environment() -> bool:
    """Whether the master keys come from ``$KEYSEAL_MASTER_KEY`` (then the operator rotates)."""
    return bool(os.environ.get(MASTER_KEY_ENV))


def key_file(home: Path) -> Path:
    return home / KEY_FILE


def key_source(home: Path) -> str:
    """Where the keys are looked for, as messages name it."""
    return f"${MASTER_KEY_ENV}" if keys_from_environment() else str(home)


def read_keyring(home: Path) -> MasterKeyring | None:
    try:
        return load_keyring(home)
    except KeyFileExposed as exposed:
        raise errors.MASTER_KEY_FILE_EXPOSED(exposed.path) from None
    except ValueError as bad:  # the messages name the form expected, never a key
        raise errors.MASTER_KEY_UNREADABLE(key_source(home), bad) from None


def keyring_on_start(settings: Settings, db: Database, now_ms: int
                     ) -> tuple[MasterKeyring, bool]:
    """The keyring checked against the database, and whether it was just made (a new home).
    Call it holding ``db.startup_lock()``, so that processes starting together agree."""
    home = settings.home
    ring = read_keyring(home)
    with db.read() as conn:
        recorded = fingerprint_rows.fingerprints(conn)
        sealed = not recorded and fingerprint_rows.holds_sealed_rows(conn)
        sample = None if recorded else fingerprint_rows.one_sealed_secret(conn)
    created = False
    if ring is None:
        if recorded or sealed:
            raise errors.MASTER_KEY_MISSING(key_source(home))
        ring = new_keyring()
        try:
            create_key_file(home, ring)
            created = True
        except FileExistsError:  # written since we looked: use that one
            ring = read_keyring(home) or ring
    ring = checked(ring, recorded, home)
    if sample is not None:  # sealed before fingerprints existed: this keyring must open it
        api_key, blob = sample
        try:
            ring.open(blob, api_key.encode())
        except SealError:
            raise errors.MASTER_KEY_MISMATCH(key_source(home), ring.version_of(blob)) from None
    unrecorded = {v: fp for v, fp in ring.fingerprints().items() if v not in recorded}
    if unrecorded:
        with db.write() as conn:
            for version, print_ in sorted(unrecorded.items()):
                fingerprint_rows.record(conn, version, print_, now_ms)
    return ring, created


def reload_keyring(settings: Settings, db: Database) -> MasterKeyring:
    """The keyring read again (another process rotated it), checked against the database."""
    ring = read_keyring(settings.home)
    if ring is None:
        raise errors.MASTER_KEY_MISSING(key_source(settings.home))
    with db.read() as conn:
        recorded = fingerprint_rows.fingerprints(conn)
    return checked(ring, recorded, settings.home)


def checked(ring: MasterKeyring, recorded: dict[int, str], home: Path) -> MasterKeyring:
    """``ring`` if it holds every version the database records, each with its fingerprint.

    A key file's versions that the database does not record were left by a rotation that
    never committed (no row uses them): they are ignored, so they never seal. Versions that
    ``$KEYSEAL_MASTER_KEY`` adds are the operator's rotation, and are kept."""
    prints = ring.fingerprints()
    for version, recorded_print in sorted(recorded.items()):
        if version not in prints:
            raise errors.MASTER_KEY_VERSION_MISSING(key_source(home), version)
        if not hmac.compare_digest(prints[version], recorded_print):
            raise errors.MASTER_KEY_MISMATCH(key_source(home), version)
    if recorded and not keys_from_environment():
        return ring.only(set(recorded))
    return ring

