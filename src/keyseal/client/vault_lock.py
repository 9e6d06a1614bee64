"""The vault's write lock: an exclusive ``flock`` on ``<vault>.lock`` beside it.

A writer holds it while it re-reads the vault, applies its changes and replaces the file, so
two processes saving at once take turns instead of one overwriting the other. The vault itself
cannot carry the lock, because every save replaces it with a new file. ``flock`` locks die with
their holder, so a crashed writer never leaves the vault locked; the lock file stays (deleting
it would let two writers lock two different files).
"""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from keyseal.client.errors import VaultLocked

#: How long a writer waits for another writer; a save takes milliseconds.
WAIT_SECONDS = 10.0
_POLL_SECONDS = 0.02


def lock_path(path: Path) -> Path:
    return path.with_name(path.name + ".lock")


@contextmanager
def locked(path: Path) -> Iterator[None]:
    """Hold the write lock of the vault at ``path``; raise VaultLocked if it stays taken."""
    lock = lock_path(path)
    lock.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(lock, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        _acquire(fd, lock)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock


def _acquire(fd: int, lock: Path) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if time.monotonic() >= deadline:
                raise VaultLocked(
                    f"Another keyseal process{_holder(lock)} has held the write lock {lock} "
                    f"for over {WAIT_SECONDS:g} s. Nothing was written; run the command again "
                    "when it has finished.") from None
            time.sleep(_POLL_SECONDS)
        else:
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()}\n".encode("ascii"))
            return


def _holder(lock: Path) -> str:
    """`` (pid N)`` as the holder wrote it into the lock file, if it did."""
    try:
        pid = lock.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        return ""
    return f" (pid {pid})" if pid.isdigit() else ""
