"""An exact set of 128-bit key ids in 16 bytes each: a sorted, packed base and two small
sets of changes since it was packed.

A Python set of ints costs ~120 bytes an id (the int object and its slot): 120 MB a process
for a million keys. Here the ids live in one ``bytes`` of sorted big-endian values, searched
by bisection; ids added or removed since are kept apart and folded in when they grow past a
sixteenth of the base. Membership is asked only on a key-cache miss, never on the warm path,
so a few microseconds of bisection cost nothing that counts."""

from __future__ import annotations

from collections.abc import Iterable

_WIDTH = 16
#: changes kept apart before the base is packed again (at least this many, or base/16)
_MIN_PENDING = 4096


class PackedIdSet:
    def __init__(self, ids: Iterable[int] = ()) -> None:
        self._pack(sorted(set(ids)))

    def _pack(self, ordered: list[int]) -> None:
        self._base = b"".join(v.to_bytes(_WIDTH, "big") for v in ordered)
        self._count = len(ordered)
        self._added: set[int] = set()
        self._removed: set[int] = set()

    def _in_base(self, value: int) -> bool:
        wanted, base = value.to_bytes(_WIDTH, "big"), self._base
        low, high = 0, self._count
        while low < high:
            mid = (low + high) // 2
            found = base[mid * _WIDTH:(mid + 1) * _WIDTH]
            if found < wanted:
                low = mid + 1
            elif found > wanted:
                high = mid
            else:
                return True
        return False

    def __contains__(self, value: int) -> bool:
        if value < 0 or value >> (8 * _WIDTH):
            return False
        if value in self._added:
            return True
        return value not in self._removed and self._in_base(value)

    def add(self, value: int) -> None:
        if value < 0 or value >> (8 * _WIDTH):
            raise ValueError("not a 128-bit id")
        if value in self._removed:
            self._removed.discard(value)
        elif not self._in_base(value):
            self._added.add(value)
        self._maybe_repack()

    def discard(self, value: int) -> None:
        if value in self._added:
            self._added.discard(value)
        elif value >= 0 and not value >> (8 * _WIDTH) and self._in_base(value):
            self._removed.add(value)
        self._maybe_repack()

    def _maybe_repack(self) -> None:
        if len(self._added) + len(self._removed) > max(_MIN_PENDING, self._count // 16):
            kept = (int.from_bytes(self._base[i:i + _WIDTH], "big")
                    for i in range(0, len(self._base), _WIDTH))
            self._pack(sorted({v for v in kept if v not in self._removed} | self._added))

    def __len__(self) -> int:
        return self._count - len(self._removed) + len(self._added)
