"""What every service needs: settings, the database, the master keyring and a clock."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from keyseal.clock import Clock, millis, system_clock
from keyseal.crypto.keyring import MasterKeyring, load_keyring
from keyseal.domain.expiry import ExpiryPolicy
from keyseal.settings import Settings
from keyseal.store import meta
from keyseal.store.database import Database

EXPIRY_POLICY = "expiry_policy"


@dataclass
class Runtime:
    settings: Settings
    db: Database
    keyring: MasterKeyring
    clock: Clock = field(default=system_clock)
    #: called with the changes of each committed unit of work, so this process's caches
    #: hear of its own changes at once
    after_commit: list[Callable[[list[Any]], None]] = field(default_factory=list, repr=False)

    def now_ms(self) -> int:
        return millis(self.clock)

    def open_sealed(self, sealed: bytes, context: bytes) -> bytes:
        """Open a sealed value; if it was sealed under a master-key version this process has
        not loaded (the key was rotated while serving), reload the keyring once first."""
        if self.keyring.version_of(sealed) not in self.keyring.keys:
            self.keyring = load_keyring(self.settings.home)
        return self.keyring.open(sealed, context)

    def close(self) -> None:
        self.db.dispose()


def open_runtime(settings: Settings, *, clock: Clock = system_clock, migrate: bool = True,
                 pooled: bool = True) -> Runtime:
    """Open the home: create it if new, load (or create) the master key, migrate the schema."""
    settings.home.mkdir(parents=True, exist_ok=True, mode=0o700)  # only the owner reads it
    db = Database(settings.db_url, pooled=pooled)
    if migrate:
        db.migrate()
    with db.read() as conn:
        stored = meta.get(conn, EXPIRY_POLICY)
    if stored is not None:
        settings.expiry = ExpiryPolicy.from_text(stored)
    return Runtime(settings, db, load_keyring(settings.home), clock)


def random_digits(count: int) -> str:
    """A numeric id of ``count`` digits without a leading zero, like OKX uids and order ids."""
    return str(secrets.randbelow(9 * 10 ** (count - 1)) + 10 ** (count - 1))
