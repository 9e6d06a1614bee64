"""The change follower against out-of-order commits (what PostgreSQL's sequences allow)."""

from __future__ import annotations

from types import SimpleNamespace

from keyseal.http.background import ChangeFollower
from keyseal.services.changes import ChangeCursor
from keyseal.store.changes import Change


class FakeCache:
    def __init__(self) -> None:
        self.evicted: list[object] = []
        self.unknown_forgotten: list[str] = []

    def evict(self, key: object) -> None:
        self.evicted.append(key)

    def forget_unknown(self, key: str) -> None:
        self.unknown_forgotten.append(key)

    evict_account = evict


class FakeKnownKeys(set[str]):
    add = set.add
    discard = set.discard


def follower() -> ChangeFollower:
    from keyseal.http.state import ServerState

    closed: list[dict[str, object]] = []
    state = SimpleNamespace(
        key_cache=FakeCache(), balances=FakeCache(), closed=closed, known_keys=FakeKnownKeys(),
        close_sessions=lambda **which: closed.append(which), changes=ChangeCursor(0),
        rt=SimpleNamespace(settings=SimpleNamespace(expiry=None)))
    state.forget = lambda changes: ServerState.forget(state, changes)  # type: ignore[arg-type]
    return ChangeFollower(state)  # type: ignore[arg-type]


def test_a_change_committed_after_a_later_one_is_still_applied() -> None:
    f = follower()
    f.apply([Change(2, "disabled", "key-b", None)], now=0.0)  # id 1 is still uncommitted
    assert f.state.key_cache.evicted == ["key-b"] and list(f.state.changes.gaps) == [1]
    f.apply([Change(1, "disabled", "key-a", None)], now=1.0)  # it commits later
    assert f.state.key_cache.evicted == ["key-b", "key-a"] and f.state.changes.gaps == {}


def test_a_gap_left_by_a_rollback_is_given_up_after_the_timeout() -> None:
    f = follower()
    f.apply([Change(3, "enabled", "k", None)], now=0.0)
    assert sorted(f.state.changes.gaps) == [1, 2]
    f.apply([], now=29.0)
    assert sorted(f.state.changes.gaps) == [1, 2]
    f.apply([], now=30.0)
    assert f.state.changes.gaps == {}


def test_only_account_wide_changes_scan_the_cache() -> None:
    f = follower()
    f.apply([Change(1, "created", "k1", 7), Change(2, "ledger", None, 7),
             Change(3, "restricted", None, 7)], now=0.0)
    # a created key only loses a "no such key" mark (an entry loaded since is fresh); the
    # restricted account's keys are dropped
    assert f.state.key_cache.unknown_forgotten == ["k1"]
    assert f.state.key_cache.evicted == [7]
    assert f.state.balances.evicted == [7]
    # WebSocket sessions of the changed key, and of the restricted account, are closed
    assert f.state.closed == [{"api_key": "k1"}, {"account_id": 7}]
    assert f.state.known_keys == {"k1"}  # a created key is known at once


def test_a_deleted_or_swept_key_is_no_longer_known() -> None:
    f = follower()
    f.apply([Change(1, "created", "k1", 7), Change(2, "created", "k2", 7)], now=0.0)
    f.apply([Change(3, "deleted", "k1", 7), Change(4, "expired", "k2", 7)], now=0.0)
    assert f.state.known_keys == set()
