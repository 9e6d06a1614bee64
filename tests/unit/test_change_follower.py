"""The change follower against out-of-order commits (what PostgreSQL's sequences allow)."""

from __future__ import annotations

from types import SimpleNamespace

from keyseal.store.changes import Change


class FakeCache:
    def __init__(self) -> None:
        self.evicted: list[object] = []

    def evict(self, key: object) -> None:
        self.evicted.append(key)

    evict_account = evict


def follower():  # type: ignore[no-untyped-def]
    from keyseal.http.background import ChangeFollower

    made = ChangeFollower.__new__(ChangeFollower)
    closed: list[dict[str, object]] = []
    from keyseal.http.state import ServerState

    made.state = state = SimpleNamespace(
        key_cache=FakeCache(), balances=FakeCache(), closed=closed,
        close_sessions=lambda **which: closed.append(which),
        rt=SimpleNamespace(settings=SimpleNamespace(expiry=None)))
    state.forget = lambda changes: ServerState.forget(state, changes)  # type: ignore[arg-type]
    made.last_id = 0
    made._gaps = {}
    made._gap_timeout_s = 30.0
    return made


def test_a_change_committed_after_a_later_one_is_still_applied() -> None:
    f = follower()
    f.apply([Change(2, "disabled", "key-b", None)], now=0.0)  # id 1 is still uncommitted
    assert f.state.key_cache.evicted == ["key-b"] and list(f._gaps) == [1]
    f.apply([Change(1, "disabled", "key-a", None)], now=1.0)  # it commits later
    assert f.state.key_cache.evicted == ["key-b", "key-a"] and f._gaps == {}


def test_a_gap_left_by_a_rollback_is_given_up_after_the_timeout() -> None:
    f = follower()
    f.apply([Change(3, "enabled", "k", None)], now=0.0)
    assert sorted(f._gaps) == [1, 2]
    f.apply([], now=29.0)
    assert sorted(f._gaps) == [1, 2]
    f.apply([], now=30.0)
    assert f._gaps == {}


def test_only_account_wide_changes_scan_the_cache() -> None:
    f = follower()
    f.apply([Change(1, "created", "k1", 7), Change(2, "ledger", None, 7),
             Change(3, "restricted", None, 7)], now=0.0)
    assert f.state.key_cache.evicted == ["k1", 7]  # the key, then the restricted account
    assert f.state.balances.evicted == [7]
    # WebSocket sessions of the changed key, and of the restricted account, are closed
    assert f.state.closed == [{"api_key": "k1"}, {"account_id": 7}]
