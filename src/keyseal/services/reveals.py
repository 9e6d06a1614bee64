"""The one-time reveal of a created key. Between the POST that created the key and the one
page that shows it (a redirect apart, so a reload never re-submits the form), the API key,
secret and passphrase wait in the session's row, sealed with the master key under a context
naming that session; the first read clears them in the same transaction, and anything unread
is refused after ``MAX_AGE_MS``. Kept in the database rather than in memory, the reveal works
whichever worker or host serves the page after the redirect."""

from __future__ import annotations

import orjson

from keyseal.domain.keys import CreatedKey
from keyseal.services.keys import get_key
from keyseal.services.runtime import Runtime
from keyseal.services.web_sessions import session_hash
from keyseal.store import web_sessions as session_rows

MAX_AGE_MS = 120_000


def _context(id_hash: str) -> bytes:
    return b"reveal:" + id_hash.encode()


def hold(rt: Runtime, session_token: str, created: CreatedKey) -> None:
    id_hash = session_hash(session_token)
    plain = orjson.dumps({"apiKey": created.key.api_key, "secretKey": created.secret_key,
                          "passphrase": created.passphrase})
    sealed = rt.keyring.seal(plain, _context(id_hash))
    with rt.db.write() as conn:
        session_rows.hold_reveal(conn, id_hash, sealed, rt.now_ms() + MAX_AGE_MS)


def take(rt: Runtime, session_token: str) -> CreatedKey | None:
    """The session's pending reveal, removed as it is read; None when there is none, it was
    read already, or it waited too long."""
    id_hash = session_hash(session_token)
    with rt.db.write() as conn:
        found = session_rows.take_reveal(conn, id_hash)
    if found is None:
        return None
    sealed, until_ms = found
    if rt.now_ms() > until_ms:
        return None
    held = orjson.loads(rt.keyring.open(sealed, _context(id_hash)))
    return CreatedKey(get_key(rt, held["apiKey"]), held["secretKey"], held["passphrase"])
