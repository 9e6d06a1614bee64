"""The change follower against real out-of-order commits on PostgreSQL: a change-log id is
taken when its row is inserted, not when its transaction commits, so id N can become visible
after N+1. The follower must still apply N when it does."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack

import pytest

from keyseal.domain.keys import KeyStatus
from keyseal.http.background import ChangeFollower
from keyseal.http.state import build_state
from keyseal.services import keys as key_service
from keyseal.services.runtime import Runtime, open_runtime
from keyseal.settings import Settings
from keyseal.store import changes as change_rows
from keyseal.store import keys as key_rows
from tests.conftest import make_key


@pytest.fixture
def other(rt: Runtime) -> Iterator[Runtime]:
    """Another process on the same PostgreSQL database, where the changes are made."""
    if not rt.settings.db_url.startswith("postgresql"):
        pytest.skip("out-of-order commits are what PostgreSQL's sequences allow")
    runtime = open_runtime(Settings(home=rt.settings.home, db_url=rt.settings.db_url),
                           clock=rt.clock)
    yield runtime
    runtime.close()


def test_a_change_committed_after_a_later_one_is_still_applied(rt: Runtime,
                                                                other: Runtime) -> None:
    first, second = make_key(other)["apiKey"], make_key(other)["apiKey"]
    state = build_state(rt)
    follower = ChangeFollower(state)
    for api_key in (first, second):
        state.key_cache.put(api_key, key_service.load_entry(rt, api_key))
    with ExitStack() as a:
        conn_a = a.enter_context(other.db.write())
        key_rows.set_status(conn_a, first, KeyStatus.DISABLED)
        change_rows.record(conn_a, "disabled", other.now_ms(), api_key=first)  # takes id N
        with other.db.write() as conn_b:  # takes id N+1 and commits first
            key_rows.set_status(conn_b, second, KeyStatus.DISABLED)
            change_rows.record(conn_b, "disabled", other.now_ms(), api_key=second)
        follower.apply(*follower.poll(), now=0.0)
        assert state.key_cache.get(second) is None  # N+1 applied
        assert state.key_cache.get(first)  # N is not visible yet: still cached
    # transaction A commits now, after the follower has moved past N
    follower.apply(*follower.poll(), now=1.0)
    assert state.key_cache.get(first) is None
    assert key_service.load_entry(rt, first).frozen  # type: ignore[union-attr]


def test_a_key_created_in_a_transaction_that_commits_late_becomes_known(
        rt: Runtime, other: Runtime) -> None:
    state = build_state(rt)
    follower = ChangeFollower(state)
    late = "0f6d5a8e-1c1b-4d6a-9a55-3f1f2b7c9d01"
    with ExitStack() as a:
        conn_a = a.enter_context(other.db.write())
        change_rows.record(conn_a, "created", other.now_ms(), api_key=late)  # id N
        make_key(other)  # a whole key created and committed meanwhile: N+1 and later
        follower.apply(*follower.poll(), now=0.0)
        assert late not in state.known_keys
    follower.apply(*follower.poll(), now=1.0)
    assert late in state.known_keys  # its holder's first call is not refused as unknown


def test_a_change_still_uncommitted_when_the_server_starts_is_applied(rt: Runtime,
                                                                      other: Runtime) -> None:
    first, second = make_key(other)["apiKey"], make_key(other)["apiKey"]
    with ExitStack() as a:
        conn_a = a.enter_context(other.db.write())
        key_rows.set_status(conn_a, first, KeyStatus.DISABLED)
        change_rows.record(conn_a, "disabled", other.now_ms(), api_key=first)  # takes id N
        with other.db.write() as conn_b:  # N+1 commits first
            change_rows.record(conn_b, "edited", other.now_ms(), api_key=second)
        state = build_state(rt)  # the server starts while N is still open
        follower = ChangeFollower(state)
        state.key_cache.put(first, key_service.load_entry(rt, first))  # served, enabled
        follower.apply(*follower.poll())
        assert state.key_cache.get(first)
    follower.apply(*follower.poll())  # A commits after the server started
    assert state.key_cache.get(first) is None  # the disabled key is not served from the cache
