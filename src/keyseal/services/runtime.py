"""What every service needs: settings, the database, the master keyring and a clock."""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import inspect

from keyseal.clock import Clock, millis, system_clock
from keyseal.crypto.keyring import KEY_FILE, MasterKeyring
from keyseal.domain.expiry import ExpiryPolicy
from keyseal.services.master_key_check import keyring_on_start, keys_from_environment, reload_keyring
from keyseal.settings import HomeUnusable, Settings, shown_db_url
from keyseal.store import master_keys as fingerprint_rows
from keyseal.store import meta
from keyseal.store.database import Database

EXPIRY_POLICY = "expiry_policy"
#: kernel views, where no file of the operator's can live
NOT_A_PLACE_FOR_A_HOME = (Path("/proc"), Path("/sys"))


@dataclass
class Runtime:
    settings: Settings
    db: Database
    ring: MasterKeyring = field(repr=False)
    clock: Clock = field(default=system_clock)
    #: called with the changes of each committed unit of work, so this process's caches
    #: hear of its own changes at once
    after_commit: list[Callable[[list[Any]], None]] = field(default_factory=list, repr=False)
    #: this process made the home: its master key, or only its folder when the master keys
    #: come from ``$KEYSEAL_MASTER_KEY``
    new_home: bool = False
    new_master_key: bool = False

    def now_ms(self) -> int:
        return millis(self.clock)

    @property
    def keyring(self) -> MasterKeyring:
        """The keyring to seal with. If another process (``keyseal master-key rotate``) has
        recorded a newer version, the key file is read again first, so a running server
        seals with the newest version without a restart (one indexed read per seal)."""
        with self.db.read() as conn:
            newest = fingerprint_rows.newest_version(conn)
        if newest is not None and newest > self.ring.current_version:
            self.ring = reload_keyring(self.settings, self.db)
        return self.ring

    @keyring.setter
    def keyring(self, ring: MasterKeyring) -> None:
        self.ring = ring

    def open_sealed(self, sealed: bytes, context: bytes) -> bytes:
        """Open a sealed value; if it was sealed under a master-key version this process has
        not loaded (the key was rotated while serving), reload the keyring once first."""
        if self.ring.version_of(sealed) not in self.ring.keys:
            self.ring = reload_keyring(self.settings, self.db)
        return self.ring.open(sealed, context)

    def close(self) -> None:
        self.db.dispose()


def open_runtime(settings: Settings, *, clock: Clock = system_clock, migrate: bool = True,
                 pooled: bool = True, reads_only: bool = False) -> Runtime:
    """Open the home: migrate the schema, then check the master keyring against the
    database's fingerprints. A new home (no key file, and a database with no sealed secret
    and no fingerprint) gets a new master key; ``Runtime.new_home`` says so.

    ``reads_only``: the command only reads, so a home that does not exist yet is refused
    (``HomeUnusable``) instead of created: a typo in ``--home`` must not make a new one."""
    check_home(settings, reads_only=reads_only)
    existed = settings.home.is_dir()
    database = sqlite_file(settings.db_url)
    if database is not None and settings.home in database.parents:  # Database makes its folder
        settings.home.mkdir(parents=True, exist_ok=True, mode=0o700)  # only the owner reads it
    db = Database(settings.db_url, pooled=pooled)
    try:
        with db.startup_lock():  # processes starting together migrate and bootstrap once
            if reads_only and not holds_keyseal_data(db):  # a read neither migrates nor claims
                raise no_database(settings)
            if migrate:
                db.upgrade_schema()
            # made only once the database has answered, so an unreachable one leaves nothing
            settings.home.mkdir(parents=True, exist_ok=True, mode=0o700)
            ring, created = keyring_on_start(settings, db, millis(clock))
        with db.read() as conn:
            stored = meta.get(conn, EXPIRY_POLICY)
    except BaseException:
        db.dispose()
        raise
    if stored is not None:
        settings.expiry = ExpiryPolicy.from_text(stored)
    rt = Runtime(settings, db, ring, clock, new_home=created or not existed,
                 new_master_key=created)
    from keyseal.services.change_push import install_publisher  # redis only when used

    install_publisher(rt)  # with Redis, every process hears of this one's changes at once
    return rt


def check_home(settings: Settings, *, reads_only: bool) -> None:
    """Refuse, before anything is created, a home (or a SQLite file) that cannot work."""
    home, database = settings.home, sqlite_file(settings.db_url)
    _check_folder(home, "--home (or $KEYSEAL_HOME)", writes=not reads_only)
    if database is not None:
        if database.parent != home:
            _check_folder(database.parent, "--db (or $KEYSEAL_DB)", writes=not reads_only,
                          place_of=database)
        if database.is_dir():
            raise HomeUnusable(f"{database} is a folder, not a database file; choose another "
                               "--db (or $KEYSEAL_DB)")
    if not reads_only:
        return
    if not keys_from_environment() and not (home / KEY_FILE).is_file():
        raise HomeUnusable(f"no Keyseal home at {home}; make one with `keyseal init --home "
                           f"{home}`, or pass the --home (or $KEYSEAL_HOME) of an existing one")
    if database is not None and not database.is_file():
        raise no_database(settings)


def no_database(settings: Settings) -> HomeUnusable:
    return HomeUnusable(f"no Keyseal database at {shown_db_url(settings.db_url)}; make one "
                        "with `keyseal init`, or pass the --db (or $KEYSEAL_DB) that holds "
                        "this home's data")


def _check_folder(folder: Path, option: str, *, writes: bool, place_of: Path | None = None
                  ) -> None:
    """``folder`` (the home, or the folder of ``place_of``) can be, or become, a folder this
    process may write to when it ``writes``."""
    where, named = f"choose another {option}", place_of or folder
    resolved = folder.resolve()
    for kernel in NOT_A_PLACE_FOR_A_HOME:
        if resolved == kernel or kernel in resolved.parents:
            raise HomeUnusable(f"{named} is under {kernel}, which the kernel makes up and "
                               f"where nothing can be stored; {where}")
    existing = next(p for p in (folder, *folder.parents) if p.exists())
    if not existing.is_dir():
        made = "" if existing == named else f", so {named} cannot be made"
        raise HomeUnusable(f"{existing} is a file, not a folder{made}; {where}")
    if writes and not os.access(existing, os.W_OK):
        raise HomeUnusable(f"{existing} is not writable, so {named} cannot be made; {where}, "
                           "or let this user write there")


def holds_keyseal_data(db: Database) -> bool:
    """Whether a Keyseal migration has ever run on ``db``."""
    with db.read() as conn:
        return inspect(conn).has_table("alembic_version")


def sqlite_file(db_url: str) -> Path | None:
    """The SQLite database's file (as ``Database`` opens it), or None for another database."""
    if not db_url.startswith("sqlite"):
        return None
    path = db_url.split("///", 1)[-1].split("?", 1)[0]
    return Path(path) if path and path != ":memory:" else None


def random_digits(count: int) -> str:
    """A numeric id of ``count`` digits without a leading zero, like OKX uids and order ids."""
    return str(secrets.randbelow(9 * 10 ** (count - 1)) + 10 ** (count - 1))
