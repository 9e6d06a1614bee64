"""Readiness: can this process serve? Its database answers, the schema is at the newest
migration, and the master keys it holds are the ones the database records."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from keyseal import errors
from keyseal.services.master_key_check import reload_keyring
from keyseal.services.runtime import Runtime
from keyseal.store.database import SCHEMA_HEAD

log = logging.getLogger("keyseal.health")


@dataclass(frozen=True, slots=True)
class Check:
    name: str
    ok: bool
    #: what failed and what to do; never a secret (database URLs are not named)
    detail: str = ""


def readiness(rt: Runtime) -> list[Check]:
    """The three checks, in order; a check after a failed database is reported as not run."""
    try:
        with rt.db.read() as conn:
            conn.exec_driver_sql("SELECT 1")
    except Exception as failure:
        # the driver's words name hosts, addresses and users: for the log, not for whoever
        # can reach /readyz
        reason = str(getattr(failure, "orig", None) or failure).strip().splitlines()
        log.warning("readiness: the database does not answer: %s",
                    (reason or ["unknown error"])[0][:200])
        not_run = "not checked: the database does not answer"
        return [Check("database", False, f"the database does not answer ({type(failure).__name__}"
                      "); the server's log says why"),
                Check("migrations", False, not_run), Check("master_key", False, not_run)]
    checks = [Check("database", True)]
    revision = rt.db.schema_revision()
    checks.append(Check("migrations", True) if revision == SCHEMA_HEAD else Check(
        "migrations", False, f"the schema is at {revision or 'nothing'}, this Keyseal needs "
        f"{SCHEMA_HEAD}; restart `keyseal serve` (it migrates) or run the newer Keyseal"))
    try:
        reload_keyring(rt.settings, rt.db)
    except errors.OkxError as mismatch:
        checks.append(Check("master_key", False, mismatch.message))
    else:
        checks.append(Check("master_key", True))
    return checks
