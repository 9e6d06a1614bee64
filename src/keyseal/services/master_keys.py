"""Master-key use cases: rotate to a new version, re-seal every secret under the newest one,
retire a version no secret uses, list the versions.

The CLI reaches the keyring and the sealed rows only through here, so an entry point never
touches ``keyseal.crypto`` or ``keyseal.store`` itself. The database records each version's
fingerprint in the same transaction as the secrets it seals (decision 0005)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Connection
from sqlalchemy.exc import SQLAlchemyError

from keyseal import errors
from keyseal.crypto.keyring import MasterKeyring, fingerprint, save_keyring
from keyseal.services.accounts import totp_context
from keyseal.services.master_key_check import key_file, keys_from_environment
from keyseal.services.runtime import Runtime
from keyseal.store import accounts as account_rows
from keyseal.store import keys as key_rows
from keyseal.store import master_keys as fingerprint_rows


class RotationFailed(Exception):
    """The database or the key file failed during a rotation; nothing changed."""


@dataclass(frozen=True, slots=True)
class MasterKeyVersion:
    version: int
    fingerprint: str  #: an HMAC under the key, safe to show; never the key
    created_ms: int
    sealed: int  #: how many secrets it seals now


def key_file_of(rt: Runtime) -> Path:
    """Where this home's key file is (what the operator must back up)."""
    return key_file(rt.settings.home)


def versions(rt: Runtime) -> list[MasterKeyVersion]:
    with rt.db.read() as conn:
        used = fingerprint_rows.sealed_versions(conn)
        return [MasterKeyVersion(v, fp, created, used[v])
                for v, fp, created in fingerprint_rows.versions(conn)]


def rotate(rt: Runtime) -> int:
    """Add a new master-key version and re-seal every secret under it, all or nothing:
    returns how many secrets changed. If anything fails, the database and the key file keep
    the versions they had."""
    if keys_from_environment():
        raise errors.MASTER_KEYS_FROM_ENVIRONMENT(
            "add a new version there ('1:<old>,2:<new>') and run `keyseal master-key reseal`")
    old = rt.keyring
    new = old.with_new_version()
    saved = False
    try:
        with rt.db.write() as conn:
            fingerprint_rows.record(conn, new.current_version,
                                    fingerprint(new.keys[new.current_version]), rt.now_ms())
            changed = reseal_api_secrets(conn, new) + reseal_totp_seeds(conn, new)
            # on disk before the commit makes any row need the new version
            save_keyring(rt.settings.home, new)
            saved = True
    except BaseException as failure:
        if saved:  # the commit failed: no row uses the new version, so the file drops it
            save_keyring(rt.settings.home, old)
        if isinstance(failure, OSError | SQLAlchemyError):
            raise RotationFailed(str(failure).splitlines()[0]) from failure
        raise
    rt.keyring = new
    return changed


def reseal_all(rt: Runtime) -> int:
    """Re-seal every API secret and TOTP seed under the keyring's newest master key, in one
    transaction; returns how many changed. Older versions can be retired afterwards."""
    ring = rt.keyring
    with rt.db.write() as conn:
        recorded = fingerprint_rows.fingerprints(conn)
        for version, print_ in sorted(ring.fingerprints().items()):
            if version not in recorded:  # e.g. added to $KEYSEAL_MASTER_KEY by the operator
                fingerprint_rows.record(conn, version, print_, rt.now_ms())
        return reseal_api_secrets(conn, ring) + reseal_totp_seeds(conn, ring)


def retire(rt: Runtime, version: int) -> None:
    """Remove a master-key version no secret uses from the database and the key file."""
    if keys_from_environment():
        raise errors.MASTER_KEYS_FROM_ENVIRONMENT(f"remove v{version} from it and restart")
    with rt.db.write() as conn:
        recorded = fingerprint_rows.fingerprints(conn)
        if version not in recorded:
            raise errors.MASTER_KEY_UNKNOWN(version)
        if version == max(recorded):
            raise errors.MASTER_KEY_NEWEST(version)
        used = fingerprint_rows.sealed_versions(conn)[version]
        if used:
            raise errors.MASTER_KEY_IN_USE(version, used)
        fingerprint_rows.forget(conn, version)
    # committed first: a crash before the file is saved leaves an unrecorded version in it,
    # which is ignored; the other order could leave the database needing a deleted key
    rt.keyring = rt.ring.without(version)
    save_keyring(rt.settings.home, rt.ring)


def reseal_api_secrets(conn: Connection, ring: MasterKeyring) -> int:
    changed = 0
    for api_key, sealed in key_rows.all_sealed_secrets(conn):
        if ring.version_of(sealed) != ring.current_version:
            context = api_key.encode()
            key_rows.replace_sealed_secret(conn, api_key, ring.seal(ring.open(sealed, context),
                                                                    context))
            changed += 1
    for api_key, sealed in key_rows.all_sealed_previous_secrets(conn):  # rotations' overlaps
        if ring.version_of(sealed) != ring.current_version:
            context = api_key.encode()
            key_rows.replace_sealed_previous_secret(
                conn, api_key, ring.seal(ring.open(sealed, context), context))
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
