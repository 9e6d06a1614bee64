"""What every service needs: settings, the database, the master keyring and a clock."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from keyseal.clock import Clock, millis, system_clock
from keyseal.crypto.keyring import MasterKeyring
from keyseal.domain.expiry import ExpiryPolicy
from keyseal.services.master_key_check import keyring_on_start, reload_keyring
from keyseal.settings import Settings
from keyseal.store import master_keys as fingerprint_rows
from keyseal.store import meta
from keyseal.store.database import Database

EXPIRY_POLICY = "expiry_policy"


@dataclass
class Runtime:
    settings: Settings
    db: Database
    ring: MasterKeyring = field(repr=False)
    clock: Clock = field(default=system_clock)
    #: called with the changes of each committed unit of work, so this process's caches
    #: hear of its own changes at once
    after_commit: list[Callable[[list[Any]], None]] = field(default_factory=list, repr=False)
    #: this process made the home's master key (a new home)
    new_home: bool = False

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
                 pooled: bool = True) -> Runtime:
    """Open the home: migrate the schema, then check the master keyring against the
    database's fingerprints. A new home (no key file, and a database with no sealed secret
    and no fingerprint) gets a new master key; ``Runtime.new_home`` says so."""
    settings.home.mkdir(parents=True, exist_ok=True, mode=0o700)  # only the owner reads it
    db = Database(settings.db_url, pooled=pooled)
    try:
        with db.startup_lock():  # processes starting together migrate and bootstrap once
            if migrate:
                db.upgrade_schema()
            ring, created = keyring_on_start(settings, db, millis(clock))
        with db.read() as conn:
            stored = meta.get(conn, EXPIRY_POLICY)
    except BaseException:
        db.dispose()
        raise
    if stored is not None:
        settings.expiry = ExpiryPolicy.from_text(stored)
    return Runtime(settings, db, ring, clock, new_home=created)


def random_digits(count: int) -> str:
    """A numeric id of ``count`` digits without a leading zero, like OKX uids and order ids."""
    return str(secrets.randbelow(9 * 10 ** (count - 1)) + 10 ** (count - 1))
