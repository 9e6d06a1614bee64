"""The packed id set answers as a plain set would, through adds, removals and repacks."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from keyseal.gate import id_set
from keyseal.gate.id_set import PackedIdSet

ids = st.integers(min_value=0, max_value=2**128 - 1)
small = st.integers(min_value=0, max_value=40)  # collide often
value = st.one_of(ids, small)


@given(st.lists(value, max_size=30), st.lists(st.tuples(st.booleans(), value), max_size=80),
       st.lists(value, max_size=20))
def test_same_answers_as_a_set(start: list[int], changes: list[tuple[bool, int]],
                               probes: list[int]) -> None:
    packed, model = PackedIdSet(start), set(start)
    for adding, v in changes:
        if adding:
            packed.add(v)
            model.add(v)
        else:
            packed.discard(v)
            model.discard(v)
        assert len(packed) == len(model)
    for v in [*probes, *start, *(v for _, v in changes)]:
        assert (v in packed) == (v in model)


def test_repacks_keep_every_answer(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(id_set, "_MIN_PENDING", 3)  # repack every few changes
    packed, model = PackedIdSet(range(0, 100, 2)), set(range(0, 100, 2))
    for v in range(100):
        (packed.discard if v % 3 == 0 else packed.add)(v)
        (model.discard if v % 3 == 0 else model.add)(v)
        assert all((w in packed) == (w in model) for w in range(101)) and len(packed) == len(model)


def test_out_of_range_is_never_a_member() -> None:
    packed = PackedIdSet([1])
    assert -1 not in packed and 2**128 not in packed
