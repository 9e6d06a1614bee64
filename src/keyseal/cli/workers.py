"""``keyseal serve --workers N``: N processes forked after the port is bound, so they all
accept on the one socket (the kernel spreads the connections), each with its own database
connections and caches; the parent only supervises.

SIGTERM or SIGINT to the parent is passed to every worker, which drains its requests and
writes its usage (uvicorn's graceful shutdown, then the app's lifespan); the parent waits for
them all. A worker that dies on its own is started again, at most once per second."""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import time
from collections.abc import Callable
from types import FrameType

log = logging.getLogger("keyseal.workers")
#: a worker that dies sooner than this after its start is not restarted at once
_RESTART_PAUSE_S = 1.0


def supervise(count: int, serve: Callable[[], None]) -> int:
    """Run ``serve`` in ``count`` forked workers until asked to stop; the exit code."""
    stopping = False
    started: dict[int, float] = {}

    def fork() -> None:
        pid = os.fork()
        if pid == 0:  # the worker
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            code = 0
            try:
                serve()
            except SystemExit as exit_:
                code = exit_.code if isinstance(exit_.code, int) else 1
            except BaseException:
                log.exception("worker %d failed", os.getpid())
                code = 1
            finally:
                logging.shutdown()
                os._exit(code)
        started[pid] = time.monotonic()

    def stop(signum: int, _frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True
        for pid in started:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signum)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    for _ in range(count):
        fork()
    failed = False
    while started:
        try:
            pid, status = os.wait()
        except ChildProcessError:
            break
        except InterruptedError:
            continue
        began = started.pop(pid, None)
        if began is None or stopping:
            failed = failed or os.waitstatus_to_exitcode(status) not in (0, -signal.SIGTERM)
            continue
        log.warning("worker %d exited (%s); starting another", pid,
                    os.waitstatus_to_exitcode(status))
        time.sleep(max(0.0, _RESTART_PAUSE_S - (time.monotonic() - began)))
        if not stopping:
            fork()
    return 1 if failed else 0
