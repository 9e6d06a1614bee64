"""Master-key use cases: rotate to a new version, re-seal every secret under the newest one.

The CLI reaches the keyring and the sealed rows only through here, so an entry point never
touches ``keyseal.crypto`` or ``keyseal.store`` itself."""

from __future__ import annotations

import os

from sqlalchemy import Connection

from keyseal import errors
from keyseal.crypto.keyring import MASTER_KEY_ENV, MasterKeyring, save_keyring
from keyseal.services.accounts import totp_context
from keyseal.services.runtime import Runtime
from keyseal.store import accounts as account_rows
from keyseal.store import keys as key_rows


def keys_from_environment() -> bool:
    """Whether the master keys come from ``$KEYSEAL_MASTER_KEY`` (then the operator rotates)."""
    return bool(os.environ.get(MASTER_KEY_ENV))


def rotate(rt: Runtime) -> int:
    """Add a new master-key version, save it, and re-seal every secret under it; returns how
    many secrets changed."""
    if keys_from_environment():
        raise errors.MASTER_KEYS_FROM_ENVIRONMENT(
            "add a new version there ('1:<old>,2:<new>') and run `keyseal master-key reseal`")
    # the new version is on disk before anything is sealed with it
    rt.keyring = rt.keyring.with_new_version()
    save_keyring(rt.settings.home, rt.keyring)
    return reseal_all(rt)


def reseal_all(rt: Runtime) -> int:
    """Re-seal every API secret and TOTP seed under the keyring's newest master key, in one
    transaction; returns how many changed. Older versions can be retired afterwards."""
    ring = rt.keyring
    with rt.db.write() as conn:
        return reseal_api_secrets(conn, ring) + reseal_totp_seeds(conn, ring)


def reseal_api_secrets(conn: Connection, ring: MasterKeyring) -> int:
    changed = 0
    for api_key, sealed in key_rows.all_sealed_secrets(conn):
        if ring.version_of(sealed) != ring.current_version:
            context = api_key.encode()
            key_rows.replace_sealed_secret(conn, api_key, ring.seal(ring.open(sealed, context),
                                                                    context))
            changed += 1
    return changed


def reseal_totp_seeds(conn: Connection, ring: MasterKeyring) -> int:
    """Re-seal every TOTP seed (active or pending) under the newest master key."""
    changed = 0
    for account, sealed, pending in account_rows.sealed_totp_seeds(conn):
        fresh = {}
        for column, blob in (("totp_sealed", sealed), ("totp_pending_sealed", pending)):
            if blob is not None and ring.version_of(blob) != ring.current_version:
                context = totp_context(account)
                fresh[column] = ring.seal(ring.open(blob, context), context)
        if fresh:
            account_rows.set_fields(conn, account.id, **fresh)
            changed += 1
    return changed
