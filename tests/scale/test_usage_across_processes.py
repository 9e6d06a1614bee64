"""Last-used time across processes: each process writes its own batches (one write per key
per interval), in whatever order they commit; the latest use wins (the update only moves a
key's last use forward, atomically per row), on PostgreSQL as on SQLite."""

from __future__ import annotations

import random
import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from keyseal.crypto.keyring import KEY_FILE
from keyseal.services import keys as key_service
from keyseal.services.runtime import open_runtime
from keyseal.settings import Settings
from tests.conftest import START, make_key


def test_the_latest_use_wins_whichever_process_writes_last(tmp_path: Path,
                                                           pg_database: str) -> None:
    first = open_runtime(Settings(home=tmp_path / "a", db_url=pg_database))
    (tmp_path / "b").mkdir(mode=0o700)
    shutil.copy2(tmp_path / "a" / KEY_FILE, tmp_path / "b" / KEY_FILE)  # mode 0600 kept
    second = open_runtime(Settings(home=tmp_path / "b", db_url=pg_database))
    try:
        keys = [make_key(first)["apiKey"] for _ in range(5)]
        base = int(START * 1000)
        rng = random.Random(7)
        # 40 batches per process, each with a use of every key at a random time: 80 batches
        # committed concurrently from two processes' pools, in no particular order
        batches = [(rt, [(k, base + rng.randrange(100_000), f"10.0.{n % 250}.{i}")
                         for i, k in enumerate(keys)])
                   for n in range(40) for rt in (first, second)]
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(lambda job: key_service.record_usage(job[0], job[1]), batches))
        for i, api_key in enumerate(keys):
            latest = max((use for _, batch in batches for use in batch if use[0] == api_key),
                         key=lambda use: use[1])
            for rt in (first, second):
                stored = key_service.get_key(rt, api_key)
                assert (stored.last_used_ms, stored.last_used_ip) == (latest[1], latest[2])
    finally:
        first.close()
        second.close()
