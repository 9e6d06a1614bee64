"""Master-key fingerprints, and which versions the sealed rows use. Never a key."""

from __future__ import annotations

from collections import Counter

from sqlalchemy import Connection, delete, func, insert, select

from keyseal.store.tables import accounts, api_keys, master_keys

_HEADER_BYTES = 2  # a sealed value starts with its master-key version, big-endian


def fingerprints(conn: Connection) -> dict[int, str]:
    rows = conn.execute(select(master_keys.c.version, master_keys.c.fingerprint))
    return {r.version: r.fingerprint for r in rows}


def versions(conn: Connection) -> list[tuple[int, str, int]]:
    """(version, fingerprint, created_ms) of every version, oldest first."""
    rows = conn.execute(select(master_keys).order_by(master_keys.c.version))
    return [(r.version, r.fingerprint, r.created_ms) for r in rows]


def newest_version(conn: Connection) -> int | None:
    return conn.execute(select(func.max(master_keys.c.version))).scalar_one_or_none()


def record(conn: Connection, version: int, fingerprint: str, now_ms: int) -> None:
    conn.execute(insert(master_keys).values(version=version, fingerprint=fingerprint,
                                            created_ms=now_ms))


def forget(conn: Connection, version: int) -> None:
    conn.execute(delete(master_keys).where(master_keys.c.version == version))


def one_sealed_secret(conn: Connection) -> tuple[str, bytes] | None:
    """Any one sealed API secret and its key id, to test a keyring against."""
    row = conn.execute(select(api_keys.c.api_key, api_keys.c.secret_sealed).limit(1)).first()
    return None if row is None else (row.api_key, row.secret_sealed)


def holds_sealed_rows(conn: Connection) -> bool:
    """Whether any API secret or TOTP seed is sealed here (then no new key may be made)."""
    if conn.execute(select(api_keys.c.api_key).limit(1)).first() is not None:
        return True
    seeded = accounts.c.totp_sealed.is_not(None) | accounts.c.totp_pending_sealed.is_not(None)
    return conn.execute(select(accounts.c.id).where(seeded).limit(1)).first() is not None


def sealed_versions(conn: Connection) -> Counter[int]:
    """How many sealed values use each master-key version (reads every sealed row)."""
    used: Counter[int] = Counter()
    for blob, previous in conn.execute(select(api_keys.c.secret_sealed,
                                              api_keys.c.prev_secret_sealed)):
        for sealed in (blob, previous):  # a rotated key's previous secret, while it verifies
            if sealed is not None:
                used[int.from_bytes(sealed[:_HEADER_BYTES], "big")] += 1
    for sealed, pending in conn.execute(select(accounts.c.totp_sealed,
                                               accounts.c.totp_pending_sealed)):
        for blob in (sealed, pending):
            if blob is not None:
                used[int.from_bytes(blob[:_HEADER_BYTES], "big")] += 1
    return used
